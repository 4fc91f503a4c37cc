"""Triggered campaigns: events (live, within seconds), segment transitions and score
crossings (batch), with delays, cancelling events and re-entry rules.

**Events.** The API server's loader calls `TriggerEvaluator.on_batch` after each micro-batch
(about every second) with the events it just loaded. For each active event-triggered campaign,
events with the trigger's name whose properties pass its filters fire for their customer: the
re-entry rule is applied (``once``; ``every_days: N`` since the last entry; ``always``), the
customer goes through the same selection as a scheduled audience (holdouts, consent, channel
fallback, caps) and the message is rendered into the outbox due at ``event time + delay``. With
``unless: E`` the message carries E as its cancelling event: an E from the same customer after
the trigger cancels it (the abandoned-cart pattern), and the dispatcher sends such a message
only once every event received before its due time has been checked — the watermark this
evaluator writes after each batch — so a purchase that arrived in time always wins.

**Segments and scores** are evaluated by `evaluate_batch_triggers` (run by `run_campaigns`
after the segment refresh and scoring): new rows of `segment_transitions` since the campaign's
cursor, and customers whose `customer_360` score has crossed the threshold since the last look
(the first look after launch only records who is already above, it fires for nobody).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.campaigns.audience import BudgetState, select_recipients
from cvm.campaigns.campaign import (
    Campaign,
    EventTrigger,
    PropertyFilter,
    ReentryEvery,
)
from cvm.campaigns.launch import candidate_rows, deliver_selection, run_env
from cvm.campaigns.mirror import mirror_all
from cvm.decide.contact_policy import next_allowed_send_time
from cvm.state.campaign_store import CampaignRows, entries_of, save_entries
from cvm.state.message_events import suppressed, write_cursor
from cvm.state.outbox import OutboxStore

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace

log = logging.getLogger(__name__)
WATERMARK = "triggers_seen_until"
# Events committed by the API's group commit may carry a receipt time a little before the
# moment they become visible; the watermark stays this far behind.
WATERMARK_SLACK = dt.timedelta(seconds=2)


@dataclass(frozen=True)
class Fired:
    customer_id: str
    at: dt.datetime
    step: str
    event: dict[str, Any]


def _path(properties: dict[str, Any], dotted: str) -> Any:
    value: Any = properties
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _compare(op: str, value: Any, target: Any) -> bool:
    match op:
        case "eq":
            return bool(value == target)
        case "ne":
            return bool(value != target)
        case "gt":
            return float(value) > float(target)
        case "gte":
            return float(value) >= float(target)
        case "lt":
            return float(value) < float(target)
        case "lte":
            return float(value) <= float(target)
        case "in":
            return value in (target or [])
        case "contains":
            return str(target) in str(value)
    raise ValueError(f"unknown operator {op!r}")


def passes(properties: dict[str, Any], filters: Sequence[PropertyFilter]) -> bool:
    for f in filters:
        value = _path(properties, f.property)
        if f.op == "exists":
            if (value is not None) != (f.value is not False):
                return False
            continue
        if value is None:
            return False
        try:
            ok = _compare(f.op, value, f.value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return False
    return True


def _allowed_by_reentry(campaign: Campaign, entry: dict[str, Any] | None, at: dt.datetime) -> bool:
    assert campaign.trigger is not None
    rule = campaign.trigger.reentry
    if entry is None or not entry.get("entries"):
        return True
    if rule == "always":
        return True
    if isinstance(rule, ReentryEvery):
        return bool(entry["last_at"] <= at - dt.timedelta(days=rule.every_days))
    return False  # once


def fire(ws: Workspace, campaign: Campaign, fired: Sequence[Fired]) -> dict[str, int]:
    """Enqueue a triggered campaign's messages for these customers (see the module doc)."""
    trigger = campaign.trigger
    assert trigger is not None
    now = _precise_now()
    first: dict[str, Fired] = {}
    for f in sorted(fired, key=lambda f: f.at):
        first.setdefault(f.customer_id, f)
    if not first or not campaign.active_at(now):
        return {"fired": 0, "queued": 0}
    with ws.state.connect() as conn:
        entries = entries_of(conn, campaign.id, list(first))
    chosen = {c: f for c, f in first.items() if _allowed_by_reentry(campaign, entries.get(c), f.at)}
    if not chosen:
        return {"fired": 0, "queued": 0}
    env = run_env(ws, campaign)
    ids = sorted(chosen)
    members = exp.select(
        exp.column("customer_id"),
        exp.cast(exp.Literal.string(campaign.offer or ""), "VARCHAR").as_("offer_id"),
        exp.cast(exp.null(), "VARCHAR").as_("decided_channel"),
    ).from_(
        exp.Values(
            expressions=[exp.Tuple(expressions=[exp.Literal.string(c)]) for c in ids],
            alias=exp.TableAlias(
                this=exp.to_identifier("t"), columns=[exp.to_identifier("customer_id")]
            ),
        )
    )
    budget = BudgetState.from_spent(campaign, OutboxStore(ws.state).spent(campaign.id))
    rows = [r for chunk in candidate_rows(env, members, now) for r in chunk]
    selection = select_recipients(
        campaign, rows, as_of=now, settings=env.decide, policy_mode=ws.settings.consent.policy,
        suppressed=lambda ch, addrs: suppressed(ws.state, ch, addrs),
        fallback_zone=env.fallback_zone, budget=budget,
    )  # fmt: skip
    quiet = env.decide.policy.quiet_hours if campaign.purpose == "marketing" else None
    for r in selection.recipients:
        f = chosen[r.customer_id]
        r.step, r.event, r.trigger_at = f.step, f.event, f.at
        due = max(now, f.at + trigger.delay)
        r.not_before = next_allowed_send_time(due, r.time_zone, quiet, env.fallback_zone)
    entry_rows = [
        {"campaign_id": campaign.id, "customer_id": c, "first_at": f.at, "last_at": f.at,
         "entries": int((entries.get(c) or {}).get("entries") or 0) + 1,
         "above": (entries.get(c) or {}).get("above")}
        for c, f in chosen.items()
    ]  # fmt: skip
    saved: list[bool] = []

    def bookkeeping(conn: Any, _fresh: Sequence[dict[str, Any]]) -> None:
        if not saved:  # entries commit with the first batch of messages
            save_entries(conn, entry_rows)
            saved.append(True)

    cancel = None
    if trigger.unless is not None:
        cancel = (trigger.unless.event, now)  # each message: after its own trigger time
    run_id = "t" + now.strftime("%Y%m%d")
    result = deliver_selection(
        env, selection, run_id, now, cancel=cancel, in_transaction=bookkeeping
    )
    if not saved:
        with ws.state.begin() as conn:
            save_entries(conn, entry_rows)
    return {"fired": len(chosen), "queued": result.queued, "dead": result.dead}


