"""Report section for segments: sizes and value, lifecycle flow month over month, overlap."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from cvm.report import charts
from cvm.report.model import (
    ChartBlock,
    ReportContext,
    Section,
    money,
    number,
    percent,
    table_from_records,
)

_SIZES = """
SELECT m.segment, count(*) AS customers, avg(p.clv) AS mean_clv, sum(p.clv) AS total_clv,
       CAST(sum(p.revenue) AS DOUBLE) AS revenue, avg(p.p_alive) AS mean_p_alive
FROM segment_membership AS m LEFT JOIN profiles AS p ON p.customer_id = m.customer_id
GROUP BY m.segment ORDER BY m.segment
"""


def lifecycle_flow(migration: pd.DataFrame, months: int) -> go.Figure:
    """Sankey of customers moving between lifecycle stages (left: then, right: now)."""
    stages = list(dict.fromkeys([*migration["from_stage"], *migration["to_stage"]]))
    moved = migration[migration["customers"] > 0]
    index = {s: i for i, s in enumerate(stages)}
    fig = go.Figure(
        go.Sankey(
            node={
                "label": [f"{s} (then)" for s in stages] + [f"{s} (now)" for s in stages],
                "pad": 12,
            },
            link={
                "source": [index[s] for s in moved["from_stage"]],
                "target": [len(stages) + index[s] for s in moved["to_stage"]],
                "value": moved["customers"].tolist(),
            },
        )
    )
    fig.update_layout(
        title={
            "text": f"Lifecycle flow: customers by stage {months} month(s) ago → now",
            "x": 0.01,
        },
        height=460,
        margin={"l": 20, "r": 20, "t": 50, "b": 20},
        template="plotly_white",
    )
    return fig


def overlap_heatmap(matrix: pd.DataFrame) -> go.Figure:
    sizes = pd.Series([matrix.iloc[i, i] for i in range(len(matrix))], index=matrix.index)
    share = matrix.div(sizes.replace(0, pd.NA), axis=0).astype(float)
    fig = go.Figure(
        go.Heatmap(
            z=share.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale="Purples",
            zmin=0,
            zmax=1,
            texttemplate="%{z:.0%}",
            colorbar={"title": "share of row"},
        )
    )
    return charts._layout(
        fig,
        "Segment overlap: share of the row segment's members also in the column segment",
        "segment",
        "segment",
        height=max(380, 32 * len(matrix) + 140),
    )


def segments_section(ctx: ReportContext) -> Section | None:
    if not ctx.engine.table_exists("segment_membership"):
        return None
    sizes = ctx.engine.fetch_arrow(_SIZES).to_pandas()
    if sizes.empty:
        return None
    from cvm.segments.lifecycle import stage_migration
    from cvm.segments.query import segment_overlap
    from cvm.segments.store import SegmentStore

    cur = ctx.currency
    as_of = dt.datetime.combine(ctx.as_of, dt.time(23, 59, 59))
    section = Section(
        id="segments",
        title="Segments",
        intro="Members of each segment at the last refresh, with their value.",
    )
    migration = stage_migration(ctx.engine, as_of).to_pandas()
    section.blocks.append(ChartBlock(charts.to_html(lifecycle_flow(migration, 1))))
    flows = (
        migration[(migration["from_stage"] != migration["to_stage"]) & (migration["customers"] > 0)]
        .sort_values("customers", ascending=False)
        .head(8)
    )
    section.blocks.append(
        table_from_records(
            "Largest lifecycle moves over the last month",
            flows.to_dict("records"),
            {"from_stage": None, "to_stage": None, "customers": number},
        )
    )
    section.blocks.append(
        table_from_records(
            "Segment sizes and value",
            sizes.to_dict("records"),
            {
                "segment": None,
                "customers": number,
                "mean_clv": lambda v: money(v, cur),
                "total_clv": lambda v: money(v, cur),
                "revenue": lambda v: money(v, cur),
                "mean_p_alive": percent,
            },
        )
    )
    largest = [
        s
        for s in sizes.sort_values("customers", ascending=False)["segment"]
        if not str(s).startswith("rfm_")
    ][:10]
    if len(largest) > 1:
        matrix = segment_overlap(
            SegmentStore(ctx.engine, consent_policy=ctx.settings.consent.policy),
            largest,
            materialised=True,
        )
        section.blocks.append(ChartBlock(charts.to_html(overlap_heatmap(matrix))))
    stage_now = migration.groupby("to_stage")["customers"].sum()
    if stage_now.sum():
        at_risk = int(stage_now.get("at risk", 0)) + int(stage_now.get("lapsed", 0))
        section.summary.append(
            f"{number(at_risk)} customers are at risk or lapsed ({percent(at_risk / stage_now.sum())} of the base)."
        )
    return section
