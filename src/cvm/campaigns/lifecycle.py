"""What the CLI, the API and the loop call: create, launch, pause, resume, stop, run the
day's campaigns, preview and test-send.

`run_campaigns(ws, as_of)` is the loop's campaigns stage: it runs every active recurring
campaign whose day it is (once per day: the occurrence ``day:YYYY-MM-DD``), evaluates segment
and score triggers, completes campaigns past their end, and mirrors the outbox to the
warehouse. Dispatch is separate (`cvm campaigns dispatch`): sending is a long-running worker,
not a stage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import sqlglot.expressions as exp

from cvm.campaigns.audience import Recipient, address_of
from cvm.campaigns.batch_triggers import evaluate_batch_triggers
from cvm.campaigns.campaign import Campaign, RecurringSchedule
from cvm.campaigns.launch import Progress, run_env, run_occurrence
from cvm.campaigns.mirror import mirror_all
from cvm.campaigns.outbox import Composer
from cvm.campaigns.store import CampaignStore, StoredCampaign
from cvm.channels.base import OutgoingMessage, SendResult
from cvm.core.errors import NotFoundError, UserInputError
from cvm.segments.context import utc_naive
from cvm.state.outbox import OutboxStore

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace


def create_campaign(ws: Workspace, campaign: Campaign, *, replace: bool = False) -> StoredCampaign:
    """Validate against the workspace (segment and offer exist) and store as a draft."""
    engine = ws.engine
    names: list[str] = []
    if campaign.audience is not None and campaign.audience.kind == "segment":
        names.append(campaign.audience.segment)
    if campaign.trigger is not None and campaign.trigger.kind == "segment":
        names.append(campaign.trigger.segment)
    if names:
        from cvm.segments.store import open_store

        store = open_store(ws)
        for name in names:
            store.get(name)  # NotFoundError with a did-you-mean
    if campaign.offer and engine.table_exists("offers"):
        from cvm.decide.offer_store import get_offer

        get_offer(engine, campaign.offer)
    return CampaignStore(ws.state).create(campaign, replace=replace)


def launch_campaign(
    ws: Workspace,
    campaign_id: str,
    *,
    as_of: dt.datetime | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Activate; a ``now`` / ``at`` campaign enqueues its audience at once."""
    store = CampaignStore(ws.state)
    stored = store.move(campaign_id, "active")
    campaign = stored.campaign
    summary: dict[str, Any] = {"id": campaign_id, "status": "active"}
    if campaign.trigger is None and not isinstance(campaign.schedule, RecurringSchedule):
        summary["run"] = run_occurrence(ws, campaign, "launch", as_of=as_of, progress=progress)
    elif campaign.trigger is not None and campaign.trigger.kind in ("segment", "score"):
        summary["triggers"] = evaluate_batch_triggers(ws, [campaign], utc_naive(as_of))
    return summary


