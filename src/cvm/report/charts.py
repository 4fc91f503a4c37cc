"""Plotly figures for the report and the dashboard. Every chart has a title, axis labels and
units; each function takes plain DataFrames so the same figure serves both surfaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777"]


def _layout(fig: go.Figure, title: str, x: str, y: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        xaxis_title=x,
        yaxis_title=y,
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
        colorway=PALETTE,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def kpi_trend(monthly: pd.DataFrame, column: str, title: str, unit: str) -> go.Figure:
    fig = go.Figure(
        go.Scatter(x=monthly["month"], y=monthly[column], mode="lines+markers", name=column)
    )
    return _layout(fig, title, "month", unit)


def revenue_and_active(monthly: pd.DataFrame, currency: str) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=monthly["month"], y=monthly["revenue"], name=f"revenue ({currency})")
    fig.add_scatter(
        x=monthly["month"],
        y=monthly["active_customers"],
        name="active customers",
        yaxis="y2",
        mode="lines+markers",
    )
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "active customers"})
    return _layout(fig, "Revenue and active customers by month", "month", f"revenue ({currency})")


def clv_distribution(clv: pd.Series, currency: str) -> go.Figure:
    values = clv.dropna().to_numpy(dtype=float)
    cap = float(np.quantile(values, 0.99)) if len(values) else 0.0
    fig = go.Figure(go.Histogram(x=np.minimum(values, cap), nbinsx=50, name="customers"))
    return _layout(
        fig,
        f"CLV distribution (capped at the 99th percentile, {cap:,.0f} {currency})",
        f"CLV ({currency})",
        "customers",
    )


def rfm_grid(grid: pd.DataFrame) -> go.Figure:
    pivot = grid.pivot_table(
        index="rfm_frequency", columns="rfm_recency", values="customers", aggfunc="sum"
    ).reindex(index=range(1, 6), columns=range(1, 6))
    labels = grid.pivot_table(
        index="rfm_frequency", columns="rfm_recency", values="segment", aggfunc="first"
    ).reindex(index=range(1, 6), columns=range(1, 6))
    text = [[_cell_label(labels.iloc[i, j], pivot.iloc[i, j]) for j in range(5)] for i in range(5)]
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=list(range(1, 6)),
            y=list(range(1, 6)),
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "customers"},
        )
    )
    return _layout(
        fig,
        "RFM grid: customers per recency × frequency score",
        "recency score (5 = most recent)",
        "frequency score (5 = most frequent)",
        height=460,
    )


def _cell_label(segment: object, customers: object) -> str:
    """Segment name and count; empty cells (no customer has that R and F) stay blank."""
    if customers is None or pd.isna(customers):  # type: ignore[call-overload]
        return ""
    return f"{segment}<br>{int(customers):,}"  # type: ignore[call-overload]


def p_alive_heatmap(profiles: pd.DataFrame) -> go.Figure:
    df = profiles.dropna(subset=["p_alive", "frequency", "recency"])
    f_bins = np.minimum(df["frequency"].astype(int), 20)
    r_max = max(float(df["recency"].max()), 1.0)
    r_bins = np.floor(df["recency"] / r_max * 19.999).astype(int)
    pivot = pd.DataFrame({"f": f_bins, "r": r_bins, "p": df["p_alive"]}).pivot_table(
        index="f", columns="r", values="p", aggfunc="mean"
    )
    x = [round((c + 0.5) * r_max / 20, 1) for c in pivot.columns]
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=x,
            y=list(pivot.index),
            colorscale="RdYlGn",
            zmin=0,
            zmax=1,
            colorbar={"title": "P(alive)"},
        )
    )
    return _layout(
        fig,
        "Mean P(alive) by frequency and recency",
        "recency (age at last purchase, time units)",
        "repeat purchases (20 = 20+)",
        height=420,
    )


def calibration_holdout(by_frequency: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    x = [f"{int(v)}{'+' if int(v) == 7 else ''}" for v in by_frequency["calibration_frequency"]]
    fig.add_bar(x=x, y=by_frequency["actual"], name="actual")
    fig.add_bar(x=x, y=by_frequency["predicted"], name="predicted")
    return _layout(
        fig,
        "Holdout check: mean repeat purchases in the holdout, actual vs predicted",
        "repeat purchases in the calibration period",
        "mean holdout purchases per customer",
    )


def cohort_heatmap(cohorts: pd.DataFrame, value: str = "retention") -> go.Figure:
    pivot = cohorts[cohorts["month_offset"] > 0].pivot_table(
        index="cohort_month", columns="month_offset", values=value
    )
    y = [str(i)[:7] for i in pivot.index]
    fmt = ".0%" if value == "retention" else ",.2f"
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=list(pivot.columns),
            y=y,
            colorscale="Blues",
            texttemplate=f"%{{z:{fmt}}}",
            colorbar={"title": value},
        )
    )
    fig.update_yaxes(autorange="reversed")
    title = "Cohort retention: share of each monthly acquisition cohort buying k months later"
    return _layout(
        fig,
        title,
        "months since first purchase",
        "acquisition cohort",
        height=max(360, 22 * len(y) + 120),
    )


def concentration_curve(curve: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(
        x=[0, *curve["customer_share"]],
        y=[0, *curve["revenue_share"]],
        name="customers by revenue",
        mode="lines",
    )
    fig.add_scatter(
        x=[0, 1], y=[0, 1], name="equal share", mode="lines", line={"dash": "dot", "color": "#888"}
    )
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(tickformat=".0%")
    return _layout(
        fig,
        "Revenue concentration: cumulative share of revenue by top customers",
        "share of customers (best first)",
        "share of revenue",
    )


def bar(df: pd.DataFrame, x: str, y: str, title: str, x_label: str, y_label: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=df[x], y=df[y]))
    return _layout(fig, title, x_label, y_label)


def to_html(fig: go.Figure) -> str:
    """A figure as an HTML fragment; plotly.js is included once per page by the page itself."""
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            config={"displaylogo": False, "responsive": True},
        )
    )
