"""What the overview, value, models and results pages show, built from the stage functions.

Each builder returns plain data plus chart HTML (plotly figures from `cvm.report.charts`), so
`FigureCache` can keep it. Campaign results go through `cvm.results`, the one measurement path
of the CLI, the loop and the report.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from cvm.report import charts
from cvm.report.model import ReportContext, Section
from cvm.report.predict_section import predict_section
from cvm.report.segments_section import segments_section
from cvm.report.value_section import value_section
from cvm.segments.lifecycle import STAGES, stage_migration
from cvm.value.kpis import headline_kpis, kpis_over_time
from cvm.value.summaries import last_transaction_date
from cvm.workspace import Workspace

# Customers assigned by campaigns run elsewhere (canonical `campaign_assignments`) or by cvm's
# own launches (`campaign_audience`, copied into `campaign_assignments` before measuring).
_ASSIGNED = {
    "campaign_assignments": "SELECT campaign_id, customer_id, coalesce(is_control, arm = 'control') AS is_control, assigned_at FROM campaign_assignments",
    "campaign_audience": "SELECT campaign_id, customer_id, arm = 'control' AS is_control, min(recorded_at) AS assigned_at FROM campaign_audience WHERE arm IN ('treatment', 'control') AND status <> 'excluded' GROUP BY 1, 2, 3",
}


def as_of_date(ws: Workspace) -> dt.date:
    return last_transaction_date(ws.engine) or dt.date.today()


def context(ws: Workspace) -> ReportContext:
    return ReportContext(ws.engine, ws.settings, ws.root, as_of_date(ws), ws.runs_dir)


def overview(ws: Workspace) -> dict[str, Any]:
    """Headline KPIs with their change, totals, and the trend charts."""
    engine = ws.engine
    if not engine.table_exists("transactions"):
        return {"empty": True}
    as_of = as_of_date(ws)
    cur = ws.settings.workspace.currency
    monthly = kpis_over_time(engine, as_of, ws.settings.value.churn_window_days)
    if monthly.num_rows == 0:
        return {"empty": True}
    head = headline_kpis(monthly)
    customers = int(engine.fetch_scalar("SELECT count(*) FROM customers") or 0)  # type: ignore[call-overload]
    clv_total, clv_mean = (None, None)
    if engine.table_exists("profiles"):
        clv_total, clv_mean = engine.fetch_rows("SELECT sum(clv), avg(clv) FROM profiles")[0]
    df = monthly.to_pandas()
    # The last month is usually partial; trends show complete months only when possible.
    revenue = charts.revenue_and_active(df, cur)
    revenue.update_layout(margin={"r": 70})  # room for the right-hand axis title
    trend = [
        charts.to_html(revenue),
        charts.to_html(charts.kpi_trend(df, "arpu", f"ARPU by month ({cur})", cur)),
        charts.to_html(
            charts.kpi_trend(
                df, "churn_rate", "Monthly churn rate", "share of last month's active customers"
            )
        ),
    ]
    return {
        "empty": False,
        "as_of": as_of,
        "head": head,
        "customers": customers,
        "clv_total": clv_total,
        "clv_mean": clv_mean,
        "trend": trend,
        "months": len(df),
    }


def lifecycle_flow(ws: Workspace) -> str | None:
    """Sankey of customers moving between lifecycle stages over the last month."""
    if not ws.engine.table_exists("transactions"):
        return None
    as_of = dt.datetime.combine(as_of_date(ws), dt.time(23, 59))
    flows = stage_migration(ws.engine, as_of, months=1).to_pylist()
    flows = [f for f in flows if f["customers"] > 0]
    if not flows:
        return None
    index = {s: i for i, s in enumerate(STAGES)}
    n = len(STAGES)
    fig = go.Figure(
        go.Sankey(
            node={"label": [f"{s} (month ago)" for s in STAGES] + [f"{s} (now)" for s in STAGES]},
            link={
                "source": [index[f["from_stage"]] for f in flows],
                "target": [n + index[f["to_stage"]] for f in flows],
                "value": [f["customers"] for f in flows],
            },
        )
    )
    fig.update_layout(
        title={"text": "Lifecycle stage flow over the last month (customers)", "x": 0.01},
        height=420,
        margin={"l": 20, "r": 20, "t": 50, "b": 20},
    )
    return charts.to_html(fig)


def concentration(ws: Workspace) -> str | None:
    from cvm.value.kpis import revenue_concentration

    if not ws.engine.table_exists("transactions"):
        return None
    shares, curve = revenue_concentration(ws.engine, as_of_date(ws))
    if curve.num_rows == 0:
        return None
    return charts.to_html(charts.concentration_curve(curve.to_pandas()))


def section(ws: Workspace, kind: str) -> Section | None:
    """A report section (value, models or segments), the same one `cvm report` renders."""
    builders = {"value": value_section, "models": predict_section, "segments": segments_section}
    return builders[kind](context(ws))


def measured_campaigns(ws: Workspace) -> list[str]:
    """Campaign ids that have assignments, newest first."""
    ids: list[tuple[str, Any]] = []
    for table, query in _ASSIGNED.items():
        if ws.engine.table_exists(table):
            rows = ws.engine.fetch_rows(
                f"SELECT campaign_id, max(assigned_at) FROM ({query}) GROUP BY 1"  # noqa: S608 (constant)
            )
            ids += [(str(r[0]), r[1]) for r in rows]
    ids.sort(key=lambda r: r[1] or dt.datetime.min, reverse=True)
    return list(dict.fromkeys(i for i, _ in ids))


def campaign_results(ws: Workspace, campaign_id: str) -> dict[str, Any] | None:
    """Treatment against control, measured the way `cvm measure campaign` and the report do
    (`cvm.results.measure_campaign`: intent to treat over `campaign_assignments`, the window,
    margins and costs of `measure.toml` and the offers). Launches not yet copied into
    `campaign_assignments` are copied first (idempotent: only new rows)."""
    from cvm.core.errors import CvmError
    from cvm.results.assignments import sync_campaign_audiences
    from cvm.results.campaigns import measure_campaign, utc_now
    from cvm.results.config import load_measure_settings
    from cvm.results.stage import campaign_definitions, request_for

    sync_campaign_audiences(ws.engine, campaign_definitions(ws))
    settings = load_measure_settings(ws.root)
    request, cost_source = request_for(ws, campaign_id, settings, as_of=utc_now(), by=())
    out: dict[str, Any] = {"campaign_id": campaign_id, "source": "campaign_assignments"}
    try:
        m, frame = measure_campaign(ws.engine, campaign_id, request)
    except CvmError as err:
        counts = _arm_counts(ws, campaign_id)
        if not counts:
            return None
        return {**out, "counts": counts, "note": f"lift cannot be measured: {err.message}"}
    arm = m.overall[0]
    out.update(
        counts=m.arms, n_treatment=arm.n_treatment, n_control=arm.n_control,
        metrics=[x.__dict__ for x in arm.metrics],
        roi=arm.roi, roi_low=arm.roi_low, roi_high=arm.roi_high, warnings=m.warnings,
        outcome_days=m.window_days, cost_source=cost_source,
        chart=charts.to_html(_lift_chart(frame, m.window_days)),
    )  # fmt: skip
    return out


def _arm_counts(ws: Workspace, campaign_id: str) -> dict[str, int]:
    from cvm.results.campaigns import list_campaigns

    for row in list_campaigns(ws.engine):
        if row["campaign_id"] == campaign_id:
            controls = int(row["controls"])
            counts = {"treatment": int(row["customers"]) - controls, "control": controls}
            return {arm: n for arm, n in counts.items() if n}
    return {}


def _lift_chart(df: pd.DataFrame, days: int) -> go.Figure:
    df = df.assign(arm=df["is_control"].map({True: "control", False: "treatment"}))
    by = df.groupby("arm").agg(conversion=("converted", "mean"), revenue=("revenue", "mean"))
    fig = go.Figure(go.Bar(x=list(by.index), y=list(by["conversion"] * 100)))
    return charts._layout(
        fig,
        f"Purchase rate within {days} days: treatment vs control",
        "group",
        "customers who purchased (%)",
        height=300,
    )
