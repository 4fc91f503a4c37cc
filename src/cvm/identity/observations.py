"""What each source tells the graph: Segment messages (live) and canonical rows (files)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cvm.identity.graph import Observation
from cvm.identity.identifiers import (
    ANONYMOUS_ID,
    EXTERNAL_PREFIX,
    USER_ID,
    Identifier,
    identifiers_from_traits,
    normalize_identifier,
)

EPOCH = datetime(1970, 1, 1)


def _external_ids(context: Mapping[str, Any]) -> list[Identifier]:
    """Segment's ``context.externalIds``: ``[{"id": "123", "type": "crm"}, ...]``."""
    found: list[Identifier] = []
    items = context.get("externalIds")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("id") and item.get("type"):
                kind = EXTERNAL_PREFIX + str(item["type"]).lower()
                ident = normalize_identifier(kind, item["id"])
                if ident:
                    found.append(ident)
    return found


def observation_from_message(
    message: Mapping[str, Any], default_country: str
) -> Observation | None:
    """The identifiers one normalised message carries (None for alias: see `alias_pair`)."""
    kind = message["type"]
    if kind == "alias":
        return None
    user = normalize_identifier(USER_ID, message.get("userId"))
    keys: list[Identifier] = []
    anon = normalize_identifier(ANONYMOUS_ID, message.get("anonymousId"))
    if anon:
        keys.append(anon)
    keys.extend(identifiers_from_traits(message.get("traits") or {}, default_country))
    keys.extend(_external_ids(message.get("context") or {}))
    if user is None and not keys:
        return None
    return Observation(
        identifiers=tuple(keys),
        at=message_time(message),
        reason=kind if kind == "identify" else "event",
        user=user,
        event_id=message.get("messageId"),
    )


def alias_pair(message: Mapping[str, Any]) -> tuple[str, str] | None:
    if message.get("type") != "alias":
        return None
    user, previous = message.get("userId"), message.get("previousId")
    return (str(user), str(previous)) if user and previous else None


def message_time(message: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(message["timestamp"]).rstrip("Z"))


def observation_from_customer_row(row: Mapping[str, Any], default_country: str) -> Observation:
    """A canonical `customers` row: its customer_id is the source system's user id."""
    traits: dict[str, Any] = {"email": row.get("email"), "phone": row.get("phone")}
    extra = row.get("traits")
    if isinstance(extra, Mapping) and isinstance(extra.get("external_ids"), Mapping):
        traits["external_ids"] = extra["external_ids"]
    at = row.get("signup_date")
    return Observation(
        identifiers=tuple(identifiers_from_traits(traits, default_country)),
        at=at if isinstance(at, datetime) else EPOCH,
        reason="ingest",
        user=Identifier(USER_ID, str(row["customer_id"])),
    )


def observation_from_event_row(row: Mapping[str, Any]) -> Observation | None:
    """A canonical `events` row from a file: links its user id and anonymous id."""
    user = normalize_identifier(USER_ID, row.get("user_id"))
    anon = normalize_identifier(ANONYMOUS_ID, row.get("anonymous_id"))
    if user is None and anon is None:
        return None
    at = row.get("occurred_at")
    return Observation(
        identifiers=(anon,) if anon else (),
        at=at if isinstance(at, datetime) else EPOCH,
        reason="ingest",
        user=user,
        event_id=row.get("event_id"),
    )
