"""Normalised messages → rows of the canonical `events` table (`cvm.core.contracts.EVENTS`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from cvm.core.contracts import EVENTS
from cvm.engine.base import Engine
from cvm.identity.graph import IdentityGraph
from cvm.identity.identifiers import ANONYMOUS_ID, USER_ID, Identifier
from cvm.identity.observations import message_time

SOURCE = "api"
_VIEW = "__cvm_incoming_events"
# Idempotent by event_id: rows already in the warehouse are skipped (constant SQL).
_INSERT_NEW = (
    f"INSERT INTO events BY NAME SELECT * FROM {_VIEW} i "  # noqa: S608
    "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = i.event_id)"
)


def _properties(message: dict[str, Any]) -> str:
    kind = message["type"]
    if kind == "alias":
        props: dict[str, Any] = {"previousId": message.get("previousId")}
    elif kind == "group":
        props = {"groupId": message.get("groupId"), "traits": message.get("groupTraits") or {}}
    elif kind == "identify":
        props = {}  # traits live in the trait store, not in the event log
    else:
        props = message.get("properties") or {}
    return json.dumps(props, separators=(",", ":"), ensure_ascii=False, default=str)


def customer_of(message: dict[str, Any], graph: IdentityGraph) -> str | None:
    if message.get("userId"):
        return graph.customer_of(Identifier(USER_ID, str(message["userId"])))
    if message.get("anonymousId"):
        return graph.customer_of(Identifier(ANONYMOUS_ID, str(message["anonymousId"])))
    return None


def events_table(
    messages: list[dict[str, Any]], graph: IdentityGraph, run_id: str, loaded_at: datetime
) -> pa.Table:
    n = len(messages)
    return pa.table(
        {
            "event_id": pa.array([m["messageId"] for m in messages], pa.string()),
            "customer_id": pa.array([customer_of(m, graph) for m in messages], pa.string()),
            "user_id": pa.array([m.get("userId") for m in messages], pa.string()),
            "anonymous_id": pa.array([m.get("anonymousId") for m in messages], pa.string()),
            "type": pa.array([m["type"] for m in messages], pa.string()),
            "name": pa.array([m.get("name") for m in messages], pa.string()),
            "occurred_at": pa.array([message_time(m) for m in messages], pa.timestamp("us")),
            "received_at": pa.array(
                [datetime.fromisoformat(m["receivedAt"].rstrip("Z")) for m in messages],
                pa.timestamp("us"),
            ),
            "channel": pa.array([m.get("channel") for m in messages], pa.string()),
            "properties": pa.array([_properties(m) for m in messages], pa.string()),
            "_source": pa.array([SOURCE] * n, pa.string()),
            "_ingest_run": pa.array([run_id] * n, pa.string()),
            "_loaded_at": pa.array([loaded_at] * n, pa.timestamp("us")),
        }
    )


def insert_new_events(engine: Engine, table: pa.Table) -> int:
    """Insert rows whose event_id is not in the warehouse yet; returns how many were new."""
    engine.ensure_table(EVENTS)
    before = int(engine.fetch_scalar("SELECT count(*) FROM events") or 0)  # type: ignore[call-overload]
    engine.register_arrow(_VIEW, table)
    try:
        engine.execute(_INSERT_NEW)
    finally:
        engine.unregister(_VIEW)
    after = int(engine.fetch_scalar("SELECT count(*) FROM events") or 0)  # type: ignore[call-overload]
    return after - before
