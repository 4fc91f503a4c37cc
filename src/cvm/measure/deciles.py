"""Predicted against realised uplift by decile of the prediction: does the uplift model rank?

Customers of a randomised campaign are sorted by the model's predicted uplift τ̂(x) and cut
into ``n_bins`` groups of (nearly) equal size, decile 1 holding the highest predictions. In
each decile the realised uplift is the treated response rate minus the control response rate
of the customers in it — an unbiased estimate of the decile's average treatment effect,
because assignment was random within every decile (Radcliffe 2007, "Using control groups to
target on predicted lift", sec. 4; Gutierrez & Gérardy 2017, sec. 4.1). Its interval is
Newcombe's (1998, method 10). A model that ranks well shows realised uplift falling from
decile 1 to decile 10 and predicted close to realised (calibration).

When the model was trained on this same campaign the comparison is in-sample and flatters the
model; the caller says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from cvm.core.errors import UserInputError
from cvm.measure.significance import newcombe_interval


@dataclass(frozen=True)
class DecileComparison:
    """One row per decile, plus two summaries of how well the prediction ranks."""

    table: pd.DataFrame
    rank_correlation: float  # Spearman, predicted vs realised across deciles
    top_minus_bottom: float  # realised uplift of decile 1 minus that of the last decile


def uplift_by_decile(
    predicted: npt.ArrayLike,
    treated: npt.ArrayLike,
    outcome: npt.ArrayLike,
    *,
    n_bins: int = 10,
    alpha: float = 0.05,
) -> DecileComparison:
    """Mean predicted and realised uplift (treated − control rate, Newcombe CI) per decile."""
    tau = np.asarray(predicted, dtype=np.float64)
    w = np.asarray(treated).astype(bool)
    y = np.asarray(outcome, dtype=np.float64)
    if not tau.shape == w.shape == y.shape:
        raise UserInputError("predicted, treated and outcome must have the same length")
    if np.isnan(tau).any():
        raise UserInputError(f"{int(np.isnan(tau).sum())} customer(s) have no predicted uplift")
    if w.all() or not w.any():
        raise UserInputError("realised uplift needs both treated and control customers")
    if n_bins < 2 or len(tau) < 2 * n_bins:
        raise UserInputError(f"need at least {2 * n_bins} customers for {n_bins} bins")
    # Rank with ties broken by position so bins are equal-sized even for tied predictions.
    order = np.argsort(-tau, kind="stable")
    bins = np.empty(len(tau), dtype=np.int64)
    bins[order] = np.arange(len(tau)) * n_bins // len(tau) + 1
    rows = []
    for b in range(1, n_bins + 1):
        inb = bins == b
        t, c = inb & w, inb & ~w
        x1, n1, x2, n2 = float(y[t].sum()), float(t.sum()), float(y[c].sum()), float(c.sum())
        realised = low = high = np.nan
        if n1 > 0 and n2 > 0:
            realised = x1 / n1 - x2 / n2
            lo, hi = newcombe_interval(x1, n1, x2, n2, alpha)
            low, high = float(lo), float(hi)
        rows.append(
            {
                "decile": b,
                "customers": int(inb.sum()),
                "treated": int(n1),
                "control": int(n2),
                "predicted": float(tau[inb].mean()),
                "realised": realised,
                "realised_low": low,
                "realised_high": high,
                "treated_rate": x1 / n1 if n1 else np.nan,
                "control_rate": x2 / n2 if n2 else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    known = table.dropna(subset=["realised"])
    rho = (
        float(stats.spearmanr(known["predicted"], known["realised"]).statistic)
        if len(known) > 2
        else np.nan
    )
    spread = float(table["realised"].iloc[0] - table["realised"].iloc[-1])
    return DecileComparison(table=table, rank_correlation=rho, top_minus_bottom=spread)
