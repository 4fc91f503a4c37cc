"""Move what happened in the state store to the warehouse, in batches, idempotently.

* Outbox status changes → `contact_history` (the table frequency caps count): one row per
  message with its latest status (queued/paused/sending → ``scheduled``, sent, cancelled or
  skipped → ``cancelled``, dead → ``failed``), replacing the message's earlier row, so a
  message counts once whatever its history.
* Message events (sent, delivered, opened, clicked, bounced, complained, unsubscribed, failed)
  → `events` with ``type = 'message'``, ``name = '<channel>_<event>'`` (``email_opened``,
  ``sms_delivered``: the names the segments' engagement conditions read), the channel, and
  ``properties`` holding ``campaign_id`` and ``message_id``; skipped when the event id is there.

Only the process that owns the warehouse runs this (the API server after each loader flush,
`cvm campaigns sync`, launches and the loop); dispatch workers never need the warehouse.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from cvm.collect.events_table import insert_new_events
from cvm.core.timewindows import utc_now as _now
from cvm.decide.tables import CONTACT_HISTORY
from cvm.engine.base import Engine
from cvm.state.message_events import clear_events, pending_events
from cvm.state.outbox import OutboxStore

HISTORY_STATUS = {
    "queued": "scheduled", "paused": "scheduled", "sending": "scheduled", "sent": "sent",
    "cancelled": "cancelled", "skipped": "cancelled", "dead": "failed",
}  # fmt: skip
_VIEW = "__cvm_contact_history_batch"
_DELETE = f"DELETE FROM contact_history WHERE message_id IN (SELECT message_id FROM {_VIEW})"  # noqa: S608
_INSERT = f"INSERT INTO contact_history BY NAME SELECT * FROM {_VIEW}"  # noqa: S608


def _consent_channel(channel: str) -> str:
    from cvm.channels.registry import CONSENT_CHANNEL

    return CONSENT_CHANNEL.get(channel, channel)


def write_history(
    engine: Engine, rows: Sequence[dict[str, Any]], status: str | None = None
) -> None:
    """Replace the contact_history rows of these messages with their status (``status``, or
    each row's outbox status mapped by `HISTORY_STATUS`)."""
    if not rows:
        return
    engine.ensure_table(CONTACT_HISTORY)
    now = _now()
    table = pa.table(
        {
            "customer_id": pa.array([r["customer_id"] for r in rows], pa.string()),
            "channel": pa.array([_consent_channel(r["channel"]) for r in rows], pa.string()),
            "purpose": pa.array([r["purpose"] for r in rows], pa.string()),
            "at": pa.array([r.get("sent_at") or r["not_before"] for r in rows], pa.timestamp("us")),
            "status": pa.array([status or HISTORY_STATUS[r["status"]] for r in rows], pa.string()),
            "campaign_id": pa.array([r["campaign_id"] for r in rows], pa.string()),
            "offer_id": pa.array([(r["meta"] or {}).get("offer_id") for r in rows], pa.string()),
            "message_id": pa.array([r["idempotency_key"] for r in rows], pa.string()),
            "recorded_at": pa.array([now] * len(rows), pa.timestamp("us")),
        }
    )
    engine.register_arrow(_VIEW, table)
    try:
        engine.execute(_DELETE)
        engine.execute(_INSERT)
    finally:
        engine.unregister(_VIEW)


def mirror_history(engine: Engine, state: Any, limit: int = 100_000) -> int:
    """One batch of outbox status changes → contact_history; returns rows written."""
    store = OutboxStore(state)
    rows = store.pending_history(limit)
    if not rows:
        return 0
    write_history(engine, rows)
    store.clear_history(rows)
    return len(rows)


def _properties(row: dict[str, Any]) -> str:
    props = dict(row.get("properties") or {})
    props["campaign_id"] = row.get("campaign_id")
    props["message_id"] = row["message_key"]
    return json.dumps(props, separators=(",", ":"), ensure_ascii=False, default=str)


def mirror_events(engine: Engine, state: Any, limit: int = 100_000) -> int:
    """One batch of message events → warehouse `events`; returns events handled."""
    rows = pending_events(state, limit)
    if not rows:
        return 0
    now = _now()
    n = len(rows)
    table = pa.table(
        {
            "event_id": pa.array([f"msg:{r['event_id']}" for r in rows], pa.string()),
            "customer_id": pa.array([r["customer_id"] for r in rows], pa.string()),
            "user_id": pa.array([None] * n, pa.string()),
            "anonymous_id": pa.array([None] * n, pa.string()),
            "type": pa.array(["message"] * n, pa.string()),
            "name": pa.array([f"{r['channel']}_{r['event']}" for r in rows], pa.string()),
            "occurred_at": pa.array([r["occurred_at"] for r in rows], pa.timestamp("us")),
            "received_at": pa.array([r["occurred_at"] for r in rows], pa.timestamp("us")),
            "channel": pa.array([r["channel"] for r in rows], pa.string()),
            "properties": pa.array([_properties(r) for r in rows], pa.string()),
            "_source": pa.array(["campaigns"] * n, pa.string()),
            "_ingest_run": pa.array([f"campaigns:{uuid.uuid4().hex[:12]}"] * n, pa.string()),
            "_loaded_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )
    insert_new_events(engine, table)
    clear_events(state, [int(r["id"]) for r in rows])
    return n


def mirror_all(engine: Engine, state: Any) -> dict[str, int]:
    """Everything pending, batch after batch."""
    totals = {"contact_history": 0, "events": 0}
    while (n := mirror_history(engine, state)) > 0:
        totals["contact_history"] += n
    while (n := mirror_events(engine, state)) > 0:
        totals["events"] += n
    return totals
