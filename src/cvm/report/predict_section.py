"""Report section for the models that score customers: churn quality (ROC, calibration, lift
by decile, drivers), uplift (Qini curve), recommendations (quality against baselines)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from cvm.predict.registry import load_manifest, promoted_version
from cvm.report import charts
from cvm.report.model import (
    ChartBlock,
    Metric,
    ReportContext,
    Section,
    number,
    percent,
    table_from_records,
)


def roc_chart(points: list[dict[str, float]], auc: float) -> go.Figure:
    df = pd.DataFrame(points)
    fig = go.Figure()
    fig.add_scatter(x=df["fpr"], y=df["tpr"], mode="lines", name=f"model (AUC {auc:.3f})")
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="random", line={"dash": "dot", "color": "#888"}
    )
    return charts._layout(
        fig,
        "Churn model ROC curve (next window, out of time)",
        "false positive rate",
        "true positive rate",
    )


def calibration_chart(bins: list[dict[str, Any]]) -> go.Figure:
    df = pd.DataFrame(bins)
    fig = go.Figure()
    fig.add_scatter(
        x=df["mean_predicted"],
        y=df["observed"],
        mode="lines+markers",
        name="model",
        text=df["n"],
        hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>n=%{text}",
    )
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        name="perfect calibration",
        line={"dash": "dot", "color": "#888"},
    )
    return charts._layout(
        fig,
        "Churn calibration: observed churn rate vs predicted probability",
        "mean predicted probability",
        "observed churn rate",
    )


def lift_chart(deciles: list[dict[str, Any]]) -> go.Figure:
    df = pd.DataFrame(deciles)
    fig = go.Figure(
        go.Bar(
            x=df["decile"],
            y=df["lift"],
            text=[f"{v:.2f}×" for v in df["lift"]],
            textposition="outside",
        )
    )
    fig.add_hline(y=1.0, line_dash="dot", line_color="#888")
    return charts._layout(
        fig,
        "Churn lift by decile (1 = highest predicted risk)",
        "decile of predicted churn",
        "lift over the base churn rate",
    )


def qini_chart(curve: dict[str, list[float]], campaign: str) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=curve["n"], y=curve["values"], mode="lines", name="uplift model")
    fig.add_scatter(
        x=curve["n"],
        y=curve["random"],
        mode="lines",
        name="random targeting",
        line={"dash": "dot", "color": "#888"},
    )
    return charts._layout(
        fig,
        f"Qini curve on held-out customers of {campaign}",
        "customers targeted (best first)",
        "incremental responders",
    )


def predict_section(ctx: ReportContext) -> Section | None:
    models = ctx.workspace_root / "models"
    versions = {kind: promoted_version(models, kind) for kind in ("churn", "uplift", "recommend")}
    if not any(versions.values()):
        return None
    section = Section(
        id="models",
        title="Models",
        intro="The promoted version of each model scores every customer; figures are measured on data the model did not see.",
    )
    if versions["churn"]:
        m = load_manifest(models, versions["churn"])
        met = m["metrics"]
        section.metrics += [
            Metric("Churn ROC-AUC", f"{met['roc_auc']:.3f}", help="next window, out of time"),
            Metric("Churn PR-AUC", f"{met['pr_auc']:.3f}"),
            Metric(
                "Brier score", f"{met['brier']:.3f}", help=f"reference {met['brier_reference']:.3f}"
            ),
            Metric("Top-decile lift", f"{met['deciles'][0]['lift']:.2f}×"),
        ]
        if m.get("roc_curve"):
            section.blocks.append(
                ChartBlock(charts.to_html(roc_chart(m["roc_curve"], met["roc_auc"])))
            )
        section.blocks.append(ChartBlock(charts.to_html(calibration_chart(met["calibration"]))))
        section.blocks.append(ChartBlock(charts.to_html(lift_chart(met["deciles"]))))
        section.blocks.append(
            table_from_records(
                f"What drives churn (model {m['version']})",
                m.get("feature_importance", [])[:10],
                {"feature": None, "gain_share": percent},
            )
        )
        section.summary.append(
            f"The churn model ranks customers with ROC-AUC {met['roc_auc']:.2f}; its riskiest decile churns {met['deciles'][0]['lift']:.1f}× as often as average."
        )
    if versions["uplift"]:
        m = load_manifest(models, versions["uplift"])
        met = m["metrics"]
        qini = met.get("qini_coefficient", {})
        at_k = met.get("uplift_at_k", {})
        section.metrics.append(
            Metric(
                "Qini coefficient",
                f"{qini.get('value', float('nan')):.4f}",
                help=f"95% CI {qini.get('low', float('nan')):.4f} … {qini.get('high', float('nan')):.4f}",
            )
        )
        if m.get("qini_curve"):
            section.blocks.append(
                ChartBlock(
                    charts.to_html(qini_chart(m["qini_curve"], m["campaign_id"])),
                    f"{m['method'].upper()}-learner trained on {number(m['training_window']['rows'])} assigned customers; "
                    f"uplift in the top 30% {percent(at_k.get('value'))} (95% CI {percent(at_k.get('low'))} … {percent(at_k.get('high'))}) "
                    f"vs an average effect of {percent(m.get('observed_ate'))}.",
                )
            )
    if versions["recommend"]:
        m = load_manifest(models, versions["recommend"])
        rows = [{"method": name, **vals} for name, vals in m["metrics"].items()]
        section.blocks.append(
            table_from_records(
                f"Recommendation quality on the last {m['training_window']['holdout_days']} days (chosen: {m['method']})",
                rows,
                {
                    "method": None,
                    "recall": percent,
                    "ndcg": percent,
                    "recall_new": percent,
                    "recall_repeat": percent,
                    "coverage": percent,
                    "customers": number,
                },
                note="recall@10 and NDCG@10 of items bought after the split; new = not bought before, repeat = bought before.",
            )
        )
    return section
