"""The closed loop, composed from the stages. `cvm run` runs it; every stage also runs alone.

Each stage is a function of the workspace that returns a JSON-able summary. A stage whose
inputs are absent (no transactions yet, no promoted model) is skipped with the reason, never
failed silently.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cvm.state.runs import record_stage_run
from cvm.workspace.workspace import Workspace

Step = Callable[[str], None]


@dataclass
class StageResult:
    stage: str
    status: str  # ok | skipped | failed
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)


def value_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.value.stage import run_value_stage

    run = run_value_stage(
        ws.engine,
        ws.settings.value,
        as_of=as_of,
        models_dir=ws.models_dir,
        runs_dir=ws.runs_dir,
        progress=step,
    )
    return {
        "run_id": run.run_id,
        "as_of": run.as_of.isoformat(),
        "customers": run.customers,
        "purchasers": run.purchasers,
        "total_clv": round(run.total_clv, 2),
        "model": run.purchase_model["name"],
        "holdout_error_pct": run.validation.get("total_error_pct"),
    }


def segments_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.segments.builtin import install_builtin_segments
    from cvm.segments.membership import refresh_memberships
    from cvm.segments.store import open_store
    from cvm.value.summaries import last_transaction_date

    store = open_store(ws)
    step("built-in segments")
    installed = install_builtin_segments(
        ws.engine, store=store, value_tiers=ws.settings.value.value_tiers
    )
    day = as_of or last_transaction_date(ws.engine) or dt.date.today()
    step("refreshing memberships")
    report = refresh_memberships(
        ws.engine, as_of=dt.datetime.combine(day, dt.time(23, 59, 59)), store=store
    )
    return {
        "segments": len(report.segments),
        "installed_builtin": len(installed),
        "members": sum(s.members for s in report.segments),
        "entered": sum(s.entered for s in report.segments),
        "exited": sum(s.exited for s in report.segments),
    }


def score_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.predict.stage import run_prediction_stage
    from cvm.value.summaries import last_transaction_date

    day = as_of or last_transaction_date(ws.engine)
    if day is None:
        return {"skipped": "no transactions"}
    result = run_prediction_stage(
        ws.engine, ws.models_dir, day, ws.settings.value.churn_window_days, progress=step
    )
    return {k: v for k, v in result.items() if k != "versions"}


def decide_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.decide.batch import run_decisions
    from cvm.decide.offer_store import load_offers
    from cvm.value.summaries import last_transaction_date

    offers = load_offers(ws.engine)
    if not offers:
        return {"skipped": "no offers in the catalogue (cvm offers load FILE)"}
    day = as_of or last_transaction_date(ws.engine) or dt.date.today()
    result = run_decisions(ws, day=day, offers=offers, progress=step)
    keep = (
        "run_id",
        "customers",
        "decisions",
        "contacted",
        "offer_control",
        "global_control",
        "spend",
        "expected_profit",
        "incremental_value",
    )
    return {k: result.summary.get(k) for k in keep}


def loyalty_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.loyalty.stage import loyalty_pipeline_stage

    return loyalty_pipeline_stage(ws, as_of, step)


def campaigns_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.campaigns.lifecycle import run_campaigns

    result = run_campaigns(ws, as_of, progress=step)
    return {k: v for k, v in result.items() if isinstance(v, int | float | str)}


def measure_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    # Measured before deciding, so today's decisions use what past campaigns taught
    # (offer response posteriors, retrained uplift models).
    from cvm.results.stage import measure_stage as run_measure

    summary = run_measure(ws, as_of, step)
    return {
        "assignments_recorded": summary.get("assignments_recorded"),
        "campaigns_measured": len((summary.get("campaigns") or {}).get("campaigns") or {}),
    }


def report_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    from cvm.report.builder import build_report

    path = build_report(ws, as_of=as_of, progress=step)
    return {"report": str(path)}


StageFn = Callable[[Workspace, dt.date | None, Step], dict[str, Any]]

# The loop in order; stages are appended here as they come into being.
STAGES: list[tuple[str, StageFn]] = [
    ("value", value_stage),
    # Before scoring and segments, so models and rules see the loyalty fields.
    ("loyalty", loyalty_stage),
    ("score", score_stage),
    ("segments", segments_stage),
    ("measure", measure_stage),
    ("decide", decide_stage),
    ("campaigns", campaigns_stage),
    ("report", report_stage),
]


def run_loop(
    ws: Workspace,
    *,
    as_of: dt.date | None = None,
    only: list[str] | None = None,
    step: Step | None = None,
) -> list[StageResult]:
    """Run every stage (or those named in `only`) in loop order."""
    results: list[StageResult] = []
    say: Step = step or (lambda _m: None)
    for name, fn in STAGES:
        if only and name not in only:
            continue
        started = time.perf_counter()
        say(name)

        def stage_step(msg: str, stage: str = name) -> None:
            say(f"{stage}: {msg}")

        with record_stage_run(ws.state, name) as record:
            summary = fn(ws, as_of, stage_step)
            record.update(summary)
        results.append(StageResult(name, "ok", round(time.perf_counter() - started, 2), summary))
    return results
