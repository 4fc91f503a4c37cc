"""Running a campaign occurrence: audience → selection → rendered messages in the outbox.

`run_occurrence` is the one path from a campaign to messages, used by a launch (``now`` /
``at`` schedules), each day of a recurring schedule (`run_campaigns`) and each batch of
triggered customers (`cvm.campaigns.triggers`). It streams candidates from the warehouse in
CLV order, 50,000 at a time, writes the messages in outbox transactions of 5,000, records every
customer considered in `campaign_audience` (treated, held out or excluded, with the reason), and
mirrors the outbox to `contact_history` so the next campaign's caps see these messages.
Re-running an occurrence (after a crash) resumes it: keys already in the outbox are skipped.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.campaigns.audience import (
    ALWAYS,
    BudgetState,
    Selection,
    candidate_query,
    members_query,
    select_recipients,
)
from cvm.campaigns.campaign import Campaign
from cvm.campaigns.config import CampaignSettings, load_campaign_settings
from cvm.campaigns.mirror import mirror_all, write_history
from cvm.campaigns.outbox import Composer, EnqueueResult, enqueue
from cvm.campaigns.tables import CAMPAIGN_AUDIENCE
from cvm.campaigns.templates import CampaignTemplates
from cvm.campaigns.tracking import LinkSigner
from cvm.core.contracts import CONSENTS, EVENTS
from cvm.decide.config import DecideSettings, load_decide_settings
from cvm.decide.tables import CONTACT_HISTORY
from cvm.engine.base import Engine
from cvm.profiles.contract import CUSTOMER_360_VIEW
from cvm.segments.context import utc_naive
from cvm.state.campaign_store import CampaignRows, workspace_secret
from cvm.state.message_events import suppressed
from cvm.state.outbox import OutboxStore

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace

Progress = Callable[[str], None]
CHUNK = 50_000


@dataclass
class RunEnv:
    """What one run needs, built once: settings, templates, signer, lookups."""

    ws: Workspace
    campaign: Campaign
    settings: CampaignSettings
    decide: DecideSettings
    templates: CampaignTemplates
    signer: LinkSigner
    columns: list[str]
    catalogue: dict[str, dict[str, Any]]
    offers: dict[str, dict[str, Any]]

    @property
    def fallback_zone(self) -> str:
        return self.decide.policy.timezone or self.ws.settings.workspace.timezone

    def composer(self, run_id: str) -> Composer:
        return Composer(
            self.campaign, self.templates, self.signer, run_id, self.catalogue, self.offers,
            self.settings.tracking.unsubscribe_mailto,
        )  # fmt: skip


def link_signer(ws: Workspace, settings: CampaignSettings) -> LinkSigner:
    return LinkSigner(
        workspace_secret(ws.state, "tracking_secret").encode(), settings.tracking.base_url
    )


def _catalogue(engine: Engine) -> dict[str, dict[str, Any]]:
    if not engine.table_exists("products"):
        return {}
    query = exp.select("product_id", "name", "category", "price").from_("products")
    return {
        str(pid): {"id": str(pid), "name": name or str(pid), "category": cat,
                   "price": float(price) if price is not None else None}  # type: ignore[arg-type]
        for pid, name, cat, price in engine.fetch_rows(query)
    }  # fmt: skip


def _offers(engine: Engine) -> dict[str, dict[str, Any]]:
    if not engine.table_exists("offers"):
        return {}
    from cvm.decide.offer_store import load_offers

    out: dict[str, dict[str, Any]] = {}
    for offer in load_offers(engine):
        data = offer.model_dump(mode="json", exclude={"eligibility"})
        out[offer.id] = data
    return out


def prepare_tables(engine: Engine) -> None:
    for contract in (CONTACT_HISTORY, CONSENTS, EVENTS, CAMPAIGN_AUDIENCE):
        engine.ensure_table(contract)


def run_env(ws: Workspace, campaign: Campaign) -> RunEnv:
    engine = ws.engine
    prepare_tables(engine)
    templates = CampaignTemplates(campaign)
    available = set(engine.table_columns(CUSTOMER_360_VIEW))
    wanted = available if "customer" in templates.names else templates.names & available
    columns = list(dict.fromkeys([*ALWAYS, *sorted(wanted)]))
    if "products" in templates.names and "top_products" in available:
        columns.append("top_products")
    columns = [c for c in dict.fromkeys(columns) if c in available]
    settings = load_campaign_settings(ws.root)
    return RunEnv(
        ws, campaign, settings, load_decide_settings(ws.root), templates,
        link_signer(ws, settings), columns,
        _catalogue(engine) if "products" in templates.names else {},
        _offers(engine) if "offer" in templates.names else {},
    )  # fmt: skip


def candidate_rows(
    env: RunEnv, members: exp.Select, as_of: dt.datetime
) -> Iterator[list[dict[str, Any]]]:
    query = candidate_query(env.campaign, env.columns, members, env.decide, as_of).order_by(
        exp.Ordered(this=exp.column("clv", table="c"), desc=True, nulls_first=False),
        exp.column("customer_id", table="c"),
    )
    # Materialised first (as Arrow, compact): the same connection writes while we iterate.
    table = env.ws.engine.fetch_arrow(query)
    for batch in table.to_batches(max_chunksize=CHUNK):
        yield batch.to_pylist()


def record_audience(
    engine: Engine, campaign_id: str, run_id: str, selection: Selection, keys: dict[str, str]
) -> None:
    now = utc_naive(None)
    rows: list[tuple[str, str, str | None, str, str | None, str | None]] = [
        (r.customer_id, "treatment", r.channel, "queued", None, keys.get(r.customer_id))
        for r in selection.recipients
    ]
    rows += [
        (cid, arm, ch, status, reason, None) for cid, arm, ch, status, reason in selection.others
    ]
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "campaign_id": pa.array([campaign_id] * len(rows), pa.string()),
            "run_id": pa.array([run_id] * len(rows), pa.string()),
            "customer_id": pa.array(cols[0], pa.string()),
            "arm": pa.array(cols[1], pa.string()),
            "channel": pa.array(cols[2], pa.string()),
            "status": pa.array(cols[3], pa.string()),
            "reason": pa.array(cols[4], pa.string()),
            "message_id": pa.array(cols[5], pa.string()),
            "recorded_at": pa.array([now] * len(rows), pa.timestamp("us")),
        }
    )
    engine.write_arrow(CAMPAIGN_AUDIENCE.name, table, "append")


def deliver_selection(
    env: RunEnv,
    selection: Selection,
    run_id: str,
    now: dt.datetime,
    **enqueue_options: Any,
) -> EnqueueResult:
    """Enqueue a selection's messages and record every customer it considered."""
    engine = env.ws.engine
    launch = env.settings.launch
    processes = launch.render_processes if len(selection.recipients) >= launch.parallel_from else 1
    result = enqueue(
        OutboxStore(env.ws.state), env.composer(run_id), selection.recipients, now,
        history=lambda rows: write_history(engine, rows, "scheduled"), processes=processes,
        **enqueue_options,
    )  # fmt: skip
    record_audience(env.ws.engine, env.campaign.id, run_id, selection, result.keys)
    return result


