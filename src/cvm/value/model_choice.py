"""Which purchase model a workspace uses, and the glue between summaries and the CLV models.

The models themselves live in `cvm.value.clv` (one file per model); this module picks one
from the settings, fits it on the per-customer summary, and validates it on a
calibration/holdout split so that every value run carries evidence of its own accuracy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from cvm.engine.base import Engine
from cvm.value.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    expected_customer_lifetime_value,
)
from cvm.value.summaries import summarize_transactions
from cvm.workspace.settings import ValueSection

PURCHASE_MODELS: dict[str, type] = {
    "bg_nbd": BetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
    "mbg_nbd": ModifiedBetaGeoModel,
}

# The holdout is the last quarter of the observed span, at least 8 and at most 52 weeks.
MIN_HOLDOUT_DAYS, MAX_HOLDOUT_DAYS = 56, 364


def fit_purchase_model(summary: pd.DataFrame, settings: ValueSection) -> Any:
    model = PURCHASE_MODELS[settings.purchase_model](penalizer=settings.penalizer)
    return model.fit(summary[["frequency", "recency", "T"]])


def fit_spend_model(summary: pd.DataFrame, settings: ValueSection) -> GammaGammaModel | None:
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeat) < 20:
        return None
    return GammaGammaModel(penalizer=settings.penalizer).fit(
        repeat[["frequency", "monetary_value"]]
    )


def customer_lifetime_value(
    purchase: Any,
    expected_spend: npt.NDArray[np.float64],
    data: pd.DataFrame,
    settings: ValueSection,
) -> npt.NDArray[np.float64]:
    """Discounted expected margin over the workspace's horizon (see the CLV module)."""
    values = expected_customer_lifetime_value(
        purchase,
        expected_spend,
        data,
        horizon_months=settings.clv_horizon_months,
        annual_discount_rate=settings.annual_discount_rate,
        margin=settings.margin,
        time_unit=settings.time_unit,
    )
    return np.asarray(values, dtype=float)


def purchase_model_validation(
    engine: Engine, as_of: dt.date, settings: ValueSection
) -> dict[str, Any]:
    """Fit on a calibration period, predict the holdout, compare with what happened.

    Returns totals and the classic check of Fader, Hardie & Lee (2005, figure 3): mean actual
    vs predicted holdout purchases by number of calibration-period repeat purchases.
    """
    first = engine.fetch_scalar("SELECT CAST(min(occurred_at) AS DATE) FROM transactions")
    if not isinstance(first, dt.date):
        return {"skipped": "no transactions"}
    span = (as_of - first).days
    holdout_days = int(min(MAX_HOLDOUT_DAYS, max(MIN_HOLDOUT_DAYS, span // 4)))
    if span < 2 * holdout_days:
        return {"skipped": f"history of {span} days is too short for a {holdout_days}-day holdout"}
    calibration_end = as_of - dt.timedelta(days=holdout_days)
    cal = summarize_transactions(
        engine, as_of, time_unit=settings.time_unit, calibration_end=calibration_end
    ).to_pandas()
    model = fit_purchase_model(cal, settings)
    predicted = np.asarray(
        model.expected_purchases(
            cal[["frequency", "recency", "T"]], cal["duration_holdout"].to_numpy()
        ),
        dtype=float,
    )
    actual = cal["frequency_holdout"].to_numpy(dtype=float)
    bucket = np.minimum(cal["frequency"].to_numpy(dtype=int), 7)
    by_frequency = (
        pd.DataFrame({"calibration_frequency": bucket, "actual": actual, "predicted": predicted})
        .groupby("calibration_frequency")
        .agg(
            customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
        )
        .reset_index()
    )
    corr = float(np.corrcoef(actual, predicted)[0, 1]) if len(actual) > 2 else float("nan")
    return {
        "calibration_end": calibration_end.isoformat(),
        "holdout_days": holdout_days,
        "customers": int(len(cal)),
        "actual_total": float(actual.sum()),
        "predicted_total": float(predicted.sum()),
        "total_error_pct": float(100 * (predicted.sum() / actual.sum() - 1))
        if actual.sum()
        else None,
        "mae": float(np.mean(np.abs(actual - predicted))),
        "correlation": corr,
        "by_frequency": by_frequency.to_dict(orient="records"),
    }
