"""Evaluation of a binary probabilistic classifier (churn, propensity), for registry and report.

`evaluate_classifier(y_true, p)` returns a `ClassifierEvaluation` whose `to_dict()` is plain
JSON. Definitions (y in {0, 1}, p = predicted P(y=1), N rows, base rate r = mean(y)):

- **ROC-AUC**: probability that a random positive gets a higher p than a random negative,
  ties counting one half (Hanley & McNeil 1982, "The meaning and use of the area under a ROC
  curve", Radiology 143, eq. 1); 0.5 = random ranking. scikit-learn `roc_auc_score`.
- **PR-AUC**: average precision, AP = sum_k (R_k - R_{k-1}) P_k over the distinct thresholds
  (step-wise, no interpolation; scikit-learn `average_precision_score`); random = r.
- **Brier score**: mean (p - y)^2 (Brier 1950, "Verification of forecasts expressed in terms of
  probability", Monthly Weather Review 78, eq. 1, which sums over both classes and so is
  twice this one-term form; scikit-learn `brier_score_loss` uses the one-term form too). Predicting r for everyone
  scores r(1 - r), reported as `brier_reference`.
- **Log-loss**: -mean(y log p + (1 - y) log(1 - p)), with p clipped to [1e-15, 1 - 1e-15].
- **Lift and capture by decile**: rows sorted by p, highest first (stable order for ties), cut
  into `n_bins` groups as equal as possible (`numpy.array_split`); decile 1 holds the highest
  scores. Per decile: `rate` = positives / rows, `lift` = rate / r, `capture` = that decile's
  share of all positives; cumulative columns do the same for deciles 1..d (`cum_capture` is
  the gains curve: share of positives found by contacting the top d/10 of customers).
- **Calibration curve**: rows grouped by p into `n_bins` bins of equal width on [0, 1]
  ("uniform", like scikit-learn `calibration_curve`) or of equal count ("quantile"); per
  non-empty bin the mean predicted p and the observed rate of y. `ece` (expected calibration
  error) = sum over bins of (rows in bin / N) * |observed - mean predicted| (Naeini, Cooper
  & Hauskrecht 2015, "Obtaining well calibrated probabilities using Bayesian binning", AAAI).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from cvm.predict.tabular import TabularInputError

BinStrategy = Literal["uniform", "quantile"]


@dataclass(frozen=True)
class DecileRow:
    decile: int
    n: int
    positives: int
    min_score: float
    max_score: float
    rate: float
    lift: float
    capture: float
    cum_rate: float
    cum_lift: float
    cum_capture: float


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    n: int
    mean_predicted: float
    observed: float


@dataclass(frozen=True)
class ClassifierEvaluation:
    """Scores of one classifier on one labelled sample (definitions in the module docstring)."""

    n: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    brier_reference: float
    log_loss: float
    ece: float
    deciles: list[DecileRow]
    calibration: list[CalibrationBin]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (numbers are Python int/float)."""
        return asdict(self)

    @property
    def top_decile_lift(self) -> float:
        return self.deciles[0].lift


def _checked(y_true: Any, p: Any, pos_label: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true)
    scores = np.asarray(p, dtype=np.float64)
    if labels.ndim != 1 or scores.ndim != 1 or len(labels) != len(scores):
        raise TabularInputError(
            f"y_true and p must be 1-D of equal length, got {labels.shape} and {scores.shape}"
        )
    if not np.isfinite(scores).all() or (scores < 0).any() or (scores > 1).any():
        raise TabularInputError("p must hold finite probabilities in [0, 1]")
    y = (labels == pos_label).astype(np.int64)
    if y.sum() in (0, len(y)):
        raise TabularInputError("y_true needs both classes to evaluate a classifier")
    return y, scores


def lift_table(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[DecileRow]:
    """Lift and capture per score decile (decile 1 = highest scores); y in {0, 1}."""
    order = np.argsort(-p, kind="stable")
    total_pos = float(y.sum())
    base = total_pos / len(y)
    rows: list[DecileRow] = []
    cum_n = cum_pos = 0
    for d, idx in enumerate(np.array_split(order, n_bins), start=1):
        n, pos = len(idx), int(y[idx].sum())
        cum_n, cum_pos = cum_n + n, cum_pos + pos
        rate = pos / n if n else float("nan")
        cum_rate = cum_pos / cum_n if cum_n else float("nan")
        rows.append(
            DecileRow(
                decile=d,
                n=n,
                positives=pos,
                min_score=float(p[idx].min()) if n else float("nan"),
                max_score=float(p[idx].max()) if n else float("nan"),
                rate=rate,
                lift=rate / base,
                capture=pos / total_pos,
                cum_rate=cum_rate,
                cum_lift=cum_rate / base,
                cum_capture=cum_pos / total_pos,
            )
        )
    return rows


def calibration_table(
    y: np.ndarray, p: np.ndarray, n_bins: int = 10, strategy: BinStrategy = "uniform"
) -> list[CalibrationBin]:
    """Mean predicted vs observed rate per probability bin; empty bins are left out."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        edges[0], edges[-1] = 0.0, 1.0
    else:
        raise TabularInputError(f"strategy must be uniform or quantile, got {strategy!r}")
    # inner edges only, so p = 1.0 falls in the last bin and p = 0.0 in the first
    which = np.searchsorted(edges[1:-1], p, side="right")
    bins: list[CalibrationBin] = []
    for b in range(len(edges) - 1):
        mask = which == b
        if mask.any():
            bins.append(
                CalibrationBin(
                    lower=float(edges[b]),
                    upper=float(edges[b + 1]),
                    n=int(mask.sum()),
                    mean_predicted=float(p[mask].mean()),
                    observed=float(y[mask].mean()),
                )
            )
    return bins


def evaluate_classifier(
    y_true: Any,
    p: Any,
    *,
    pos_label: Any = 1,
    n_bins: int = 10,
    calibration_strategy: BinStrategy = "uniform",
) -> ClassifierEvaluation:
    """All classifier metrics of the module docstring for labels `y_true` and P(y=pos_label) `p`."""
    y, scores = _checked(y_true, p, pos_label)
    base = float(y.mean())
    clipped = np.clip(scores, 1e-15, 1.0 - 1e-15)
    log_loss = -float(np.mean(y * np.log(clipped) + (1 - y) * np.log(1.0 - clipped)))
    calibration = calibration_table(y, scores, n_bins, calibration_strategy)
    ece = sum(b.n * abs(b.observed - b.mean_predicted) for b in calibration) / len(y)
    return ClassifierEvaluation(
        n=len(y),
        positives=int(y.sum()),
        base_rate=base,
        roc_auc=float(roc_auc_score(y, scores)),
        pr_auc=float(average_precision_score(y, scores)),
        brier=float(brier_score_loss(y, scores)),
        brier_reference=base * (1.0 - base),
        log_loss=log_loss,
        ece=float(ece),
        deciles=lift_table(y, scores, n_bins),
        calibration=calibration,
    )
