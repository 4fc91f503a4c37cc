"""Trait values, one row per (identifier, trait): the latest observation wins.

Traits are anchored on the identifier that sent them (user id, else anonymous id), not on the
profile, so they follow that identifier through merges and unmerges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from cvm.state.tables import trait_values


def write_traits(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert `{identity_id, name, value, source, observed_at}`; an older value never wins."""
    if not rows:
        return
    # Within one call, keep the latest per key (ON CONFLICT cannot touch a row twice in PG).
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["identity_id"], row["name"])
        if key not in latest or row["observed_at"] >= latest[key]["observed_at"]:
            latest[key] = row
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(trait_values)
    statement = statement.on_conflict_do_update(
        index_elements=["identity_id", "name"],
        set_={c: statement.excluded[c] for c in ("value", "source", "observed_at")},
        where=statement.excluded.observed_at >= trait_values.c.observed_at,
    )
    conn.execute(statement, list(latest.values()))


def traits_of(conn: Connection, identity_ids: Sequence[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(identity_ids), 400):
        chunk = list(identity_ids[start : start + 400])
        query = select(trait_values).where(trait_values.c.identity_id.in_(chunk))
        rows.extend(dict(r._mapping) for r in conn.execute(query))
    return rows


def delete_traits(conn: Connection, identity_ids: Sequence[int]) -> int:
    count = 0
    for start in range(0, len(identity_ids), 400):
        chunk = list(identity_ids[start : start + 400])
        result = conn.execute(delete(trait_values).where(trait_values.c.identity_id.in_(chunk)))
        count += int(result.rowcount or 0)
    return count