class TriggerEvaluator:
    """Runs inside the process that owns the warehouse, after each loader micro-batch."""

    def __init__(self, ws: Workspace, refresh_seconds: float = 3.0) -> None:
        self.ws = ws
        self.refresh_seconds = refresh_seconds
        self._campaigns: list[Campaign] = []
        self._loaded = -1e9

    def campaigns(self) -> list[Campaign]:
        if time.monotonic() - self._loaded > self.refresh_seconds:
            rows = CampaignRows(self.ws.state).all(["active"])
            self._campaigns = [
                c for c in (Campaign.model_validate(r["definition"]) for r in rows)
                if isinstance(c.trigger, EventTrigger)
            ]  # fmt: skip
            self._loaded = time.monotonic()
        return self._campaigns

    def on_batch(self, table: pa.Table | None) -> dict[str, int]:
        started = _precise_now()
        counts = {"fired": 0, "queued": 0, "cancelled": 0}
        events = _events(table) if table is not None and table.num_rows else []
        if events:
            for campaign in self.campaigns():
                # Fire first: a purchase in the same batch, after the cart event, cancels.
                self._fire(campaign, events, counts)
                self._cancel(campaign, events, counts)
        backlog = OutboxStore(self.ws.state).intake_backlog_since()
        seen = min(backlog, started) if backlog else started
        write_cursor(self.ws.state, WATERMARK, (seen - WATERMARK_SLACK).isoformat())
        mirror_all(self.ws.engine, self.ws.state)
        return counts

    def _cancel(
        self, campaign: Campaign, events: list[dict[str, Any]], counts: dict[str, int]
    ) -> None:
        assert campaign.trigger is not None
        unless = campaign.trigger.unless
        if unless is None:
            return
        earliest: dict[str, dt.datetime] = {}
        for e in events:
            if e["name"] == unless.event and passes(e["properties"], unless.where):
                at = e["occurred_at"]
                earliest[e["customer_id"]] = min(at, earliest.get(e["customer_id"], at))
        if earliest:
            done = OutboxStore(self.ws.state).cancel_waiting(
                campaign.id, unless.event, list(earliest), earliest
            )
            counts["cancelled"] += len(done)

    def _fire(
        self, campaign: Campaign, events: list[dict[str, Any]], counts: dict[str, int]
    ) -> None:
        trigger = campaign.trigger
        assert isinstance(trigger, EventTrigger)
        fired = [
            Fired(e["customer_id"], e["occurred_at"], f"event:{e['event_id']}",
                  {"name": e["name"], "properties": e["properties"]})
            for e in events
            if e["name"] == trigger.event and passes(e["properties"], trigger.where)
        ]  # fmt: skip
        if not fired:
            return
        if trigger.reentry == "once":
            fired = [Fired(f.customer_id, f.at, "once", f.event) for f in fired]
        result = fire(self.ws, campaign, fired)
        counts["fired"] += result["fired"]
        counts["queued"] += result["queued"]


def _precise_now() -> dt.datetime:
    # Microseconds matter: the watermark is compared with due times set a moment earlier.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _events(table: pa.Table) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names = table.column("name").to_pylist()
    customers = table.column("customer_id").to_pylist()
    for i, (name, customer) in enumerate(zip(names, customers, strict=True)):
        if name is None or customer is None:
            continue
        raw = table.column("properties")[i].as_py()
        try:
            props = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        except (TypeError, ValueError):
            props = {}
        out.append({"event_id": table.column("event_id")[i].as_py(), "name": name,
                    "customer_id": customer, "occurred_at": table.column("occurred_at")[i].as_py(),
                    "properties": props if isinstance(props, dict) else {}})  # fmt: skip
    return out
