"""Segment-compatible tracking API: /v1/batch and /v1/{identify,track,page,screen,group,alias}.

A 200 means every accepted message is committed to the intake log (fsync'd) — the response
waits for the group commit. Messages that fail validation in a batch are reported by index
and reason while the valid ones are stored (Segment's convention of answering 200 for a
batch); a request with nothing valid, bad JSON or a bad key gets a 4xx JSON error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cvm.api.deps import ServicesDep, authorize, key_from_header
from cvm.api.schemas.collect import BATCH_SCHEMA, MESSAGE_SCHEMA, CollectResponse, request_body
from cvm.api.services import Services
from cvm.collect.errors import MalformedRequestError, PayloadTooLargeError
from cvm.collect.intake_rows import intake_row
from cvm.collect.normalize import MAX_EVENT_BYTES, TYPES
from cvm.collect.request import MAX_BATCH_BYTES, ParsedRequest, parse_batch, parse_single
from cvm.core.errors import CvmError

router = APIRouter(prefix="/v1", tags=["collect"])


class StorageUnavailableError(CvmError):
    """The intake log could not commit: the client should retry (Segment SDKs do on 5xx)."""

    http_status = 503


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is larger than {limit // 1024} KB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body is larger than {limit // 1024} KB")
        chunks.append(chunk)
    return b"".join(chunks)


async def _store(request: Request, services: Services, parsed: ParsedRequest) -> JSONResponse:
    header_key = key_from_header(request.headers.get("authorization"))
    key = authorize(services, header_key or parsed.write_key, "write")
    rejected = [{"index": r.index, "reason": r.reason} for r in parsed.rejections]
    rejects = [
        {"received_at": parsed.received_at, "key_id": key.id, "batch_index": r.index,
         "type": r.type, "reason": r.reason[:500]}
        for r in parsed.rejections
    ]  # fmt: skip
    if not parsed.accepted:
        await services.committer.commit(
            [], rejects
        )  # keep the reasons; nothing is dropped silently
        raise MalformedRequestError("no valid message in the request", rejected)
    try:
        await services.committer.commit([intake_row(parsed, key.id)], rejects)
    except Exception:
        raise StorageUnavailableError("could not store the events; retry later") from None
    body: dict[str, Any] = {"success": True, "accepted": parsed.accepted, "rejected": rejected}
    return JSONResponse(body)


@router.post(
    "/batch",
    response_model=CollectResponse,
    openapi_extra=request_body(BATCH_SCHEMA),
    summary="Send many messages (Segment /v1/batch)",
)
async def batch(request: Request, services: ServicesDep) -> JSONResponse:
    # Check a header key before spending time on the body.
    if request.headers.get("authorization"):
        authorize(services, key_from_header(request.headers.get("authorization")), "write")
    raw = await _read_body(request, MAX_BATCH_BYTES)
    parsed = parse_batch(raw, request.headers.get("content-encoding"))
    return await _store(request, services, parsed)


def _single(kind: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request, services: ServicesDep) -> JSONResponse:
        if request.headers.get("authorization"):
            authorize(services, key_from_header(request.headers.get("authorization")), "write")
        raw = await _read_body(request, MAX_EVENT_BYTES)
        parsed = parse_single(raw, request.headers.get("content-encoding"), kind)
        return await _store(request, services, parsed)

    endpoint.__name__ = kind
    return endpoint


for _kind in TYPES:
    router.add_api_route(
        f"/{_kind}",
        _single(_kind),
        methods=["POST"],
        response_model=CollectResponse,
        openapi_extra=request_body(MESSAGE_SCHEMA),
        summary=f"Send one {_kind} message (Segment /v1/{_kind})",
    )
