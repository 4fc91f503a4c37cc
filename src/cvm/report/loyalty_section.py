"""Report section for the loyalty programme: members, activity, tiers, redemption, liability,
and what members spend beyond comparable non-members."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from cvm.core.timewindows import end_of_day
from cvm.loyalty.incrementality import Incrementality, member_incrementality
from cvm.loyalty.metrics import ProgrammeFigures, programme_figures, tier_migration
from cvm.loyalty.programme import Programme, add_months, load_programme
from cvm.report import charts
from cvm.report.model import (
    ChartBlock,
    Metric,
    ReportContext,
    Section,
    TableBlock,
    money,
    number,
    percent,
)

POST_MONTHS = 6


def loyalty_section(ctx: ReportContext) -> Section | None:
    """None when the workspace has no programme or the loyalty stage has not run."""
    programme = load_programme(ctx.workspace_root)
    if programme is None or not ctx.engine.table_exists("loyalty_entries"):
        return None
    end = end_of_day(ctx.as_of)
    figures = programme_figures(ctx.engine, end)
    if figures.members == 0:
        return None
    cur = ctx.currency
    section = Section(
        id="loyalty",
        title=f"Loyalty programme: {programme.name}",
        intro=(
            "Members and their points from the ledger (mirrored by the loyalty stage). Active: "
            "earned or redeemed in the last 90 days. Redemption rate: points redeemed ÷ points "
            "earned in the last 12 months."
        ),
    )
    section.metrics += _metrics(figures, programme, cur)
    if programme.tiers is not None:
        section.blocks += _tier_blocks(ctx, programme, end)
    lift = member_incrementality(ctx.engine, end, POST_MONTHS)
    section.blocks.append(_incrementality_block(lift, cur))
    section.summary.append(_sentence(figures, programme, lift, cur))
    return section


def _metrics(f: ProgrammeFigures, programme: Programme, cur: str) -> list[Metric]:
    net = f.liability_net(programme.point_value)
    return [
        Metric("Members", number(f.members)),
        Metric(
            "Active members",
            number(f.active),
            help=f"{percent(f.active / f.members)} of members, last 90 days",
        ),
        Metric(
            "Redemption rate",
            percent(f.redemption_rate),
            help=f"{number(f.redeemers_12m)} members redeemed in 12 months",
        ),
        Metric(
            "Points liability",
            money(f.liability(programme.point_value), cur),
            help=f"{number(f.outstanding)} points × {programme.point_value:g} {cur}",
        ),
        Metric(
            "Liability net of breakage",
            money(net, cur),
            help=(
                f"expected breakage {percent(f.breakage)} (expired ÷ expired + redeemed so far)"
                if net is not None
                else "no points expired or redeemed yet"
            ),
        ),
    ]


def _tier_blocks(
    ctx: ReportContext, programme: Programme, end: dt.datetime
) -> list[TableBlock | ChartBlock]:
    assert programme.tiers is not None
    order = [level.name for level in programme.tiers.levels]
    start = add_months(dt.datetime.combine(ctx.as_of, dt.time()), -12).date()
    matrix = tier_migration(ctx.engine, start, ctx.as_of, end, order)
    now = matrix.sum(axis=0)
    distribution = pd.DataFrame({"tier": order, "members": [int(now[t]) for t in order]})
    bars = charts.bar(
        distribution, "tier", "members", f"Members per tier on {ctx.as_of}", "tier", "members"
    )
    heat = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            text=matrix.to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "members"},
        )
    )
    heat.update_layout(
        title={"text": f"Tier migration: {start} (rows) → {ctx.as_of} (columns)", "x": 0.01},
        xaxis_title=f"tier on {ctx.as_of}",
        yaxis_title=f"tier on {start}",
        yaxis={"autorange": "reversed"},  # read top-down, like the table below
        height=380,
        template="plotly_white",
        margin={"l": 110, "r": 20, "t": 50, "b": 50},
    )
    diagonal = sum(int(matrix.at[t, t]) for t in order)
    kept = sum(int(matrix.loc[t].sum()) for t in order)
    up = sum(int(matrix.at[a, b]) for i, a in enumerate(order) for b in order[i + 1 :])
    down = kept - diagonal - up
    rows = [[label, *[number(matrix.at[label, t]) for t in order]] for label in matrix.index]
    return [
        ChartBlock(charts.to_html(bars)),
        ChartBlock(
            charts.to_html(heat),
            caption=(
                f"Of {number(kept)} members a year ago, {number(up)} moved up, {number(down)} "
                f"moved down, {number(diagonal)} kept their tier. Upgrades happen on the day "
                f"rolling {programme.tiers.basis} crosses a threshold; downgrades after "
                f"{programme.tiers.grace_months} month(s) of grace."
            ),
        ),
        TableBlock("Tier migration (members)", ["a year ago \\ now", *order], rows),
    ]


def _incrementality_block(lift: Incrementality | None, cur: str) -> TableBlock:
    method = (
        "Method: members are compared with customers who had not joined, looked at from the "
        "same enrolment month and matched on their behaviour in the 12 months before it "
        "(coarsened exact matching on recency, order count and spend quintile); the difference "
        f"is spend in the {POST_MONTHS} months after the enrolment month, weighted by members "
        "per stratum, with a 95% normal interval. It removes differences that show in past "
        "purchases, not those that do not (what made someone join)."
    )
    if lift is None:
        return TableBlock(
            "Incremental value of members",
            ["result"],
            [[f"not measurable yet: no cohort has {POST_MONTHS} months after enrolment"]],
            note=method,
        )
    rows = [
        ["members matched", number(lift.members_matched)],
        ["members without comparables (left out)", number(lift.members_unmatched)],
        ["comparable non-members", number(lift.comparables)],
        ["enrolment cohorts", number(lift.cohorts)],
        [f"spend per member, {lift.post_months} months", money(lift.member_mean, cur)],
        ["spend per comparable non-member", money(lift.comparable_mean, cur)],
        [
            "incremental spend per member (95% CI)",
            f"{money(lift.att, cur)} ({money(lift.low, cur)} to {money(lift.high, cur)})",
        ],
    ]
    return TableBlock("Incremental value of members", ["measure", "value"], rows, note=method)


def _sentence(
    f: ProgrammeFigures, programme: Programme, lift: Incrementality | None, cur: str
) -> str:
    head = (
        f"The loyalty programme has {number(f.members)} members, {percent(f.active / f.members)} "
        f"active; outstanding points are a liability of "
        f"{money(f.liability(programme.point_value), cur)}"
    )
    if lift is None:
        return head + "."
    amount = money(abs(lift.att), cur)
    ci = f"95% CI {money(lift.low, cur)} to {money(lift.high, cur)}"
    if lift.low > 0:
        verdict = f"{amount} more per member than comparable non-members ({ci})"
    elif lift.high < 0:
        verdict = f"{amount} less per member than comparable non-members ({ci})"
    else:
        verdict = f"about as much as comparable non-members ({ci}: the interval includes zero)"
    return f"{head}. Over {lift.post_months} months after joining, members spend {verdict}."
