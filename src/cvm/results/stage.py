"""The measure stage of the loop: record assignments, measure campaigns and the program, feed
the results back (offer priors, uplift models, calibration).

`measure_stage(ws, as_of, step)` has the signature of the stages in `cvm.pipeline`; each part
that lacks its inputs is skipped with the reason. A campaign whose stored measurement already
covered its whole attribution window is final and is not measured again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cvm.core.errors import CvmError
from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.measure.campaign_results import CampaignMeasurement
from cvm.results.assignments import sync_campaign_audiences
from cvm.results.campaigns import (
    MeasureRequest,
    measure_campaign,
    store_measurement,
    stored_measurements,
    utc_now,
)
from cvm.results.config import MeasureSettings, load_measure_settings
from cvm.results.costs import campaign_costs

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace

Step = Callable[[str], None]


def stage_moment(as_of: dt.date | None) -> dt.datetime:
    """End of the ``as_of`` day (the loop's observation end), or now."""
    if as_of is None:
        return utc_now()
    return end_of_day(as_of)


def campaign_definitions(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Stored cvm campaign definitions by id (empty when the state store has none)."""
    from cvm.state.campaign_store import CampaignRows

    try:
        rows = CampaignRows(ws.state).all()
    except Exception:  # noqa: BLE001 (no campaigns yet is not an error of this stage)
        return {}
    return {str(r["id"]): r["definition"] for r in rows if isinstance(r.get("definition"), dict)}


def request_for(
    ws: Workspace,
    campaign_id: str,
    settings: MeasureSettings,
    *,
    as_of: dt.datetime,
    window_days: int | None = None,
    by: tuple[str, ...] | None = None,
    cuped: bool | None = None,
    cost_per_contact: float | None = None,
    covariates: tuple[str, ...] = (),
    bootstrap_seed: int | None = None,
) -> tuple[MeasureRequest, str]:
    """The request for one campaign (explicit options win over `measure.toml`), and the cost
    source."""
    costs = campaign_costs(ws, campaign_id, cost_per_contact or settings.cost_for(campaign_id))
    request = MeasureRequest(
        window_days=window_days or settings.window_for(campaign_id),
        as_of=as_of,
        by=tuple(settings.by) if by is None else by,
        cuped=settings.cuped_for(campaign_id) if cuped is None else cuped,
        covariates=covariates,
        margin_rate=ws.settings.value.margin,
        pre_days=settings.pre_days,
        alpha=settings.alpha,
        costs=costs,
        bootstrap_seed=bootstrap_seed,
    )
    return request, costs.source


def _final(ws: Workspace) -> set[str]:
    done = stored_measurements(ws.engine)
    if done.empty:
        return set()
    return set(done.loc[done["window_complete"].fillna(False).astype(bool), "campaign_id"])


def _useful_breakdowns(frame: pd.DataFrame, by: tuple[str, ...]) -> tuple[str, ...]:
    treated = frame[~frame["is_control"].astype(bool)]
    return tuple(c for c in by if c in frame and treated[c].nunique(dropna=True) > 1)


def measure_campaigns(ws: Workspace, as_of: dt.datetime, step: Step) -> dict[str, Any]:
    settings = load_measure_settings(ws.root)
    engine = ws.engine
    if not engine.table_exists("campaign_assignments"):
        return {"skipped": "no campaign assignments yet"}
    ids = [
        str(r[0])
        for r in engine.fetch_rows(
            "SELECT DISTINCT campaign_id FROM campaign_assignments ORDER BY 1"
        )
    ]
    final = _final(ws)
    measured: dict[str, Any] = {}
    for cid in ids:
        if cid in final:
            continue
        step(f"campaign {cid}")
        request, cost_source = request_for(ws, cid, settings, as_of=as_of, by=())
        try:
            m, frame = measure_campaign(engine, cid, request)
            useful = _useful_breakdowns(frame, tuple(settings.by))
            if useful:
                m, _ = measure_campaign(
                    engine, cid, MeasureRequest(**{**request.__dict__, "by": useful})
                )
        except CvmError as err:
            measured[cid] = f"skipped: {err.message}"
            continue
        margin_source = f"product margins, else the workspace margin {ws.settings.value.margin:.0%}"
        store_measurement(
            engine, m, as_of=as_of, cost_source=cost_source, margin_source=margin_source
        )
        conv = m.overall[0].metric("converted") if m.overall else None
        measured[cid] = {
            "complete": m.window_complete,
            "lift_pp": round(100 * conv.absolute_lift, 2) if conv else None,
            "warnings": len(m.warnings),
        }
    return {"campaigns": measured, "final_already": len(final)}


def measure_program_stage(ws: Workspace, as_of: dt.datetime) -> dict[str, Any]:
    from cvm.decide.config import load_decide_settings
    from cvm.results.program_results import measure_program, store_program

    control = load_decide_settings(ws.root).control.global_
    try:
        report = measure_program(
            ws.engine, control, as_of=as_of, margin_rate=ws.settings.value.margin
        )
    except CvmError as err:
        return {"skipped": err.message}
    store_program(ws.engine, report)
    overall = report.overall.metric("revenue") if report.overall else None
    return {
        "months": len(report.months),
        "incremental_revenue": round(overall.incremental, 2) if overall else None,
    }


def feedback_stage(ws: Workspace, as_of: dt.datetime, step: Step) -> dict[str, Any]:
    from cvm.decide.offer_store import load_offers
    from cvm.results.feedback_loop import (
        check_uplift_calibration,
        completed_campaigns,
        retrain_uplift_models,
        store_calibration,
        update_offer_priors,
    )

    settings = load_measure_settings(ws.root)
    engine = ws.engine
    out: dict[str, Any] = {}
    step("offer priors")
    posteriors = update_offer_priors(
        engine,
        load_offers(engine),
        as_of=as_of,
        window_for=settings.window_for,
        margin_rate=ws.settings.value.margin,
        default_strength=settings.prior_strength,
    )
    out["offer_priors"] = len(posteriors)
    if settings.retrain_uplift:
        step("uplift models")
        out["uplift_models"] = retrain_uplift_models(engine, ws.models_dir, as_of)
    done = completed_campaigns(engine, as_of, settings.window_for)
    checked = []
    for cid in done[-3:]:
        step(f"calibration {cid}")
        try:
            check = check_uplift_calibration(
                engine, ws.models_dir, cid, window_days=settings.window_for(cid), as_of=as_of
            )
        except CvmError as err:
            out.setdefault("calibration_skipped", {})[cid] = err.message
            continue
        if check is not None:
            store_calibration(engine, check)
            checked.append(cid)
    out["calibrated"] = checked
    return out


def measure_stage(ws: Workspace, as_of: dt.date | None, step: Step) -> dict[str, Any]:
    """The loop's measure stage (see the module docstring)."""
    moment = stage_moment(as_of)
    step("recording launch assignments")
    synced = sync_campaign_audiences(ws.engine, campaign_definitions(ws))
    summary: dict[str, Any] = {"assignments_recorded": sum(synced.values())}
    summary["campaigns"] = measure_campaigns(ws, moment, step)
    step("program vs global control")
    summary["program"] = measure_program_stage(ws, moment)
    summary["feedback"] = feedback_stage(ws, moment, step)
    return summary


def quick_measurements(
    engine: Engine, root: Path, margin_rate: float, *, as_of: dt.datetime, limit: int = 6
) -> list[CampaignMeasurement]:
    """Measure the latest campaigns without storing (for a report on a fresh workspace): the
    settings of `measure.toml`, costs from it or from the offers, no state store needed."""
    from cvm.decide.offer_store import load_offers
    from cvm.decide.scoring import expected_cost
    from cvm.results.costs import ContactCosts

    if not engine.table_exists("campaign_assignments"):
        return []
    settings = load_measure_settings(root)
    rows = engine.fetch_rows(
        "SELECT campaign_id FROM campaign_assignments GROUP BY 1 ORDER BY max(assigned_at) DESC"
    )
    offers = {(o.id, ch): expected_cost(o, ch) for o in load_offers(engine) for ch in o.channels}
    out = []
    for (cid,) in rows[:limit]:
        per_contact = settings.cost_for(str(cid))
        costs = (
            ContactCosts(per_contact=per_contact, source="measure.toml")
            if per_contact is not None
            else ContactCosts(by_offer_channel=offers, source="offer definitions")
        )
        request = MeasureRequest(
            window_days=settings.window_for(str(cid)), as_of=as_of, margin_rate=margin_rate,
            pre_days=settings.pre_days, alpha=settings.alpha, costs=costs,
            cuped=settings.cuped_for(str(cid)),
        )  # fmt: skip
        try:
            m, _ = measure_campaign(engine, str(cid), request)
        except CvmError:
            continue
        out.append(m)
    return out
