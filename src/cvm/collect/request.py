"""Check one HTTP request body: decompress, parse, validate every message (pure).

The request path validates; it does not rewrite. What goes into the intake log is the body
as received (decompressed, with any ``writeKey`` secret blanked) plus the indexes of the
refused messages; the loader normalises the rest with the same function, so what was
accepted at the door is exactly what is loaded. This keeps the per-request work to one JSON
parse and one validation pass.

Limits are Segment's: 32 KB per message and 500 KB per request, checked on the
decompressed body (a gzip bomb stops at the limit, never inflates further). The size of each
message in a large batch is measured on the text as sent, by a second scan of the body that
records where each array element starts and ends.
"""

from __future__ import annotations

import json
import re
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
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass
class ParsedRequest:
    received_at: datetime
    body: str  # what the intake log stores
    kind: str | None  # None for /v1/batch, else the single endpoint's type
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    write_key: str | None = None  # `writeKey` in the body, as Segment also accepts
    user_ids: list[str] = field(default_factory=list)


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


def _load_object(data: bytes) -> tuple[str, dict[str, Any]]:
    try:
        text = data.decode("utf-8")
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError) as err:
        raise MalformedRequestError(f"malformed JSON: {err}") from None
    if not isinstance(body, dict):
        raise MalformedRequestError("request body must be a JSON object")
    return text, body


def batch_element_sizes(text: str) -> list[int]:
    """Characters taken by each element of the top-level ``batch`` array (valid JSON only)."""
    sizes: list[int] = []
    pos = _SPACE.match(text, 0).end() + 1  # type: ignore[union-attr]  # past "{"
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos] == "}":
            return sizes
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end() + 1  # type: ignore[union-attr]  # past ":"
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if key == "batch" and text[pos] == "[":
            sizes = []
            pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            while text[pos] != "]":
                _, end = _DECODER.raw_decode(text, pos)
                sizes.append(end - pos)
                pos = _SPACE.match(text, end).end()  # type: ignore[union-attr]
                if text[pos] == ",":
                    pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            pos += 1
        else:
            _, pos = _DECODER.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos] == ",":
            pos += 1


def _write_key(body: dict[str, Any]) -> str | None:
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def _strip_secret(text: str, secret: str | None) -> str:
    # The key is a secret; only its hash may be kept. Keys are URL-safe, never escaped in JSON.
    return text.replace(secret, "*") if secret else text


def batch_context(body: dict[str, Any]) -> tuple[datetime | None, dict[str, Any] | None]:
    try:
        sent_at = parse_time(body.get("sentAt"))
    except ValueError:
        raise MalformedRequestError("sentAt is not an ISO 8601 time") from None
    shared = body.get("context")
    return sent_at, shared if isinstance(shared, dict) else None


def normalize_batch(
    body: dict[str, Any], received_at: datetime, fallback_prefix: str, sizes: list[int] | None
) -> list[NormalizedEvent | Rejection]:
    """Every message of a `/v1/batch` body, in order (the request check and the loader)."""
    sent_at, shared = batch_context(body)
    results: list[NormalizedEvent | Rejection] = []
    for index, message in enumerate(body["batch"]):
        if sizes is not None and index < len(sizes) and sizes[index] > MAX_EVENT_BYTES:
            results.append(Rejection(index, "event is larger than 32 KB"))
            continue
        own = message.get("context") if isinstance(message, dict) else None
        if shared and isinstance(message, dict) and isinstance(own or {}, dict):
            # A batch-level context applies to every message that does not override it.
            message = {**message, "context": {**shared, **(own or {})}}
        results.append(
            normalize_message(
                message, index=index, received_at=received_at, batch_sent_at=sent_at,
                fallback_id=f"{fallback_prefix}-{index}",
            )
        )  # fmt: skip
    return results


def parse_batch(
    raw: bytes, content_encoding: str | None, received_at: datetime | None = None
) -> ParsedRequest:
    """A `/v1/batch` body: `{"batch": [...], "sentAt": ..., "context": ...}`."""
    data = decode_body(raw, content_encoding, MAX_BATCH_BYTES)
    text, body = _load_object(data)
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise MalformedRequestError("batch must be a JSON array of messages")
    if not batch:
        raise MalformedRequestError("batch is empty")
    now = received_at or datetime.now(UTC).replace(tzinfo=None)
    sizes = batch_element_sizes(text) if len(data) > MAX_EVENT_BYTES else None
    key = _write_key(body)
    parsed = ParsedRequest(received_at=now, body=_strip_secret(text, key), kind=None, write_key=key)
    for result in normalize_batch(body, now, "check", sizes):
        if isinstance(result, Rejection):
            parsed.rejections.append(result)
        else:
            parsed.accepted += 1
    return parsed


def parse_single(
    raw: bytes, content_encoding: str | None, kind: str, received_at: datetime | None = None
) -> ParsedRequest:
    """A `/v1/<type>` body: one message; its problems are the request's problems (4xx)."""
    text, body = _load_object(decode_body(raw, content_encoding, MAX_EVENT_BYTES))
    now = received_at or datetime.now(UTC).replace(tzinfo=None)
    result = normalize_single(body, kind, now, "check")
    if isinstance(result, Rejection):
        raise MalformedRequestError(result.reason)
    key = _write_key(body)
    return ParsedRequest(now, _strip_secret(text, key), kind, accepted=1, write_key=key)


def normalize_single(
    body: dict[str, Any], kind: str, received_at: datetime, fallback_id: str
) -> NormalizedEvent | Rejection:
    return normalize_message(
        body, index=0, received_at=received_at, batch_sent_at=None, forced_type=kind,
        fallback_id=fallback_id,
    )  # fmt: skip
