"""Report section for customer feedback: NPS and CSAT with intervals, by segment and channel,
over time, and the topics of the comments (`cvm.feedback`)."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

from cvm.core.errors import UserInputError
from cvm.feedback.responses import response_count
from cvm.feedback.summary import ScoreRow, summarize_feedback
from cvm.feedback.topic_report import summarize_topics
from cvm.report import charts
from cvm.report.model import ChartBlock, Metric, ReportContext, Section, TableBlock, number

MIN_COMMENTS_FOR_TOPICS = 20
TOPICS = 5
LABEL = {"nps": "NPS", "csat": "CSAT (% satisfied)"}


def _interval(row: ScoreRow) -> str:
    return f"{row.low:.1f} to {row.high:.1f}"


def _score(row: ScoreRow) -> str:
    return f"{row.score:.1f}"


def score_trend(rows: list[ScoreRow], survey: str) -> go.Figure:
    """Monthly score with its 95% interval as a band."""
    months = [r.group for r in rows]
    fig = go.Figure()
    fig.add_scatter(
        x=months + months[::-1],
        y=[r.high for r in rows] + [r.low for r in rows][::-1],
        fill="toself", fillcolor="rgba(37, 99, 235, 0.15)", line={"width": 0},
        name="95% interval", hoverinfo="skip",
    )  # fmt: skip
    fig.add_scatter(
        x=months, y=[r.score for r in rows], mode="lines+markers", name=LABEL[survey],
        customdata=[r.n for r in rows], hovertemplate="%{x}: %{y:.1f} (%{customdata} answers)",
    )  # fmt: skip
    axis = "NPS (-100 to 100)" if survey == "nps" else "% satisfied (4-5)"
    fig.update_layout(
        title={"text": f"{LABEL[survey]} by month", "x": 0.01}, xaxis_title="month",
        yaxis_title=axis, height=340, template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    return fig


def score_bars(rows: list[ScoreRow], survey: str, by: str) -> go.Figure:
    """One bar per group with its 95% interval as error bars."""
    fig = go.Figure(
        go.Bar(
            x=[r.group for r in rows], y=[r.score for r in rows],
            error_y={"type": "data", "symmetric": False,
                     "array": [r.high - r.score for r in rows],
                     "arrayminus": [r.score - r.low for r in rows]},
            customdata=[r.n for r in rows], hovertemplate="%{x}: %{y:.1f} (%{customdata} answers)",
        )
    )  # fmt: skip
    fig.update_layout(
        title={"text": f"{LABEL[survey]} by {by}", "x": 0.01}, xaxis_title=by,
        yaxis_title=LABEL[survey], height=340, template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )  # fmt: skip
    return fig


def _table(title: str, rows: list[ScoreRow]) -> TableBlock:
    return TableBlock(
        title,
        ["group", "answers", "score", "95% interval", "mean score"],
        [
            [r.group, number(r.n), _score(r), _interval(r),
             f"{r.mean_score:.2f}" if r.mean_score is not None else "–"]
            for r in rows
        ],
    )  # fmt: skip


def _survey_blocks(ctx: ReportContext, survey: str, until: dt.datetime, section: Section) -> None:
    overall = summarize_feedback(ctx.engine, survey, None, until=until)
    if not overall:
        return
    (row,) = overall
    section.metrics += [
        Metric(LABEL[survey], _score(row), help=f"95% CI {_interval(row)}"),
        Metric(f"{survey.upper()} answers", number(row.n)),
    ]
    months = summarize_feedback(ctx.engine, survey, "month", until=until)
    if len(months) > 1:
        section.blocks.append(ChartBlock(charts.to_html(score_trend(months, survey))))
    channels = summarize_feedback(ctx.engine, survey, "channel", until=until)
    if len(channels) > 1:
        section.blocks.append(ChartBlock(charts.to_html(score_bars(channels, survey, "channel"))))
    try:
        segments = summarize_feedback(ctx.engine, survey, "segment", until=until)
    except UserInputError:  # no segments refreshed yet
        segments = []
    if segments:
        section.blocks.append(_table(f"{LABEL[survey]} by segment", segments))
    touchpoints = summarize_feedback(ctx.engine, survey, "touchpoint", until=until)
    if len(touchpoints) > 1:
        section.blocks.append(_table(f"{LABEL[survey]} by touchpoint", touchpoints))
    what = "NPS" if survey == "nps" else "CSAT"
    unit = "" if survey == "nps" else "%"
    section.summary.append(
        f"{what} is {row.score:.1f}{unit} (95% CI {_interval(row)}) from {number(row.n)} answers."
    )


def _topics_block(ctx: ReportContext, section: Section) -> None:
    topics, fitted = summarize_topics(ctx.engine, TOPICS, examples=2)
    if fitted < MIN_COMMENTS_FOR_TOPICS:
        return
    section.blocks.append(
        TableBlock(
            f"Topics of {number(fitted)} comments (TF-IDF + NMF, named by their top terms)",
            ["topic", "comments", "share", "NPS", "CSAT %", "example comments"],
            [
                [
                    t.name,
                    number(t.count),
                    f"{100 * t.share:.1f}%",
                    f"{t.nps:.1f}" if t.nps is not None else "–",
                    f"{t.csat:.1f}" if t.csat is not None else "–",
                    " / ".join(t.examples),
                ]
                for t in topics
            ],
            note="Each comment counts in its strongest topic. Comments are shown as written.",
        )  # fmt: skip
    )


def feedback_section(ctx: ReportContext) -> Section | None:
    if not ctx.engine.table_exists("survey_responses") or response_count(ctx.engine) == 0:
        return None
    until = dt.datetime.combine(ctx.as_of + dt.timedelta(days=1), dt.time())
    section = Section(
        id="feedback",
        title="Customer feedback (NPS and CSAT)",
        intro=(
            "NPS = % promoters (9-10) − % detractors (0-6), with Rocks' adjusted Wald 95% "
            "interval; CSAT = % of 4-5 answers on a 1-5 scale, with the Wilson interval. "
            "By segment means by current segment membership."
        ),
    )
    for survey in ("nps", "csat"):
        _survey_blocks(ctx, survey, until, section)
    if not section.metrics:
        return None
    _topics_block(ctx, section)
    return section
