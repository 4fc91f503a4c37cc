"""The daily decision run: features → scored pairs → arbitration → control groups → `decisions`.

`run_decisions(ws, day=...)` is what `cvm decide run` and the loop (`cvm.pipeline`) call.
`compute_decisions` does the same without writing (the what-if simulation uses it).

Global-control customers are not part of the arbitration (they are never contacted and must
not consume budget or capacity); their would-be offer is logged for evaluation: each gets its
best pair by the score adjusted with the solved dual prices — what the policy would have done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.decide.arbitration import Allocation, solve
from cvm.decide.config import DecideSettings, load_decide_settings
from cvm.decide.contact_policy import INBOUND_CHANNELS, next_allowed_send_times
from cvm.decide.control_groups import assignment_probability, offer_control_sql
from cvm.decide.eligibility import feature_query, layout_for
from cvm.decide.greedy_solver import Coupling, _Inner
from cvm.decide.offer_store import load_offers
from cvm.decide.offers import Offer, active_offers
from cvm.decide.scoring import Candidates, build_candidates
from cvm.decide.summary import summarize
from cvm.decide.tables import DECISION_RUNS, DECISIONS, ensure_decide_tables
from cvm.engine.base import Engine
from cvm.segments.context import utc_naive

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace

Progress = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass
class DecisionSet:
    """A run's decisions in memory (written by `write_decisions`)."""

    run_id: str
    day: dt.date
    as_of: dt.datetime
    offers: list[Offer]
    settings: DecideSettings
    candidates: Candidates
    allocation: Allocation
    rows: pa.Table
    full_index: np.ndarray  # candidate pair of each row
    summary: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def decision_moment(day: dt.date, now: dt.datetime | None = None) -> dt.datetime:
    """Now when deciding for today; midnight UTC of ``day`` otherwise."""
    now = utc_naive(now)
    return now if now.date() == day else dt.datetime.combine(day, dt.time())


def _shadow_choice(cands: Candidates, allocation: Allocation) -> np.ndarray:
    """Pairs of the global control: best by the dual-adjusted score, per customer."""
    shadow = cands.shadow
    if shadow.n_pairs == 0:
        return np.zeros(0, dtype=np.int64)
    canonical, order = shadow.canonical()
    coupling = Coupling.of(canonical)
    mu = np.array([allocation.duals.get(name, 0.0) for name in coupling.names])
    a = coupling.adjusted(canonical, mu) if len(mu) else canonical.score
    chosen = _Inner(canonical).choose(a)
    return np.sort(order[np.flatnonzero(chosen)])


