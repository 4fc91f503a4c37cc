"""Train churn, uplift and recommendation models from the workspace, and register them.

Churn uses two consecutive out-of-time windows of the workspace's churn window W: the
recipe is evaluated by training on features at ``t0 = as_of − 2W`` (labels in [t0, t0 + W))
and testing on features at ``t1 = as_of − W`` (labels in [t1, as_of)); the registered model is
the same recipe refitted on the most recent labelled window (t1), so it has seen the latest
behaviour. Uplift learns from `campaign_assignments` (treatment vs control) with features
at the assignment time and the outcome in the attribution window after it. Recommenders are
compared on a time split and the best of co-occurrence and ALS is registered.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError
from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.predict.churn import ChurnModel
from cvm.predict.evaluation import evaluate_classifier
from cvm.predict.features import FeatureSpec, build_features, choose_spec, churn_labels
from cvm.predict.registry import fingerprint, register_model
from cvm.predict.uplift import UpliftModel
from cvm.predict.uplift_metrics import evaluate_uplift, qini_curve

ATTRIBUTION_DAYS = 30


def data_fingerprint(engine: Engine, as_of: dt.date) -> str:
    parts: dict[str, Any] = {"as_of": as_of.isoformat()}
    for table in ("transactions", "events", "customers", "campaign_assignments"):
        if engine.table_exists(table):
            parts[table] = engine.fetch_rows(f"SELECT count(*), max(_loaded_at) FROM {table}")  # noqa: S608 (constant names)
    return fingerprint(parts)


def train_churn(
    engine: Engine,
    models_dir: Path,
    as_of: dt.date,
    window_days: int,
    *,
    promote: bool = False,
    seed: int = 0,
    n_estimators: int = 300,
) -> str:
    end = end_of_day(as_of)
    window = dt.timedelta(days=window_days)
    t1, t0 = end - window, end - 2 * window
    spec = choose_spec(engine, t1)
    x0, y0 = _labelled(engine, t0, spec, window_days)
    x1, y1 = _labelled(engine, t1, spec, window_days)
    if len(y0) < 100 or y0.nunique() < 2 or len(y1) < 100 or y1.nunique() < 2:
        raise UserInputError(
            f"not enough history to train churn: need active customers with both outcomes at {t0:%Y-%m-%d} and {t1:%Y-%m-%d} "
            f"(a churn window of {window_days} days needs over {2 * window_days} days of purchases)"
        )
    evaluated = ChurnModel(n_estimators=n_estimators, random_state=seed).fit(x0, y0)
    p1 = evaluated.predict_proba(x1)[:, 1]
    evaluation = evaluate_classifier(y1.to_numpy(), p1).to_dict()
    roc = _roc_points(y1.to_numpy(), p1)
    model = ChurnModel(n_estimators=n_estimators, random_state=seed).fit(x1, y1)
    importance = model.feature_importance().head(15).to_dict(orient="records")
    manifest = {
        "training_window": {
            "features_at": t1.isoformat(),
            "label_window_days": window_days,
            "rows": len(y1),
            "churn_rate": float(y1.mean()),
        },
        "evaluation_window": {
            "trained_at": t0.isoformat(),
            "tested_at": t1.isoformat(),
            "rows": len(y1),
        },
        "features": {"spec": spec.to_dict(), "columns": list(x1.columns)},
        "metrics": evaluation,
        "roc_curve": roc,
        "feature_importance": importance,
        "data_fingerprint": data_fingerprint(engine, as_of),
        "headline": {
            "roc_auc": round(evaluation["roc_auc"], 4),
            "pr_auc": round(evaluation["pr_auc"], 4),
            "brier": round(evaluation["brier"], 4),
        },
    }
    return register_model(
        models_dir, "churn", lambda folder: model.save(folder / "model"), manifest, promote=promote
    )


def _labelled(
    engine: Engine, cutoff: dt.datetime, spec: FeatureSpec, window_days: int
) -> tuple[pd.DataFrame, pd.Series]:
    y = churn_labels(engine, cutoff, window_days)
    x = build_features(engine, cutoff, spec, customer_ids=pd.Index(y.index, name="customer_id"))
    return x, y


def _roc_points(y: np.ndarray, p: np.ndarray, n: int = 50) -> list[dict[str, float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    idx = np.unique(np.linspace(0, len(fpr) - 1, min(n, len(fpr))).astype(int))
    return [{"fpr": float(fpr[i]), "tpr": float(tpr[i])} for i in idx]


# `:days * INTERVAL 1 DAY` rather than `INTERVAL (:days) DAY`: the parenthesised form does
# not transpile to Spark SQL; the product means the same on both engines.
_ASSIGNMENTS = """
SELECT a.customer_id, a.arm, coalesce(a.is_control, a.arm = 'control') AS is_control, a.assigned_at,
       CASE WHEN count(t.transaction_id) > 0 THEN 1 ELSE 0 END AS converted,
       coalesce(CAST(sum(t.amount) AS DOUBLE), 0) AS revenue
