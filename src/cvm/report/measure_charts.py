"""Plotly figures for measured results: lift with its interval (forest plots), predicted vs
realised uplift by decile, and the program against the global control by month. Each takes a
plain DataFrame so the dashboard can reuse it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvm.report.charts import PALETTE, _layout

SIGNIFICANT, UNCLEAR, HARMFUL = "#16a34a", "#64748b", "#dc2626"


def _colour(low: float, high: float) -> str:
    if np.isfinite(low) and low > 0:
        return SIGNIFICANT
    if np.isfinite(high) and high < 0:
        return HARMFUL
    return UNCLEAR


def lift_forest(rows: pd.DataFrame, currency: str, title: str) -> go.Figure:
    """Lift with 95% intervals per row (``label``): conversion in pp, revenue per customer.

    ``rows`` holds ``label``, ``conv_lift``/``conv_low``/``conv_high`` (fractions) and
    ``rev_lift``/``rev_low``/``rev_high`` (money per customer). Green: interval above zero,
    red: below, grey: includes zero.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=(
            "conversion lift (percentage points)",
            f"revenue per customer ({currency})",
        ),
    )
    labels = list(rows["label"])
    for col, (mid, lo, hi, scale) in enumerate(
        (("conv_lift", "conv_low", "conv_high", 100.0), ("rev_lift", "rev_low", "rev_high", 1.0)),
        start=1,
    ):
        x = rows[mid].to_numpy(dtype=float) * scale
        low = rows[lo].to_numpy(dtype=float) * scale
        high = rows[hi].to_numpy(dtype=float) * scale
        colours = [_colour(a, b) for a, b in zip(low, high, strict=True)]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=labels,
                mode="markers",
                marker={"color": colours, "size": 10},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": np.nan_to_num(high - x),
                    "arrayminus": np.nan_to_num(x - low),
                    "color": "#334155",
                    "thickness": 1.5,
                },
                showlegend=False,
                hovertemplate="%{y}: %{x:.2f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=0, line={"color": "#94a3b8", "dash": "dot"}, row=1, col=col)  # type: ignore[arg-type]
    fig.update_yaxes(autorange="reversed")
    height = max(260, 46 * len(labels) + 120)
    fig = _layout(fig, title, "", "", height=height)
    fig.update_layout(margin={"l": 200, "r": 20, "t": 70, "b": 40})
    return fig


def decile_chart(table: pd.DataFrame, title: str) -> go.Figure:
    """Mean predicted uplift and realised uplift (with 95% interval) per decile, in pp."""
    fig = go.Figure()
    x = [str(int(d)) for d in table["decile"]]
    realised = table["realised"].to_numpy(dtype=float) * 100
    fig.add_bar(
        x=x,
        y=realised,
        name="realised (treated − control)",
        marker_color=PALETTE[0],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": np.nan_to_num(table["realised_high"].to_numpy(dtype=float) * 100 - realised),
            "arrayminus": np.nan_to_num(
                realised - table["realised_low"].to_numpy(dtype=float) * 100
            ),
        },
    )
    fig.add_scatter(
        x=x,
        y=table["predicted"].to_numpy(dtype=float) * 100,
        name="predicted by the model",
        mode="lines+markers",
        marker_color=PALETTE[1],
    )
    return _layout(
        fig, title, "decile of predicted uplift (1 = highest)", "uplift (percentage points)"
    )


def program_chart(months: pd.DataFrame, currency: str) -> go.Figure:
    """Revenue per customer in each group by month, and the lift with its interval."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=(
            f"revenue per customer ({currency})",
            f"lift: marketing − global control ({currency} per customer)",
        ),
    )
    fig.add_scatter(
        x=months["period"], y=months["treatment_value"], name="marketing",
        mode="lines+markers", marker_color=PALETTE[0], row=1, col=1,
    )  # fmt: skip
    fig.add_scatter(
        x=months["period"], y=months["control_value"], name="global control",
        mode="lines+markers", marker_color=PALETTE[1], row=1, col=1,
    )  # fmt: skip
    lift = months["absolute_lift"].to_numpy(dtype=float)
    fig.add_scatter(
        x=months["period"],
        y=lift,
        name="lift (95% CI)",
        mode="markers",
        showlegend=False,  # coloured per point; the subplot title names it
        marker={
            "color": [
                _colour(a, b)
                for a, b in zip(months["absolute_low"], months["absolute_high"], strict=True)
            ],
            "size": 9,
        },
        error_y={
            "type": "data",
            "symmetric": False,
            "array": np.nan_to_num(months["absolute_high"].to_numpy(dtype=float) - lift),
            "arrayminus": np.nan_to_num(lift - months["absolute_low"].to_numpy(dtype=float)),
        },
        row=1,
        col=2,
    )
    fig.add_hline(y=0, line={"color": "#94a3b8", "dash": "dot"}, row=1, col=2)  # type: ignore[arg-type]
    return _layout(fig, "All marketing vs the global control group, by month", "", "", height=380)
