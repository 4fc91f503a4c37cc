"""Validate and normalise one Segment-spec message (pure: no I/O).

Clock skew, as Segment documents it: a device clock can be wrong, but the *difference* between
when the event happened (``timestamp``) and when the batch left the device (``sentAt``) is
measured on that same clock, so it is right. The event therefore happened that long before the
server received the request::

    occurred_at = receivedAt - (sentAt - timestamp)

Without ``sentAt`` the client's ``timestamp`` is taken as is; without either, ``receivedAt``.
A corrected time later than ``receivedAt`` (``sentAt`` before ``timestamp``) is clamped to it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

MAX_EVENT_BYTES = 32 * 1024
MAX_ID_LENGTH = 200
TYPES = ("identify", "track", "page", "screen", "group", "alias")
_CHANNELS = {"browser": "web", "web": "web", "mobile": "app", "app": "app", "server": "server"}


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    type: str | None = None


@dataclass(frozen=True)
class NormalizedEvent:
    index: int  # position in the request
    message_id: str
    type: str
    user_id: str | None
    anonymous_id: str | None
    occurred_at: datetime
    received_at: datetime
    message: dict[str, Any]  # the normalised message (what the loader reads)


def parse_time(value: object) -> datetime | None:
    """ISO 8601 text (with `Z` or an offset) → naive UTC; None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("not an ISO 8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def correct_skew(
    timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """Segment's correction: receivedAt − (sentAt − timestamp), never after receivedAt."""
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    return min(received_at - (sent_at - timestamp), received_at)


def _as_id(value: object, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{field} must be a string or a number")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise ValueError(f"{field} is longer than {MAX_ID_LENGTH} characters")
    return text


def _as_object(message: dict[str, Any], field: str) -> dict[str, Any]:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a JSON object")
    return value


@lru_cache(maxsize=256)  # receivedAt and sentAt repeat for every message of a batch
def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


def normalize_message(
    message: object,
    *,
    index: int,
    received_at: datetime,
    batch_sent_at: datetime | None,
    forced_type: str | None = None,
    fallback_id: str | None = None,
) -> NormalizedEvent | Rejection:
    """One message → a normalised event, or the reason it was refused.

    `fallback_id` names a message sent without messageId; it must be stable (the loader
    derives it from the intake row and position) so a reload cannot duplicate the event.
    """
    if not isinstance(message, dict):
        return Rejection(index, "message must be a JSON object")
    kind = forced_type or message.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        return Rejection(index, f"unknown type {kind!r}; expected one of {', '.join(TYPES)}")
    try:
        return _normalize(message, kind, index, received_at, batch_sent_at, fallback_id)
    except ValueError as err:
        return Rejection(index, str(err), kind)


def _normalize(
    message: dict[str, Any],
    kind: str,
    index: int,
    received_at: datetime,
    batch_sent_at: datetime | None,
    fallback_id: str | None,
) -> NormalizedEvent | Rejection:
    user_id = _as_id(message.get("userId"), "userId")
    anonymous_id = _as_id(message.get("anonymousId"), "anonymousId")
    previous_id = _as_id(message.get("previousId"), "previousId")
    if kind == "alias":
        if user_id is None or previous_id is None:
            return Rejection(index, "alias needs both userId and previousId", kind)
    elif user_id is None and anonymous_id is None:
        return Rejection(index, "userId or anonymousId is required", kind)
    event_name = message.get("event")
    if kind == "track" and (not isinstance(event_name, str) or not event_name.strip()):
        return Rejection(index, "track needs a non-empty event name", kind)
    group_id = _as_id(message.get("groupId"), "groupId")
    if kind == "group" and group_id is None:
        return Rejection(index, "group needs a groupId", kind)
    context = _as_object(message, "context")
    properties = _as_object(message, "properties")
    # Traits may come at the top level (identify, group) or in context.traits (any call).
    context_traits = context.get("traits") or {}
    if not isinstance(context_traits, dict):
        raise ValueError("context.traits must be a JSON object")
    top_traits = _as_object(message, "traits")
    # A group call's top-level traits describe the group (a company), not the person.
    traits = dict(context_traits) if kind == "group" else {**context_traits, **top_traits}
    raw_timestamp = message.get("timestamp") or message.get("originalTimestamp")
    try:
        timestamp = parse_time(raw_timestamp)
        sent_at = parse_time(message.get("sentAt")) or batch_sent_at
    except ValueError as err:
        raise ValueError(f"timestamp or sentAt is not ISO 8601 ({err})") from None
    occurred_at = correct_skew(timestamp, sent_at, received_at)
    message_id = (
        _as_id(message.get("messageId"), "messageId") or fallback_id or f"cvm-{uuid.uuid4()}"
    )
    name: str | None
    if kind == "track":
        name = str(event_name)
    elif kind in ("page", "screen"):
        raw_name = message.get("name") or properties.get("name")
        name = str(raw_name) if raw_name is not None else None
    else:
        name = None
    channel = "web" if kind == "page" else "app" if kind == "screen" else None
    channel = channel or _CHANNELS.get(str(context.get("channel", "")).lower())
    normalised: dict[str, Any] = {
        "messageId": message_id,
        "type": kind,
        "userId": user_id,
        "anonymousId": anonymous_id,
        "name": name,
        "channel": channel,
        "properties": properties,
        "traits": traits,
        "context": context,
        "timestamp": _iso(occurred_at),
        "originalTimestamp": raw_timestamp if isinstance(raw_timestamp, str) else None,
        "sentAt": _iso(sent_at),
        "receivedAt": _iso(received_at),
    }
    if previous_id is not None:
        normalised["previousId"] = previous_id
    if group_id is not None:
        normalised["groupId"] = group_id
        normalised["groupTraits"] = top_traits
    return NormalizedEvent(
        index=index,
        message_id=message_id,
        type=kind,
        user_id=user_id,
        anonymous_id=anonymous_id,
        occurred_at=occurred_at,
        received_at=received_at,
        message=normalised,
    )
