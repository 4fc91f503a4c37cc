"""Message events (sent, delivered, opened, clicked, bounced, complained, unsubscribed,
failed), the suppression list and named cursors, in the state store.

Events are written where they happen (a dispatch worker, a tracking request, a provider
callback) without touching the warehouse, which another process may own; a mirror step moves
them to the warehouse `events` table and clears `mirror_pending`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import campaign_cursors, message_events, suppressions
from cvm.state.upsert import insert_ignore, upsert


def add_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append events ``{event_id, message_key, campaign_id, customer_id, channel, event,
    occurred_at, properties}``; an event_id seen before is skipped."""
    if rows:
        insert_ignore(
            conn, message_events, [{**r, "mirror_pending": True} for r in rows], ["event_id"]
        )


def record_events(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        add_events(conn, rows)


def pending_events(engine: Engine, limit: int) -> list[dict[str, Any]]:
    query = (
        select(message_events)
        .where(message_events.c.mirror_pending.is_(True))
        .order_by(message_events.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def clear_events(engine: Engine, ids: Sequence[int]) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(message_events)
            .where(message_events.c.id == bindparam("b_id"))
            .values(mirror_pending=False),
            [{"b_id": i} for i in ids],
        )


def events_of(engine: Engine, message_key: str) -> list[dict[str, Any]]:
    query = (
        select(message_events)
        .where(message_events.c.message_key == message_key)
        .order_by(message_events.c.id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# -- suppression list -----------------------------------------------------------------------
def suppress(engine: Engine, channel: str, address: str, reason: str, detail: str = "") -> None:
    """Never send to ``address`` on ``channel`` again (the first reason is kept)."""
    with engine.begin() as conn:
        insert_ignore(
            conn,
            suppressions,
            [{"channel": channel, "address": address.strip().lower(), "reason": reason,
              "detail": detail[:500], "created_at": _now()}],
            ["channel", "address"],
        )  # fmt: skip


def unsuppress(engine: Engine, channel: str, address: str) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            suppressions.delete().where(
                suppressions.c.channel == channel,
                suppressions.c.address == address.strip().lower(),
            )
        )
    return int(result.rowcount or 0)


def suppressed(engine: Engine, channel: str, addresses: Sequence[str]) -> set[str]:
    """The members of ``addresses`` (compared in lower case) suppressed on ``channel``."""
    wanted = sorted({a.strip().lower() for a in addresses if a})
    found: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            query = select(suppressions.c.address).where(
                suppressions.c.channel == channel, suppressions.c.address.in_(chunk)
            )
            found.update(str(r[0]) for r in conn.execute(query))
    return found


def suppression_list(engine: Engine, channel: str | None = None) -> list[dict[str, Any]]:
    query = select(suppressions).order_by(suppressions.c.created_at)
    if channel is not None:
        query = query.where(suppressions.c.channel == channel)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# -- cursors --------------------------------------------------------------------------------
def read_cursor(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(campaign_cursors.c.value).where(campaign_cursors.c.name == name)
        ).first()
    return str(row[0]) if row is not None else None


def write_cursor(engine: Engine, name: str, value: str) -> None:
    with engine.begin() as conn:
        upsert(
            conn,
            campaign_cursors,
            [{"name": name, "value": value, "updated_at": _now()}],
            ["name"],
            ["value", "updated_at"],
        )
