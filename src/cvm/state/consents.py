"""The consent log: every grant and withdrawal, never overwritten.

Records are anchored on an identifier (so they follow it through merges and unmerges); a
record that repeats the identifier's current decision for that channel and purpose is not
stored again, so an app that sends ``unsubscribed: false`` on every identify does not bloat
the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from cvm.state.tables import consent_records, identities
from cvm.state.upsert import chunks, insert_ignore


def latest_by_identity(
    conn: Connection, identity_ids: Sequence[int]
) -> dict[tuple[int, str, str], dict[str, Any]]:
    """The current record per (identity, channel, purpose)."""
    latest: dict[tuple[int, str, str], dict[str, Any]] = {}
    for chunk in chunks(identity_ids):
        query = select(consent_records).where(consent_records.c.identity_id.in_(chunk))
        for row in conn.execute(query):
            m = dict(row._mapping)
            key = (m["identity_id"], m["channel"], m["purpose"])
            if key not in latest or (m["occurred_at"], m["id"]) > (
                latest[key]["occurred_at"],
                latest[key]["id"],
            ):
                latest[key] = m
    return latest


def record_consents(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Append `{identity_id, channel, purpose, status, occurred_at, source, recorded_at}` rows
    that change the current decision; returns how many were stored."""
    if not rows:
        return 0
    current = latest_by_identity(conn, sorted({r["identity_id"] for r in rows}))
    fresh: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r["occurred_at"]):
        key = (row["identity_id"], row["channel"], row["purpose"])
        now = current.get(key)
        if (
            now is not None
            and now["status"] == row["status"]
            and now["occurred_at"] <= row["occurred_at"]
        ):
            continue  # repeats the decision in force: not a new fact
        fresh.append({**row, "mirror_pending": True})
        current[key] = {**row, "id": 0}
    insert_ignore(
        conn,
        consent_records,
        fresh,
        ["identity_id", "channel", "purpose", "occurred_at", "status"],
    )
    return len(fresh)


def consents_of_customers(conn: Connection, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every record of these profiles, with the profile's customer_id, oldest first."""
    rows: list[dict[str, Any]] = []
    for chunk in chunks(customer_ids):
        query = (
            select(consent_records, identities.c.customer_id)
            .join(identities, identities.c.id == consent_records.c.identity_id)
            .where(identities.c.customer_id.in_(chunk))
        )
        rows.extend(dict(r._mapping) for r in conn.execute(query))
    return sorted(rows, key=lambda r: (r["occurred_at"], r["id"]))


def pending_mirror(
    conn: Connection, identity_ids: Sequence[int], limit: int
) -> list[dict[str, Any]]:
    """Records to (re)write in the warehouse: new ones, and those whose identity moved."""
    query = (
        select(consent_records, identities.c.customer_id)
        .join(identities, identities.c.id == consent_records.c.identity_id)
        .where(consent_records.c.mirror_pending.is_(True))
        .limit(limit)
    )
    rows = {r.id: dict(r._mapping) for r in conn.execute(query)}
    for chunk in chunks(identity_ids):
        moved = (
            select(consent_records, identities.c.customer_id)
            .join(identities, identities.c.id == consent_records.c.identity_id)
            .where(consent_records.c.identity_id.in_(chunk))
        )
        rows.update({r.id: dict(r._mapping) for r in conn.execute(moved)})
    return list(rows.values())


def clear_mirror_flags(conn: Connection, record_ids: Sequence[int]) -> None:
    for chunk in chunks(record_ids):
        conn.execute(
            update(consent_records)
            .where(consent_records.c.id.in_(chunk))
            .values(mirror_pending=False)
        )


def delete_consents(conn: Connection, identity_ids: Sequence[int]) -> list[int]:
    """Remove a person's records; returns their ids (to remove the warehouse mirror rows)."""
    ids: list[int] = []
    for chunk in chunks(identity_ids):
        ids.extend(
            int(r[0])
            for r in conn.execute(
                select(consent_records.c.id).where(consent_records.c.identity_id.in_(chunk))
            )
        )
        conn.execute(delete(consent_records).where(consent_records.c.identity_id.in_(chunk)))
    return ids
