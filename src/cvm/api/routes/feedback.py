"""Survey answers (NPS, CSAT): `POST /v1/surveys/responses`, with a write key.

A 200 means every accepted answer is committed to the intake log, like collected events (the
response waits for the group commit). Each answer is stored as a ``Survey Responded`` track
event (`cvm.feedback.intake`), so identity resolution, event triggers and the warehouse load
are the collection pipeline's; after each loader batch the answers are copied into
`survey_responses` (`install`). Refused answers are listed by index, field and reason while
the valid ones are stored; a request with nothing valid is a 400.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from cvm.api.deps import ServicesDep, authorize, key_from_header
from cvm.api.services import Services
from cvm.collect.errors import MalformedRequestError
from cvm.collect.intake_rows import intake_row
from cvm.collect.request import parse_batch
from cvm.core.contracts import SURVEY_RESPONSES
from cvm.core.errors import CvmError
from cvm.feedback.intake import survey_batch
from cvm.feedback.responses import on_loaded_batch

router = APIRouter(prefix="/v1/surveys", tags=["feedback"])


class StorageUnavailableError(CvmError):
    """The intake log could not commit: the client should retry."""

    http_status = 503


def install(services: Services) -> None:
    """Copy answers into `survey_responses` after every loader micro-batch."""
    services.workspace.engine.ensure_table(SURVEY_RESPONSES)
    services.loader.batch_hooks.append(on_loaded_batch(services.workspace.engine))


@router.post("/responses", summary="Store NPS / CSAT survey answers (a batch)")
async def post_responses(
    request: Request, body: dict[str, Any], services: ServicesDep
) -> JSONResponse:
    key = authorize(services, key_from_header(request.headers.get("authorization")), "write")
    try:
        batch = survey_batch(body)
    except ValueError as err:
        raise MalformedRequestError(str(err)) from None
    refused = [r.as_dict() for r in batch.refusals]
    if not batch.messages:
        raise MalformedRequestError("no valid response in the request", refused)
    raw = json.dumps(batch.body(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        parsed = parse_batch(raw, None)
    except CvmError as err:  # over the intake's size limits
        raise MalformedRequestError(
            f"responses too large for one request ({err.message})"
        ) from None
    if parsed.rejections:  # cannot happen after our checks; never store half-checked answers
        reasons = [{"index": r.index, "reason": r.reason} for r in parsed.rejections]
        raise MalformedRequestError("responses could not be stored as events", reasons)
    try:
        await services.committer.commit([intake_row(parsed, key.id)])
    except Exception:
        raise StorageUnavailableError("could not store the responses; retry later") from None
    return JSONResponse({"success": True, "accepted": len(batch.messages), "rejected": refused})


def include(app: FastAPI, services: Services) -> None:
    """Mount the route and its loader hook (one call from `cvm.api.app.create_app`)."""
    app.include_router(router)
    install(services)
