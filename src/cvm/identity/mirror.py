"""Mirror the identity graph's result (identifier → customer_id) to the warehouse.

The warehouse `identities` table lets any SQL join an e-mail, phone or device id to its
profile. Only rows flagged `mirror_pending` in the state store move, so a flush costs what
changed. Events already in the warehouse follow their identifier's profile: after a merge or
an unmerge their `customer_id` is rewritten from the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from cvm.core.contracts import Column, TableContract
from cvm.engine.base import Engine
from cvm.identity.graph import Node
from cvm.state.identity_store import IdentityStore

IDENTITIES = TableContract(
    name="identities",
    description="Identity graph result: each known identifier and the profile it belongs to.",
    key=("kind", "value"),
    columns=(
        Column(
            "kind",
            "text",
            "`user_id`, `anonymous_id`, `email`, `phone`, `external:<system>`.",
            required=True,
        ),
        Column(
            "value",
            "text",
            "Normalised identifier (e-mail lower-case, phone E.164).",
            required=True,
        ),
        Column("customer_id", "text", "The profile it belongs to.", required=True),
        Column("blocked", "boolean", "Seen with too many user ids: no longer merges profiles."),
        Column("updated_at", "timestamp", "Last time the identifier was seen (UTC)."),
    ),
)

_VIEW = "__cvm_identity_mirror"
# Constant SQL over a registered Arrow view: no values are pasted into these statements.
_DELETE = f"DELETE FROM identities USING {_VIEW} p WHERE identities.kind = p.kind AND identities.value = p.value"  # noqa: S608
_INSERT = f"INSERT INTO identities BY NAME SELECT kind, value, customer_id, blocked, updated_at FROM {_VIEW}"  # noqa: S608
_UPDATE_BY_USER = (
    f"UPDATE events SET customer_id = p.customer_id FROM {_VIEW} p "  # noqa: S608
    "WHERE p.kind = 'user_id' AND events.user_id = p.value "
    "AND events.customer_id IS DISTINCT FROM p.customer_id"
)
_UPDATE_BY_ANON = (
    f"UPDATE events SET customer_id = p.customer_id FROM {_VIEW} p "  # noqa: S608
    "WHERE p.kind = 'anonymous_id' AND events.user_id IS NULL AND events.anonymous_id = p.value "
    "AND events.customer_id IS DISTINCT FROM p.customer_id"
)


def _apply(engine: Engine, table: pa.Table, replace_all: bool) -> None:
    engine.ensure_table(IDENTITIES)
    engine.register_arrow(_VIEW, table)
    try:
        engine.execute("DELETE FROM identities" if replace_all else _DELETE)
        engine.execute(_INSERT)
        if engine.table_exists("events"):
            engine.execute(_UPDATE_BY_USER)
            engine.execute(_UPDATE_BY_ANON)
    finally:
        engine.unregister(_VIEW)


def replace_identities(engine: Engine, store: IdentityStore, nodes: Iterable[Node]) -> int:
    """Rewrite the whole mirror from a fully loaded graph (batch resolution): one bulk write
    instead of reading every row back from the state store."""
    rows = list(nodes)
    table = pa.table(
        {
            "kind": pa.array([n.key.kind for n in rows], pa.string()),
            "value": pa.array([n.key.value for n in rows], pa.string()),
            "customer_id": pa.array([n.customer_id for n in rows], pa.string()),
            "blocked": pa.array([n.blocked for n in rows], pa.bool_()),
            "updated_at": pa.array([n.last_seen for n in rows], pa.timestamp("us")),
        }
    )
    _apply(engine, table, replace_all=True)
    with store.engine.begin() as conn:
        store.clear_all_mirror_flags(conn)  # rows changed earlier by the live loader
    return len(rows)


def mirror_identities(engine: Engine, store: IdentityStore, chunk: int = 200_000) -> list[int]:
    """Move pending identities to the warehouse; returns the state ids that moved."""
    moved: list[int] = []
    while True:
        with store.engine.connect() as conn:
            rows = store.pending_mirror(conn, chunk)
        if not rows:
            return moved
        table = pa.table(
            {
                "kind": pa.array([r["kind"] for r in rows], pa.string()),
                "value": pa.array([r["value"] for r in rows], pa.string()),
                "customer_id": pa.array([r["customer_id"] for r in rows], pa.string()),
                "blocked": pa.array([bool(r["blocked"]) for r in rows], pa.bool_()),
                "updated_at": pa.array([r["last_seen"] for r in rows], pa.timestamp("us")),
            }
        )
        _apply(engine, table, replace_all=False)
        ids = [int(r["id"]) for r in rows]
        with store.engine.begin() as conn:
            store.clear_mirror_flags(conn, ids)
        moved.extend(ids)
        if len(rows) < chunk:
            return moved
