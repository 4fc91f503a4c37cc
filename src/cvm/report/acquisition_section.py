"""Report section for acquisition economics: CAC, CLV/CAC and payback per channel, CLV/CAC by
signup cohort over time, and the method. None when no marketing spend is loaded."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvm.acquisition import AcquisitionSummary, summarize_acquisition
from cvm.acquisition.queries import spend_rows
from cvm.core.errors import UserInputError
from cvm.report import charts
from cvm.report.model import (
    ChartBlock,
    Metric,
    ReportContext,
    Section,
    TableBlock,
    money,
    number,
    table_from_records,
)


def acquisition_section(ctx: ReportContext) -> Section | None:
    if not ctx.engine.table_exists("marketing_spend") or spend_rows(ctx.engine) == 0:
        return None
    try:
        result = summarize_acquisition(ctx.engine, ctx.settings, as_of=ctx.as_of)
    except UserInputError as err:  # e.g. spend in another currency: say so, keep the report
        return Section(
            id="acquisition",
            title="Acquisition economics",
            intro="Not computed: the data needs fixing first.",
            blocks=[TableBlock("Data error", ["error"], [[err.message]])],
        )
    cur = result.currency
    totals = result.totals
    paid = [r for r in result.channels if r["paid"] and r["cac"] is not None]
    section = Section(
        id="acquisition",
        title="Acquisition economics",
        intro=(
            "What each acquisition channel costs per new customer (CAC), what those customers "
            "are worth (CLV/CAC) and how many months their margin takes to pay the cost back."
        ),
        metrics=[
            Metric("Marketing spend", money(totals["spend"], cur)),
            Metric("New customers", number(totals["new_customers"])),
            Metric(
                "Paid CAC",
                money(totals["paid_cac"], cur),
                help="spend / customers of paid channels",
            ),
            Metric(
                "Blended CAC",
                money(totals["blended_cac"], cur),
                help="spend / all new customers, organic included",
            ),
            Metric("Paid CLV/CAC", _ratio(totals["paid_clv_cac"])),
        ],
    )
    if paid:
        section.blocks.append(ChartBlock(charts.to_html(_channel_bars(paid, cur))))
    cohort_chart = _cohort_lines(result)
    if cohort_chart is not None:
        section.blocks.append(ChartBlock(charts.to_html(cohort_chart)))
    section.blocks.append(
        table_from_records(
            f"By acquisition channel ({cur})",
            result.channels,
            {
                "channel": None,
                "spend": lambda v: money(v, ""),
                "new_customers": number,
                "cac": lambda v: money(v, ""),
                "realised_value": lambda v: money(v, ""),
                "predicted_clv": lambda v: money(v, ""),
                "clv_cac": _ratio,
                "payback": None,
            },
            note="Channels without spend are unpaid: they count in blended CAC only.",
        )
    )
    section.blocks.append(
        TableBlock("Method", ["step"], [[line] for line in result.method], note=None)
    )
    if result.warnings:
        section.blocks.append(
            TableBlock("Data warnings", ["warning"], [[w] for w in result.warnings])
        )
    section.summary.append(_sentence(result, paid))
    return section


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _channel_bars(paid: list[dict[str, Any]], currency: str) -> go.Figure:
    """CAC, CLV/CAC and payback side by side, one bar per paid channel."""
    names = [r["channel"] for r in paid]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            f"CAC ({currency} per new customer)",
            "CLV/CAC (×; dotted: break-even)",
            "Payback (months of life)",
        ),
        horizontal_spacing=0.08,
    )
    fig.add_bar(x=names, y=[r["cac"] for r in paid], name="CAC", row=1, col=1)
    fig.add_bar(x=names, y=[r["clv_cac"] for r in paid], name="CLV/CAC", row=1, col=2)
    fig.add_hline(y=1.0, line_dash="dot", line_color="#888", row=1, col=2)  # type: ignore[arg-type]
    fig.add_bar(
        x=names, y=[r["payback_months"] for r in paid], name="paid back (observed)", row=1, col=3
    )
    fig.add_bar(
        x=names,
        y=[r["projected_payback_months"] if r["payback_months"] is None else None for r in paid],
        name="not yet: projected from residual CLV",
        row=1,
        col=3,
    )
    fig.update_layout(barmode="overlay")
    charts._layout(  # noqa: SLF001 (the shared report style)
        fig, "Paid acquisition channels: cost, value and payback", "", "", height=420
    )
    fig.update_layout(margin={"l": 60, "r": 20, "t": 90, "b": 50})  # room for subplot titles
    return fig


def _cohort_lines(result: AcquisitionSummary) -> go.Figure | None:
    lines: dict[str, tuple[list[str], list[float]]] = {}
    for row in result.cohorts:
        if row["paid"] and row["clv_cac"] is not None:
            xs, ys = lines.setdefault(row["channel"], ([], []))
            xs.append(row["cohort"])
            ys.append(row["clv_cac"])
    if not lines:
        return None
    fig = go.Figure()
    for channel, (xs, ys) in sorted(lines.items()):
        fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=channel)
    fig.add_hline(y=1.0, line_dash="dot", line_color="#888")
    fig.update_yaxes(type="log")  # ratios: 0.5 and 2 sit equally far from break-even
    return charts._layout(  # noqa: SLF001
        fig, "CLV/CAC by signup cohort (log scale)", "signup month", "CLV/CAC (×)"
    )


def _sentence(result: AcquisitionSummary, paid: list[dict[str, Any]]) -> str:
    cur = result.currency
    totals = result.totals
    text = (
        f"Acquisition spend of {money(totals['spend'], cur)} brought "
        f"{number(totals['new_customers'])} customers: paid CAC {money(totals['paid_cac'], cur)}, "
        f"blended {money(totals['blended_cac'], cur)}"
    )
    ranked = sorted(
        (r for r in paid if r["clv_cac"] is not None), key=lambda r: r["clv_cac"], reverse=True
    )
    if ranked:
        best, worst = ranked[0], ranked[-1]
        text += (
            f"; CLV/CAC ranges from {_ratio(best['clv_cac'])} ({best['channel']}) "
            f"to {_ratio(worst['clv_cac'])} ({worst['channel']})"
        )
    return text + "."