def run_occurrence(
    ws: Workspace,
    campaign: Campaign,
    occurrence: str,
    *,
    as_of: dt.datetime | None = None,
    day: dt.date | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Enqueue one occurrence of a scheduled campaign (idempotent; see the module docstring)."""
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    as_of = utc_naive(as_of)
    rows_store = CampaignRows(ws.state)
    run_id, done = rows_store.start_run(campaign.id, occurrence)
    if done:
        return {"run_id": run_id, "occurrence": occurrence, "status": "already done"}
    env = run_env(ws, campaign)
    from cvm.segments.store import open_store

    members = members_query(ws.engine, campaign, as_of, open_store(ws))
    budget = BudgetState.from_spent(campaign, OutboxStore(ws.state).spent(campaign.id))
    ws.engine.execute(
        exp.delete(CAMPAIGN_AUDIENCE.name).where(
            exp.column("run_id").eq(exp.Literal.string(run_id))
        )
    )
    totals = EnqueueResult()
    counts: dict[str, int] = {}
    for rows in candidate_rows(env, members, as_of):
        selection = select_recipients(
            campaign, rows, as_of=as_of, settings=env.decide,
            policy_mode=ws.settings.consent.policy,
            suppressed=lambda ch, addrs: suppressed(ws.state, ch, addrs),
            fallback_zone=env.fallback_zone, day=day, budget=budget,
        )  # fmt: skip
        for r in selection.recipients:
            r.step = occurrence
        totals.add(deliver_selection(env, selection, run_id, utc_naive(None)))
        for label, n in selection.counts().items():
            counts[label] = counts.get(label, 0) + n
        say(f"{sum(counts.values()):,} customers considered, {totals.queued:,} messages queued")
    mirrored = mirror_all(ws.engine, ws.state)
    summary = {
        "run_id": run_id, "occurrence": occurrence, "as_of": as_of.isoformat(),
        "queued": totals.queued, "dead": totals.dead, "already_queued": totals.existing,
        "considered": sum(counts.values()), "breakdown": counts,
        "contact_history_rows": mirrored["contact_history"],
        "seconds": round(time.perf_counter() - started, 2),
    }  # fmt: skip
    rows_store.finish_run(run_id, summary)
    return summary
