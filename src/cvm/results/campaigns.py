"""Measure a campaign from the warehouse, store its results, list what can be measured.

`measure_campaign` is the one path every campaign takes — cvm's own, ones run elsewhere and
ingested into `campaign_assignments`, and the Hillstrom experiment: assignments → per-customer
frame (`cvm.results.frames`) → costs → `cvm.measure.campaign_results.measure_campaign_frame`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.timewindows import utc_now
from cvm.engine.base import Engine
from cvm.engine.sql import literal
from cvm.measure.campaign_results import (
    DEFAULT_COVARIATES,
    OVERALL,
    CampaignMeasurement,
    measure_campaign_frame,
)
from cvm.measure.cuped import Covariate
from cvm.results.costs import ContactCosts
from cvm.results.frames import campaign_frame
from cvm.results.tables import CAMPAIGN_MEASUREMENTS, CAMPAIGN_RESULTS, ensure_result_tables


@dataclass(frozen=True)
class MeasureRequest:
    """How to measure one campaign (CLI options, `measure.toml`, or the loop's defaults)."""

    window_days: int = 14
    as_of: dt.datetime | None = None
    by: tuple[str, ...] = ()
    cuped: bool = False
    covariates: tuple[str, ...] = ()  # extra: trait.NAME (declared pre-period), profile.NAME
    margin_rate: float = 0.30
    pre_days: int = 365
    alpha: float = 0.05
    costs: ContactCosts = ContactCosts()
    bootstrap_seed: int | None = None  # BCa bootstrap intervals for money outcomes


def _covariates(names: Sequence[str]) -> list[Covariate]:
    out = list(DEFAULT_COVARIATES)
    for name in names:
        if name.startswith("profile."):
            out.append(Covariate(name, measured_at=f"{name}@"))
        else:  # a trait or a frame column the user declares as measured before assignment
            out.append(Covariate(name, measured_before_assignment=True))
    return out


def measure_campaign(
    engine: Engine, campaign_id: str, request: MeasureRequest
) -> tuple[CampaignMeasurement, pd.DataFrame]:
    """Measure one campaign; returns the measurement and the per-customer frame it used."""
    as_of = request.as_of or utc_now()
    extra = [c for c in (*request.by, *request.covariates) if "." in c or ":" in c]
    frame = campaign_frame(
        engine,
        campaign_id,
        window_days=request.window_days,
        as_of=as_of,
        margin_rate=request.margin_rate,
        pre_days=request.pre_days,
        extra=list(dict.fromkeys(extra)),
    )
    for name in request.covariates:
        if name.startswith("trait."):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").fillna(0.0)
    frame, cost_warnings = request.costs.apply(frame)
    measurement = measure_campaign_frame(
        frame,
        campaign_id=campaign_id,
        window_days=request.window_days,
        as_of=as_of,
        by=request.by,
        cuped=request.cuped,
        covariates=_covariates(request.covariates),
        alpha=request.alpha,
        mean_interval="welch" if request.bootstrap_seed is None else "bootstrap",
        seed=request.bootstrap_seed,
    )
    measurement.warnings.extend(cost_warnings)
    return measurement, frame


def _value(v: Any) -> Any:
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def store_measurement(
    engine: Engine,
    m: CampaignMeasurement,
    *,
    as_of: dt.datetime,
    cost_source: str,
    margin_source: str,
) -> int:
    """Replace the campaign's stored rows for the breakdowns measured now; returns rows written."""
    ensure_result_tables(engine)
    now = utc_now()
    rows = [
        {**{k: _value(v) for k, v in r.items()}, "measured_at": now, "as_of": as_of}
        for r in m.rows()
    ]
    columns = [c.name for c in CAMPAIGN_RESULTS.columns]
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
    breakdowns = sorted({r["breakdown_column"] for r in rows} | {OVERALL})
    target = exp.to_table(CAMPAIGN_RESULTS.name)
    engine.execute(
        exp.delete(target).where(
            exp.and_(
                exp.column("campaign_id").eq(literal(m.campaign_id)),
                exp.column("breakdown_column").isin(*[literal(b) for b in breakdowns]),
            )
        )
    )
    if rows:
        engine.write_arrow(CAMPAIGN_RESULTS.name, table)
    engine.execute(
        exp.delete(exp.to_table(CAMPAIGN_MEASUREMENTS.name)).where(
            exp.column("campaign_id").eq(literal(m.campaign_id))
        )
    )
    summary = {
        "campaign_id": m.campaign_id,
        "measured_at": now,
        "as_of": as_of,
        "window_days": m.window_days,
        "window_complete": m.window_complete,
        "assigned_from": m.assigned_from,
        "assigned_to": m.assigned_to,
        "customers": int(sum(m.arms.values())),
        "controls": int(m.arms.get("control", 0)),
        "arms": json.dumps(m.arms),
        "cuped": json.dumps(m.cuped),
        "cost_source": cost_source,
        "margin_source": margin_source,
        "warnings": json.dumps(m.warnings),
    }
    engine.write_arrow(CAMPAIGN_MEASUREMENTS.name, pa.Table.from_pylist([summary]))
    return len(rows)


_LIST = """
SELECT a.campaign_id, count(*) AS customers,
       count(*) FILTER (WHERE coalesce(a.is_control, a.arm = 'control')) AS controls,
       count(DISTINCT a.arm) FILTER (WHERE NOT coalesce(a.is_control, a.arm = 'control')) AS arms,
       min(a.assigned_at) AS first_assigned, max(a.assigned_at) AS last_assigned
FROM campaign_assignments AS a GROUP BY a.campaign_id ORDER BY last_assigned DESC, a.campaign_id
"""

_HEADLINE = """
SELECT campaign_id, arm, metric, absolute_lift, absolute_low, absolute_high, p_adjusted,
       incremental, roi, measured_at, window_days
FROM campaign_results
WHERE breakdown_column = 'all' AND metric IN ('converted', 'revenue')
"""


def list_campaigns(engine: Engine) -> list[dict[str, Any]]:
    """Every campaign with assignments: sizes, dates and its latest headline result."""
    if not engine.table_exists("campaign_assignments"):
        return []
    rows = engine.fetch_arrow(_LIST).to_pylist()
    heads: dict[str, list[dict[str, Any]]] = {}
    if engine.table_exists(CAMPAIGN_RESULTS.name):
        for r in engine.fetch_arrow(_HEADLINE).to_pylist():
            heads.setdefault(str(r["campaign_id"]), []).append(r)
    for row in rows:
        found = heads.get(str(row["campaign_id"]), [])
        conv = [h for h in found if h["metric"] == "converted"]
        row["measured_at"] = found[0]["measured_at"] if found else None
        row["window_days"] = found[0]["window_days"] if found else None
        row["best_lift"] = max((h["absolute_lift"] for h in conv), default=None)
        row["significant"] = any((h["p_adjusted"] or 1) < 0.05 for h in conv) if conv else None
        rev = [h for h in found if h["metric"] == "revenue"]
        row["incremental_revenue"] = sum(h["incremental"] or 0 for h in rev) if rev else None
    return rows


def stored_results(engine: Engine, campaign_id: str | None = None) -> pd.DataFrame:
    """Stored `campaign_results` rows (all campaigns, or one)."""
    if not engine.table_exists(CAMPAIGN_RESULTS.name):
        return pd.DataFrame(columns=[c.name for c in CAMPAIGN_RESULTS.columns])
    query = exp.select("*").from_(CAMPAIGN_RESULTS.name)
    if campaign_id is not None:
        query = query.where(exp.column("campaign_id").eq(literal(campaign_id)))
    return engine.fetch_arrow(query).to_pandas()


def stored_measurements(engine: Engine) -> pd.DataFrame:
    if not engine.table_exists(CAMPAIGN_MEASUREMENTS.name):
        return pd.DataFrame(columns=[c.name for c in CAMPAIGN_MEASUREMENTS.columns])
    query = exp.select("*").from_(CAMPAIGN_MEASUREMENTS.name).order_by("assigned_to")
    return engine.fetch_arrow(query).to_pandas()
