"""Turn one HTTP request body into normalised events and per-message rejections (pure).

Limits are Segment's: 32 KB per message and 500 KB per batch request, checked on the
decompressed body (a gzip bomb stops at the limit, never inflates further).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cvm.collect.errors import MalformedRequestError, PayloadTooLargeError
from cvm.collect.normalize import (
    MAX_EVENT_BYTES,
    NormalizedEvent,
    Rejection,
    normalize_message,
    parse_time,
)

MAX_BATCH_BYTES = 500 * 1024


@dataclass
class ParsedRequest:
    events: list[NormalizedEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    write_key: str | None = None  # `writeKey` in the body, as Segment also accepts


def decode_body(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Decompress (gzip or deflate) and enforce the size limit on what comes out."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        data = raw
    elif encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 47 = auto-detect zlib or gzip header.
        inflater = zlib.decompressobj(wbits=47 if encoding != "deflate" else 15)
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as err:
            raise MalformedRequestError(f"body is not valid {encoding} ({err})") from None
    else:
        raise MalformedRequestError(f"unsupported Content-Encoding {content_encoding!r}")
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"request body is larger than {limit // 1024} KB"
            + (" (the limit for one message)" if limit == MAX_EVENT_BYTES else "")
        )
    return data


def _load_object(data: bytes) -> dict[str, object]:
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise MalformedRequestError(f"malformed JSON: {err}") from None
    if not isinstance(body, dict):
        raise MalformedRequestError("request body must be a JSON object")
    return body


def _write_key(body: dict[str, object]) -> str | None:
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def parse_batch(
    raw: bytes, content_encoding: str | None, received_at: datetime | None = None
) -> ParsedRequest:
    """A `/v1/batch` body: `{"batch": [...], "sentAt": ..., "context": ...}`."""
    body = _load_object(decode_body(raw, content_encoding, MAX_BATCH_BYTES))
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise MalformedRequestError("batch must be a JSON array of messages")
    if not batch:
        raise MalformedRequestError("batch is empty")
    now = received_at or datetime.now(UTC).replace(tzinfo=None)
    try:
        sent_at = parse_time(body.get("sentAt"))
    except ValueError:
        raise MalformedRequestError("sentAt is not an ISO 8601 time") from None
    raw_context = body.get("context")
    shared_context: dict[str, Any] | None = raw_context if isinstance(raw_context, dict) else None
    parsed = ParsedRequest(write_key=_write_key(body))
    for index, message in enumerate(batch):
        own_context = message.get("context") if isinstance(message, dict) else None
        if shared_context and isinstance(message, dict) and isinstance(own_context or {}, dict):
            # A batch-level context applies to every message that does not override it.
            message = {**message, "context": {**shared_context, **(own_context or {})}}
        result = normalize_message(message, index=index, received_at=now, batch_sent_at=sent_at)
        if isinstance(result, Rejection):
            parsed.rejections.append(result)
        else:
            parsed.events.append(result)
    return parsed


def parse_single(
    raw: bytes, content_encoding: str | None, kind: str, received_at: datetime | None = None
) -> ParsedRequest:
    """A `/v1/<type>` body: one message; its problems are the request's problems (4xx)."""
    body = _load_object(decode_body(raw, content_encoding, MAX_EVENT_BYTES))
    now = received_at or datetime.now(UTC).replace(tzinfo=None)
    result = normalize_message(body, index=0, received_at=now, batch_sent_at=None, forced_type=kind)
    if isinstance(result, Rejection):
        if "32 KB" in result.reason:
            raise PayloadTooLargeError(result.reason)
        raise MalformedRequestError(result.reason)
    return ParsedRequest(events=[result], write_key=_write_key(body))
