"""Shapes of the Segment-compatible collection endpoints (for the OpenAPI docs).

The endpoints parse bodies themselves (gzip, size limits, per-message errors), so these
models document the contract rather than validate it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_ID = {"type": ["string", "number"], "maxLength": 200}
MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Segment-spec message. userId or anonymousId is required.",
    "properties": {
        "type": {
            "type": "string",
            "enum": ["identify", "track", "page", "screen", "group", "alias"],
        },
        "messageId": {**_ID, "description": "Deduplication key; generated when absent."},
        "userId": _ID,
        "anonymousId": _ID,
        "previousId": {**_ID, "description": "alias only"},
        "groupId": {**_ID, "description": "group only"},
        "event": {"type": "string", "description": "track only: the event name"},
        "name": {"type": "string", "description": "page/screen name"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "context": {"type": "object", "description": "context.traits are read as traits"},
        "timestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
    },
}
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": MESSAGE_SCHEMA, "maxItems": 10_000},
        "sentAt": {"type": "string", "format": "date-time"},
        "context": {"type": "object", "description": "merged into every message's context"},
        "writeKey": {"type": "string", "description": "alternative to HTTP Basic auth"},
    },
}


def request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class RejectedMessage(BaseModel):
    index: int = Field(description="Position in the batch (0 for single calls).")
    reason: str


class CollectResponse(BaseModel):
    success: bool = True
    accepted: int = Field(description="Messages durably stored (or already stored: duplicates).")
    rejected: list[RejectedMessage] = Field(default_factory=list)