def compute_decisions(
    engine: Engine,
    offers: Sequence[Offer],
    settings: DecideSettings,
    *,
    day: dt.date,
    consent_policy: str = "opt_in",
    timezone: str = "UTC",
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> DecisionSet:
    """Everything `run_decisions` does except writing."""
    from cvm.segments.store import SegmentStore

    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ensure_decide_tables(engine)
    active = active_offers(offers, day)
    as_of = decision_moment(day, now)
    layout = layout_for(active, settings)
    say(f"reading features for {len(active)} active offer(s)")
    store = SegmentStore(
        engine, consent_policy="opt_out" if consent_policy == "opt_out" else "opt_in"
    )
    query = feature_query(
        layout, settings, store.context(as_of), consent_policy=consent_policy, day=day
    )
    features = engine.fetch_arrow(query)
    timings["features"] = time.perf_counter() - started
    say(f"scoring {features.num_rows:,} customer(s)")
    t = time.perf_counter()
    cands = build_candidates(features, layout, settings)
    timings["scoring"] = time.perf_counter() - t
    say(f"arbitrating {cands.problem.n_pairs:,} pair(s)")
    t = time.perf_counter()
    arb = settings.arbitration
    allocation = solve(cands.problem, arb.solver, arb.exact_max_pairs)
    timings["arbitration"] = time.perf_counter() - t
    if allocation.minimums_infeasible:
        # offer ids and counts only (no customer data)
        reasons = "; ".join(allocation.minimums_infeasible)
        log.warning("minimum offer volumes cannot all be met (met as far as possible): %s", reasons)
        say(f"minimum volumes cannot all be met: {reasons}")
    t = time.perf_counter()
    rows, full_index = _decision_rows(
        engine, cands, allocation, active, settings, day, as_of, timezone
    )
    timings["controls"] = time.perf_counter() - t
    run_id = f"{day.isoformat()}-{uuid.uuid4().hex[:8]}"
    rows = rows.set_column(0, "run_id", pa.array([run_id] * rows.num_rows, pa.string()))
    result = DecisionSet(
        run_id, day, as_of, active, settings, cands, allocation, rows, full_index, timings=timings
    )
    result.summary = summarize(result)
    result.timings["total"] = time.perf_counter() - started
    return result


def _offer_controls(
    engine: Engine,
    ids: np.ndarray,
    offer_ids: np.ndarray,
    shares: dict[str, float],
    salts: dict[str, str],
) -> np.ndarray:
    """The offer control flag of each decision, hashed by the engine (same hash as Python)."""
    if len(ids) == 0:
        return np.zeros(0, dtype=bool)
    view = "__cvm_decide_controls"
    engine.register_arrow(
        view,
        pa.table(
            {
                "i": np.arange(len(ids)),
                "customer_id": pa.array(ids, pa.string()),
                "offer_id": pa.array(offer_ids, pa.string()),
            }
        ),
    )
    try:
        flag = offer_control_sql(
            exp.column("customer_id"), exp.column("offer_id"), shares, salts, engine.dialect
        )
        table = engine.fetch_arrow(
            exp.select(exp.column("i"), flag.as_("held")).from_(view).order_by("i")
        )
    finally:
        engine.unregister(view)
    return table.column("held").to_numpy(zero_copy_only=False).astype(bool)


def _decision_rows(
    engine: Engine,
    cands: Candidates,
    allocation: Allocation,
    offers: list[Offer],
    settings: DecideSettings,
    day: dt.date,
    as_of: dt.datetime,
    timezone: str,
) -> tuple[pa.Table, np.ndarray]:
    problem, shadow = cands.problem, cands.shadow
    picked = np.flatnonzero(allocation.chosen)
    picked_s = _shadow_choice(cands, allocation)
    full = np.r_[cands.treat_index[picked], cands.shadow_index[picked_s]].astype(np.int64)
    cust = np.r_[problem.customer[picked], shadow.customer[picked_s]].astype(np.int64)
    off = np.r_[problem.offer[picked], shadow.offer[picked_s]].astype(np.int64)
    chn = np.r_[problem.channel[picked], shadow.channel[picked_s]].astype(np.int64)
    score = np.r_[problem.score[picked], shadow.score[picked_s]]
    cost = np.r_[problem.cost[picked], shadow.cost[picked_s]]
    is_global = np.r_[np.zeros(len(picked), bool), np.ones(len(picked_s), bool)]
    ids = cands.customer_ids[cust]
    offer_ids = (
        np.array([o.id for o in offers], dtype=object)[off] if len(offers) else np.zeros(0, object)
    )
    default_share = settings.control.offer_share
    shares = {
        o.id: (o.control_share if o.control_share is not None else default_share) for o in offers
    }
    salts = {o.id: o.control_salt for o in offers}
    control = _offer_controls(engine, ids, offer_ids, shares, salts) & ~is_global
    offer_share = np.array([shares[o.id] for o in offers], dtype=float)[off]
    g_share = settings.control.global_.share
    propensity = assignment_probability(g_share, offer_share, is_global, control)
    channel_names = np.array(problem.channel_names, dtype=object)
    channels = channel_names[chn] if len(chn) else np.zeros(0, object)
    zones = cands.time_zone[cust]
    fallback = settings.policy.timezone or timezone
    send_after = next_allowed_send_times(as_of, zones, settings.policy.quiet_hours, fallback)
    inbound = np.isin(np.array(problem.channel_names, dtype=object), INBOUND_CHANNELS)[chn]
    send_after[inbound] = np.datetime64(as_of, "us")
    reason = np.where(
        is_global,
        "global control: not contacted (would-be offer logged)",
        np.where(control, "offer control: held out", "highest expected incremental profit"),
    )
    # one JSON text per (offer, channel), looked up by index rather than per decision
    n_ch = len(problem.channel_names)
    lever_text = np.full(max(len(offers), 1) * n_ch, "{}", dtype=object)
    for (o, h), text in cands.levers_json.items():
        lever_text[o * n_ch + h] = text
    levers = lever_text[off * n_ch + chn]
    n = len(full)
    table = pa.table(
        {
            "run_id": pa.array([""] * n, pa.string()),
            "decision_date": pa.array([day] * n, pa.date32()),
            "customer_id": pa.array(ids, pa.string()),
            "offer_id": pa.array(offer_ids, pa.string()),
            "channel": pa.array(channels, pa.string()),
            "score": pa.array(score, pa.float64()),
            "expected_profit": pa.array(cands.profit[full], pa.float64()),
            "uplift": pa.array(cands.uplift[full], pa.float64()),
            "value": pa.array(cands.value[full], pa.float64()),
            "cost": pa.array(cost, pa.float64()),
            "levers": pa.array(levers, pa.string()),
            "control": pa.array(control, pa.bool_()),
            "global_control": pa.array(is_global, pa.bool_()),
            "contact": pa.array(~control & ~is_global, pa.bool_()),
            "assignment_probability": pa.array(propensity, pa.float64()),
            "send_after": pa.array(send_after, pa.timestamp("us")),
            "reason": pa.array(reason, pa.string()),
        }
    )
    return table, full


def write_decisions(engine: Engine, result: DecisionSet) -> None:
    """Replace the decisions of ``result.day`` with this run's and record the run."""
    from cvm.engine.sql import literal

    ensure_decide_tables(engine)
    engine.execute(
        exp.delete(exp.to_table(DECISIONS.name)).where(
            exp.column("decision_date").eq(literal(result.day))
        )
    )
    engine.write_arrow(DECISIONS.name, result.rows)
    run = pa.table(
        {
            "run_id": [result.run_id],
            "decision_date": pa.array([result.day], pa.date32()),
            "created_at": pa.array([utc_naive(None)], pa.timestamp("us")),
            "solver": [result.allocation.solver],
            "objective": [result.allocation.objective],
            "bound": pa.array([result.allocation.bound], pa.float64()),
            "summary": [json.dumps(result.summary, default=str)],
        }
    )
    engine.write_arrow(DECISION_RUNS.name, run)


def run_decisions(
    ws: Workspace,
    *,
    day: dt.date | None = None,
    settings: DecideSettings | None = None,
    offers: Sequence[Offer] | None = None,
    write: bool = True,
    progress: Progress | None = None,
) -> DecisionSet:
    """Decide the day's offers for the whole base and write them to `decisions`.

    Offers scored by their prior (no uplift model score for a customer) start from the
    posterior that measurement learned (`offer_priors`, `learned_priors`), so the loop's
    feedback reaches the next decisions.
    """
    day = day or utc_naive(None).date()
    settings = settings or load_decide_settings(ws.root)
    offers = list(offers) if offers is not None else load_offers(ws.engine)
    offers, posteriors = learned_priors(ws.engine, offers)
    if posteriors:
        (progress or (lambda _m: None))(
            "uplift posteriors from measured campaigns: "
            + ", ".join(
                f"{k} {v['prior']:.4f} → {v['posterior']:.4f}" for k, v in posteriors.items()
            )
        )
    result = compute_decisions(
        ws.engine,
        offers,
        settings,
        day=day,
        consent_policy=ws.settings.consent.policy,
        timezone=ws.settings.workspace.timezone,
        progress=progress,
    )
    result.summary["offer_posteriors"] = posteriors
    if write:
        (progress or (lambda _m: None))(f"writing {result.rows.num_rows:,} decision(s)")
        write_decisions(ws.engine, result)
        path = ws.runs_dir / f"decide-{result.run_id}.json"
        path.write_text(json.dumps(result.summary, indent=2, default=str), encoding="utf-8")
    return result


def learned_priors(
    engine: Engine, offers: list[Offer]
) -> tuple[list[Offer], dict[str, dict[str, float]]]:
    """The offers with ``uplift.prior`` replaced by the measured posterior mean
    (`cvm.results.feedback_loop.offers_with_priors`), and which offers took one (logged)."""
    from cvm.results.feedback_loop import load_offer_priors, offers_with_priors

    priors = load_offer_priors(engine)
    if priors.empty:
        return offers, {}
    updated = offers_with_priors(offers, priors)
    took = {
        new.id: {"prior": old.uplift.prior, "posterior": new.uplift.prior}
        for old, new in zip(offers, updated, strict=True)
        if new.uplift != old.uplift
    }
    for offer_id, change in took.items():
        # offer ids and rates only: no customer data in the log
        log.info(
            "offer %s: uplift prior %.4f replaced by the measured posterior %.4f",
            offer_id,
            change["prior"],
            change["posterior"],
        )
    return updated, took


def decide_stage(ws: Workspace, as_of: dt.date | None, step: Progress) -> dict[str, Any]:
    """The loop's stage (`cvm.pipeline` signature): decide for ``as_of`` (default today)."""
    offers = load_offers(ws.engine)
    if not offers:
        return {"skipped": "no offers in the catalogue; load some with `cvm offers load FILE`"}
    result = run_decisions(ws, day=as_of, offers=offers, progress=step)
    s = result.summary
    keys = ("run_id", "date", "decisions", "contacted", "offer_control", "spend")
    return {
        **{k: s[k] for k in keys},
        "expected_profit": s["expected_profit"],
        "binding": s["binding"],
    }
