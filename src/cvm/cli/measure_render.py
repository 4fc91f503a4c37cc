"""Rich tables for `cvm measure`: what a campaign, the program and a sizing look like in a
terminal. Numbers are formatted for reading (percentage points, money, p-values)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from cvm.cli.output import console
from cvm.measure.campaign_results import CampaignMeasurement
from cvm.measure.program import ProgramReport
from cvm.measure.results import ArmLift, MetricLift

LABELS = {
    "converted": "conversion",
    "visited": "visit",
    "revenue": "revenue / customer",
    "margin": "margin / customer",
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
}


def _ok(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def rate_or_money(value: float | None, kind: str, currency: str) -> str:
    if not _ok(value):
        return "–"
    assert value is not None
    return f"{100 * value:.2f}%" if kind == "proportion" else f"{value:,.2f} {currency}"


def lift_text(m: MetricLift, currency: str) -> str:
    if not _ok(m.absolute_lift):
        return "–"
    if m.kind == "proportion":
        text = f"{100 * m.absolute_lift:+.2f} pp"
        ci = f"({100 * m.absolute_low:+.2f}, {100 * m.absolute_high:+.2f})"
    else:
        text = f"{m.absolute_lift:+,.2f}"
        ci = f"({m.absolute_low:+,.2f}, {m.absolute_high:+,.2f})" if _ok(m.absolute_low) else ""
    return f"{text} {ci}".strip()


def relative_text(m: MetricLift) -> str:
    if not _ok(m.relative_lift):
        return "–"
    ci = (
        f" ({100 * m.relative_low:+.0f}%, {100 * m.relative_high:+.0f}%)"
        if _ok(m.relative_low) and _ok(m.relative_high)
        else ""
    )
    return f"{100 * m.relative_lift:+.1f}%{ci}"


def p_text(p: float | None) -> str:
    if not _ok(p):
        return "–"
    assert p is not None
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def incremental_text(m: MetricLift, currency: str) -> str:
    if not _ok(m.incremental):
        return "–"
    unit = "" if m.kind == "proportion" else f" {currency}"
    ci = f" ({m.incremental_low:,.0f}, {m.incremental_high:,.0f})" if _ok(m.incremental_low) else ""
    return f"{m.incremental:+,.0f}{unit}{ci}"


def arm_table(title: str, arm: ArmLift, currency: str, alpha: float) -> Table:
    table = Table(title=title, title_justify="left")
    for col in (
        "metric",
        "treated",
        "control",
        "lift (95% CI)",
        "relative",
        "p (Holm)",
        "incremental",
    ):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in arm.metrics:
        mark = "[green]" if m.p_adjusted < alpha and m.absolute_lift > 0 else ""
        table.add_row(
            LABELS.get(m.metric, m.metric),
            rate_or_money(m.treatment_value, m.kind, currency),
            rate_or_money(m.control_value, m.kind, currency),
            f"{mark}{lift_text(m, currency)}",
            relative_text(m),
            p_text(m.p_adjusted),
            incremental_text(m, currency),
        )
    for name, value in arm.treatment_only.items():
        table.add_row(LABELS.get(name, name), f"{100 * value:.1f}%", "not compared", "", "", "", "")
    return table


def roi_line(arm: ArmLift, currency: str) -> str:
    if arm.cost is None:
        return "ROI: not computed (no contact cost known; pass --cost-per-contact)"
    if arm.roi is None:
        return f"cost {arm.cost:,.2f} {currency}; ROI undefined (zero cost)"
    return (
        f"cost {arm.cost:,.2f} {currency}; ROI {arm.roi:+.2f} "
        f"({_num(arm.roi_low)}, {_num(arm.roi_high)})  "
        "[dim](incremental margin − cost) / cost[/]"
    )


def _num(value: float | None) -> str:
    return f"{value:+.2f}" if _ok(value) else "–"


def breakdown_table(cells: Sequence[ArmLift], metric: str, currency: str, alpha: float) -> Table:
    column = cells[0].breakdown_column or ""
    table = Table(title=f"by {column}: {LABELS.get(metric, metric)}", title_justify="left")
    for col in (
        "arm",
        column,
        "treated n",
        "control n",
        "treated",
        "control",
        "lift (95% CI)",
        "p (Holm)",
        "ROI",
    ):
        table.add_column(col, justify="left" if col in ("arm", column) else "right")
    for c in cells:
        m = next((x for x in c.metrics if x.metric == metric), None)
        if m is None:
            continue
        table.add_row(
            c.arm, str(c.breakdown_value), f"{c.n_treatment:,}", f"{c.n_control:,}",
            rate_or_money(m.treatment_value, m.kind, currency),
            rate_or_money(m.control_value, m.kind, currency),
            lift_text(m, currency), p_text(m.p_adjusted), _num(c.roi),
        )  # fmt: skip
    return table


def print_campaign(m: CampaignMeasurement, currency: str) -> None:
    groups = ", ".join(f"{k} {v:,}" for k, v in m.arms.items())
    state = "complete" if m.window_complete else "[yellow]interim: window still open[/]"
    console.print(
        f"[bold]{escape(m.campaign_id)}[/]  assigned {m.assigned_from:%Y-%m-%d}"
        f"{'' if m.assigned_to.date() == m.assigned_from.date() else f' – {m.assigned_to:%Y-%m-%d}'}"
        f", {m.window_days}-day window ({state}); groups: {escape(groups)}"
    )
    if m.cuped:
        reduction = ", ".join(f"{k} −{100 * v:.1f}% variance" for k, v in m.cuped.items())
        console.print(f"CUPED on pre-period revenue and orders: {reduction}")
    alpha = m.report.alpha
    for arm in m.overall:
        console.print(arm_table(f"{arm.arm} vs {arm.control_group}", arm, currency, alpha))
        console.print(roi_line(arm, currency))
    columns = list(dict.fromkeys(c.breakdown_column for c in m.breakdowns))
    for column in columns:
        cells = [c for c in m.breakdowns if c.breakdown_column == column]
        console.print(breakdown_table(cells, "converted", currency, alpha))
        if any(x.metric == "revenue" for x in cells[0].metrics):
            console.print(breakdown_table(cells, "revenue", currency, alpha))
    for w in m.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)


def print_program(report: ProgramReport, currency: str) -> None:
    table = Table(title="all marketing vs global control, by month", title_justify="left")
    for col in (
        "month",
        "marketing n",
        "control n",
        "conversion",
        "control",
        "lift (95% CI)",
        "revenue / customer",
        "control",
        "lift (95% CI)",
        "incremental revenue",
    ):
        table.add_column(col, justify="right")
    cells = [*report.months, *([report.overall] if report.overall else [])]
    for c in cells:
        conv = next(m for m in c.metrics if m.metric == "converted")
        rev = next(m for m in c.metrics if m.metric == "revenue")
        table.add_row(
            c.breakdown_value or "whole period", f"{c.n_treatment:,}", f"{c.n_control:,}",
            rate_or_money(conv.treatment_value, "proportion", currency),
            rate_or_money(conv.control_value, "proportion", currency),
            lift_text(conv, currency),
            rate_or_money(rev.treatment_value, "mean", currency),
            rate_or_money(rev.control_value, "mean", currency),
            lift_text(rev, currency), incremental_text(rev, currency),
        )  # fmt: skip
    console.print(table)
    console.print(f"global control share: {100 * report.control_share:.1f}% of customers")
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)


def list_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "campaign": r["campaign_id"],
            "customers": r["customers"],
            "control": r["controls"],
            "arms": r["arms"],
            "assigned": f"{r['first_assigned']:%Y-%m-%d}" if r.get("first_assigned") else "",
            "measured": f"{r['measured_at']:%Y-%m-%d %H:%M}" if r.get("measured_at") else "never",
            "best conversion lift": (
                f"{100 * r['best_lift']:+.2f} pp" if r.get("best_lift") is not None else ""
            ),
            "significant": {True: "yes", False: "no"}.get(r.get("significant"), ""),  # type: ignore[arg-type]
            "incremental revenue": (
                f"{r['incremental_revenue']:,.0f}"
                if r.get("incremental_revenue") is not None
                else ""
            ),
        }
        for r in rows
    ]
