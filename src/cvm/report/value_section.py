"""Report sections for KPIs and customer value."""

from __future__ import annotations

import json

import pandas as pd

from cvm.report import charts
from cvm.report.model import (
    ChartBlock,
    Metric,
    ReportContext,
    Section,
    change,
    money,
    number,
    percent,
    table_from_records,
)
from cvm.value.cohorts import cohort_matrix
from cvm.value.kpis import headline_kpis, kpis_by_segment, kpis_over_time, revenue_concentration
from cvm.value.rfm import compute_rfm, rfm_grid


def kpi_section(ctx: ReportContext) -> Section | None:
    monthly = kpis_over_time(ctx.engine, ctx.as_of, ctx.settings.value.churn_window_days)
    if monthly.num_rows == 0:
        return None
    head = headline_kpis(monthly)
    ctx.cache["headline"] = head
    cur = ctx.currency
    section = Section(
        id="kpis",
        title="Key performance indicators",
        intro=f"Latest month: {head['month']}. Active = purchased in the last {ctx.settings.value.churn_window_days} days.",
        metrics=[
            Metric(
                "Revenue",
                money(head["revenue"], cur),
                change(head["revenue_change"]),
                _good(head["revenue_change"]),
            ),
            Metric(
                "Active customers",
                number(head["active_customers"]),
                change(head["active_customers_change"]),
                _good(head["active_customers_change"]),
            ),
            Metric(
                "ARPU",
                money(head["arpu"], cur),
                change(head["arpu_change"]),
                _good(head["arpu_change"]),
                "revenue / active customers",
            ),
            Metric(
                "Average order value",
                money(head["avg_order_value"], cur),
                change(head["avg_order_value_change"]),
                _good(head["avg_order_value_change"]),
            ),
            Metric(
                "Monthly churn rate",
                percent(head["churn_rate"]),
                change(head["churn_rate_change"]),
                _good(head["churn_rate_change"], invert=True),
            ),
            Metric("Repeat purchase rate", percent(head["repeat_purchase_rate"])),
        ],
    )
    df = monthly.to_pandas()
    section.blocks.append(ChartBlock(charts.to_html(charts.revenue_and_active(df, cur))))
    section.blocks.append(
        ChartBlock(
            charts.to_html(
                charts.kpi_trend(
                    df, "churn_rate", "Monthly churn rate", "share of last month's active customers"
                )
            )
        )
    )
    section.blocks.append(
        ChartBlock(charts.to_html(charts.kpi_trend(df, "arpu", f"ARPU by month ({cur})", cur)))
    )
    section.summary.append(
        f"Revenue in {head['month'][:7]} was {money(head['revenue'], cur)} from {number(head['active_customers'])} active customers "
        f"(ARPU {money(head['arpu'], cur)}); monthly churn {percent(head['churn_rate'])}."
    )
    return section


def value_section(ctx: ReportContext) -> Section | None:
    profiles = ctx.engine.fetch_arrow(
        "SELECT customer_id, clv, p_alive, frequency, recency, value_tier, rfm_segment FROM profiles WHERE orders IS NOT NULL"
    ).to_pandas()
    if profiles.empty or profiles["clv"].isna().all():
        return None
    cur = ctx.currency
    shares, curve = revenue_concentration(ctx.engine, ctx.as_of)
    run = latest_value_run(ctx)
    horizon = ctx.settings.value.clv_horizon_months
    section = Section(
        id="value",
        title="Customer value",
        intro=f"CLV = expected discounted margin over the next {horizon} months ({ctx.settings.value.purchase_model} purchases × Gamma-Gamma spend × margin {ctx.settings.value.margin:.0%}).",
        metrics=[
            Metric(f"Total CLV ({horizon} m)", money(float(profiles["clv"].sum()), cur)),
            Metric("Average CLV", money(float(profiles["clv"].mean()), cur)),
            Metric("Mean P(alive)", percent(float(profiles["p_alive"].mean()))),
            Metric("Revenue from top 10%", percent(shares.get("top_10pct"))),
            Metric("Revenue from top 1%", percent(shares.get("top_1pct"))),
        ],
    )
    section.blocks.append(ChartBlock(charts.to_html(charts.clv_distribution(profiles["clv"], cur))))
    rfm = compute_rfm(ctx.engine, ctx.as_of)
    section.blocks.append(ChartBlock(charts.to_html(charts.rfm_grid(rfm_grid(rfm).to_pandas()))))
    section.blocks.append(ChartBlock(charts.to_html(charts.p_alive_heatmap(profiles))))
    if run and "by_frequency" in run.get("validation", {}):
        val = run["validation"]
        section.blocks.append(
            ChartBlock(
                charts.to_html(charts.calibration_holdout(pd.DataFrame(val["by_frequency"]))),
                f"Fitted on data up to {val['calibration_end']}, predicting the next {val['holdout_days']} days: "
                f"predicted {number(val['predicted_total'])} vs actual {number(val['actual_total'])} repeat purchases "
                f"({val['total_error_pct']:+.1f}%), correlation {val['correlation']:.2f}.",
            )
        )
    cohorts = cohort_matrix(ctx.engine, ctx.as_of).to_pandas()
    if not cohorts.empty:
        section.blocks.append(ChartBlock(charts.to_html(charts.cohort_heatmap(cohorts))))
    section.blocks.append(ChartBlock(charts.to_html(charts.concentration_curve(curve.to_pandas()))))
    if run:
        params = run["purchase_model"].get("params", {})
        section.blocks.append(
            table_from_records(
                f"Fitted {run['purchase_model']['name']} parameters (run {run['run_id']})",
                [{"parameter": k, "value": v} for k, v in params.items()]
                + [
                    {"parameter": f"gamma-gamma {k}", "value": v}
                    for k, v in run["spend_model"].get("params", {}).items()
                ],
                {"parameter": None, "value": lambda v: f"{v:.4g}"},
            )
        )
    for dimension in ("value_tier", "rfm_segment"):
        by = kpis_by_segment(
            ctx.engine, dimension, ctx.as_of, churn_window_days=ctx.settings.value.churn_window_days
        ).to_pylist()
        section.blocks.append(
            table_from_records(
                f"KPIs by {dimension.replace('_', ' ')} (revenue over the last 365 days)",
                by,
                {
                    "segment": None,
                    "customers": number,
                    "active_customers": number,
                    "revenue": lambda v: money(v, cur),
                    "arpu": lambda v: money(v, cur),
                    "repeat_purchase_rate": percent,
                    "mean_clv": lambda v: money(v, cur),
                    "mean_p_alive": percent,
                },
            )
        )
    section.summary.append(
        f"Customers are worth {money(float(profiles['clv'].sum()), cur)} in expected margin over the next {horizon} months; "
        f"the top 10% of customers bring {percent(shares.get('top_10pct'))} of revenue."
    )
    return section


def latest_value_run(ctx: ReportContext) -> dict | None:  # type: ignore[type-arg]
    runs = sorted(ctx.runs_dir.glob("value-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text()) if runs else None


def _good(delta: float | None, invert: bool = False) -> bool | None:
    if delta is None or abs(delta) < 1e-9:
        return None
    return (delta > 0) != invert