def pause_campaign(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    CampaignStore(ws.state).move(campaign_id, "paused")
    held = OutboxStore(ws.state).move(campaign_id, ["queued"], "paused")
    return {"id": campaign_id, "status": "paused", "messages_held": held}


def resume_campaign(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    CampaignStore(ws.state).move(campaign_id, "resumed")
    released = OutboxStore(ws.state).move(campaign_id, ["paused"], "queued")
    return {"id": campaign_id, "status": "active", "messages_released": released}


def stop_campaign(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    CampaignStore(ws.state).move(campaign_id, "stopped")
    cancelled = OutboxStore(ws.state).move(campaign_id, ["queued", "paused"], "cancelled")
    return {"id": campaign_id, "status": "stopped", "messages_cancelled": cancelled}


def run_campaigns(
    ws: Workspace, as_of: dt.datetime | dt.date | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """The loop's campaigns stage (see the module docstring)."""
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        as_of = dt.datetime.combine(as_of, dt.time(0, 0))
    moment = utc_naive(as_of)
    store = CampaignStore(ws.state)
    active = store.all(["active"])
    runs: list[dict[str, Any]] = []
    completed: list[str] = []
    for stored in active:
        c = stored.campaign
        if c.ends_at is not None and moment >= c.ends_at:
            store.move(c.id, "stopped")
            OutboxStore(ws.state).move(c.id, ["queued", "paused"], "cancelled")
            completed.append(c.id)
            continue
        if isinstance(c.schedule, RecurringSchedule) and c.trigger is None and c.active_at(moment):
            day = moment.date()
            if c.schedule.runs_on(day):
                runs.append(
                    run_occurrence(
                        ws, c, f"day:{day.isoformat()}", as_of=moment, day=day, progress=progress
                    )
                )
    batch = [
        s.campaign
        for s in active
        if s.campaign.trigger is not None and s.campaign.id not in completed
    ]
    triggers = evaluate_batch_triggers(ws, batch, moment)
    mirrored = mirror_all(ws.engine, ws.state)
    return {
        "active": len(active), "runs": runs, "ended": completed, "triggers": triggers,
        "mirrored": mirrored, "outbox": OutboxStore(ws.state).counts(),
    }  # fmt: skip


def _profile(ws: Workspace, columns: list[str], customer_id: str) -> dict[str, Any]:
    query = (
        exp.select(*columns)
        .from_("customer_360")
        .where(exp.column("customer_id").eq(exp.Literal.string(customer_id)))
    )
    rows = ws.engine.fetch_arrow(query).to_pylist()
    if not rows:
        raise NotFoundError(f"no customer {customer_id!r}")
    return rows[0]


def preview_message(
    ws: Workspace, campaign_id: str, customer_id: str, channel: str | None = None
) -> dict[str, Any]:
    """The message this customer would get (first channel with an address, or ``channel``)."""
    campaign = CampaignStore(ws.state).get(campaign_id).campaign
    env = run_env(ws, campaign)
    profile = _profile(ws, env.columns, customer_id)
    if channel is not None and channel not in campaign.channels:
        raise UserInputError(f"campaign {campaign_id!r} has no {channel} content")
    channel = channel or next(
        (c for c in campaign.channels if address_of(profile, c)), campaign.channels[0]
    )
    r = Recipient(customer_id, channel, address_of(profile, channel) or "", profile.get("language"),
                  profile.get("time_zone"), utc_naive(None), profile, campaign.offer, step="preview")  # fmt: skip
    row = Composer(
        campaign, env.templates, env.signer, "preview", env.catalogue, env.offers
    ).compose(r, utc_naive(None))
    keys = (
        "channel",
        "address",
        "language",
        "subject",
        "body",
        "html",
        "status",
        "last_error",
        "meta",
    )
    return {k: row.get(k) for k in keys}


def test_send(
    ws: Workspace,
    campaign_id: str,
    to: str,
    *,
    customer_id: str | None = None,
    channel: str | None = None,
) -> SendResult:
    """Render (for ``customer_id``, or with an empty profile) and send one copy to ``to`` now,
    marked ``[TEST]``; nothing goes to the outbox, history or events."""
    from cvm.campaigns.config import load_campaign_settings
    from cvm.channels.registry import open_channel

    campaign = CampaignStore(ws.state).get(campaign_id).campaign
    channel = channel or campaign.channels[0]
    if channel not in campaign.channels:
        raise UserInputError(f"campaign {campaign_id!r} has no {channel} content")
    env = run_env(ws, campaign)
    profile = _profile(ws, env.columns, customer_id) if customer_id else {"customer_id": "test"}
    r = Recipient(str(profile["customer_id"]), channel, to, profile.get("language"), None,
                  utc_naive(None), profile, campaign.offer, step=f"test:{uuid.uuid4().hex}")  # fmt: skip
    row = Composer(campaign, env.templates, env.signer, "test", env.catalogue, env.offers).compose(
        r, utc_naive(None)
    )
    if row["status"] == "dead":
        raise UserInputError(f"the template fails for this customer: {row['last_error']}")
    client = open_channel(channel, load_campaign_settings(ws.root), ws.root)
    try:
        return client.send(
            OutgoingMessage(
                row["idempotency_key"],
                channel,
                to,
                f"[TEST] {row['subject'] or ''}".strip(),
                row["body"],
                row["html"],
                row["meta"] or {},
                campaign.id,
                r.customer_id,
            )  # fmt: skip
        )
    finally:
        client.close()


def sync(ws: Workspace) -> dict[str, int]:
    """Mirror every pending outbox change and message event to the warehouse."""
    return mirror_all(ws.engine, ws.state)