FROM campaign_assignments AS a
LEFT JOIN transactions AS t
  ON t.customer_id = a.customer_id AND t.occurred_at >= a.assigned_at
 AND t.occurred_at < a.assigned_at + :days * INTERVAL 1 DAY AND NOT coalesce(t.is_return, FALSE)
WHERE a.campaign_id = :campaign
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 4
"""  # ordered: the train/test split below draws by row position, the same on every engine


def campaigns_with_assignments(engine: Engine) -> list[str]:
    if not engine.table_exists("campaign_assignments"):
        return []
    rows = engine.fetch_rows(
        "SELECT campaign_id FROM campaign_assignments GROUP BY 1 HAVING count(DISTINCT coalesce(is_control, arm = 'control')) = 2 ORDER BY 1"
    )
    return [str(r[0]) for r in rows]


def train_uplift(
    engine: Engine,
    models_dir: Path,
    campaign_id: str,
    as_of: dt.date,
    *,
    method: Literal["t", "x", "dr"] = "x",
    promote: bool = False,
    seed: int = 0,
) -> str:
    data = engine.fetch_arrow(
        bind(_ASSIGNMENTS, campaign=campaign_id, days=ATTRIBUTION_DAYS)
    ).to_pandas()
    if data.empty or data["is_control"].nunique() < 2:
        raise UserInputError(
            f"campaign {campaign_id!r} has no treatment and control assignments to learn uplift from"
        )
    cutoff = (
        pd.Timestamp(data["assigned_at"].min())
        .to_pydatetime()
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    if end_of_day(as_of) < cutoff + dt.timedelta(days=ATTRIBUTION_DAYS):
        raise UserInputError(
            f"campaign {campaign_id!r}: its {ATTRIBUTION_DAYS}-day attribution window has not ended by {as_of}"
        )
    spec = choose_spec(engine, cutoff)
    x = build_features(
        engine, cutoff, spec, customer_ids=pd.Index(data["customer_id"], name="customer_id")
    )
    treatment = np.where(data["is_control"].to_numpy(), "control", "treatment")
    y = data["converted"].to_numpy()
    rng = np.random.default_rng(seed)
    test = rng.random(len(y)) < 0.3
    evaluated = UpliftModel(method=method, control="control", random_state=seed).fit(
        x[~test], treatment[~test], y[~test]
    )
    pred = np.asarray(evaluated.predict(x[test], treatment="treatment"), dtype=float)
    is_treated = (treatment[test] == "treatment").astype(int)
    evaluation = evaluate_uplift(y[test], pred, is_treated, n_bootstrap=200, seed=seed).to_dict()
    curve = qini_curve(y[test], pred, is_treated)
    model = UpliftModel(method=method, control="control", random_state=seed).fit(x, treatment, y)
    manifest = {
        "campaign_id": campaign_id,
        "model_key": campaign_id,
        "training_window": {
            "features_at": cutoff.isoformat(),
            "attribution_days": ATTRIBUTION_DAYS,
            "rows": len(y),
            "treated": int((treatment == "treatment").sum()),
        },
        "features": {"spec": spec.to_dict(), "columns": list(x.columns)},
        "method": method,
        "metrics": evaluation,
        "qini_curve": _thin_curve(curve),
        "observed_ate": float(
            y[treatment == "treatment"].mean() - y[treatment == "control"].mean()
        ),
        "data_fingerprint": data_fingerprint(engine, as_of),
        "headline": {
            "qini": _headline(evaluation, "qini_coefficient"),
            "uplift_at_30pct": _headline(evaluation, "uplift_at_k"),
        },
    }
    return register_model(
        models_dir, "uplift", lambda folder: model.save(folder / "model"), manifest, promote=promote
    )


def _headline(evaluation: dict[str, Any], key: str) -> Any:
    value = evaluation.get(key)
    return round(value["value"], 4) if isinstance(value, dict) and "value" in value else value


def _thin_curve(curve: Any, points: int = 60) -> dict[str, list[float]]:
    n, values, random = (
        np.asarray(getattr(curve, k), dtype=float) for k in ("n", "values", "random")
    )
    idx = np.unique(np.linspace(0, len(n) - 1, min(points, len(n))).astype(int))
    return {"n": n[idx].tolist(), "values": values[idx].tolist(), "random": random[idx].tolist()}


_INTERACTIONS = """
SELECT customer_id, product_id, CAST(sum(coalesce(quantity, 1)) AS DOUBLE) AS quantity, max(occurred_at) AS timestamp
FROM transactions
WHERE occurred_at < :end AND product_id IS NOT NULL AND NOT coalesce(is_return, FALSE)
GROUP BY customer_id, product_id, CAST(occurred_at AS DATE)
"""

_PRODUCTS = "SELECT product_id, category, CAST(price AS DOUBLE) AS price, coalesce(repeatable, TRUE) AS repeatable, coalesce(in_stock, TRUE) AS in_stock FROM products"


def recommendation_inputs(
    engine: Engine, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    interactions = engine.fetch_arrow(bind(_INTERACTIONS, end=end_of_day(as_of))).to_pandas()
    products = (
        engine.fetch_arrow(_PRODUCTS).to_pandas() if engine.table_exists("products") else None
    )
    if products is not None and products.empty:
        products = None
    return interactions, products


def train_recommender(
    engine: Engine,
    models_dir: Path,
    as_of: dt.date,
    *,
    holdout_days: int = 90,
    promote: bool = False,
    seed: int = 0,
) -> str:
    from cvm.predict.recommend import (
        ImplicitALSRecommender,
        ItemCoOccurrenceRecommender,
        OwnHistoryRecommender,
        PopularityRecommender,
    )
    from cvm.predict.recommend_eval import evaluate_recommendations

    interactions, products = recommendation_inputs(engine, as_of)
    if interactions.empty:
        raise UserInputError("no purchases with product ids to learn recommendations from")
    cutoff = pd.Timestamp(end_of_day(as_of) - dt.timedelta(days=holdout_days))
    candidates = {
        "popularity": PopularityRecommender(),
        "own_history": OwnHistoryRecommender(),
        "cooccurrence": ItemCoOccurrenceRecommender(),
        "als": ImplicitALSRecommender(random_state=seed),
    }
    reports = {
        name: evaluate_recommendations(
            model, interactions, products, cutoff, n=10, timestamp="timestamp"
        ).to_dict()
        for name, model in candidates.items()
    }
    best = max(("cooccurrence", "als"), key=lambda name: reports[name]["recall"])
    model = candidates[best].fit(interactions, products)
    manifest = {
        "method": best,
        "training_window": {
            "until": end_of_day(as_of).isoformat(),
            "interactions": len(interactions),
            "holdout_days": holdout_days,
        },
        "metrics": reports,
        "data_fingerprint": data_fingerprint(engine, as_of),
        "headline": {
            "method": best,
            "recall@10": round(reports[best]["recall"], 4),
            "ndcg@10": round(reports[best]["ndcg"], 4),
        },
    }
    return register_model(
        models_dir,
        "recommend",
        lambda folder: model.save(folder / "model"),
        manifest,
        promote=promote,
    )


def describe(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest.get("headline", {}))
