"""Uplift (incremental response) metrics on a randomised test set, with bootstrap intervals.

Inputs: outcome y (binary or continuous), predicted uplift u (higher = target first) and a
binary treatment flag t (1 = treated, 0 = control) for the same rows. Rows are ranked by u,
highest first; ties are ordered as scikit-uplift orders them (`argsort(u, kind="mergesort")`
reversed) and curves are evaluated only at distinct values of u, so tied rows enter together.
For the top n rows: N_T(n), N_C(n) = treated / control rows, Y_T(n), Y_C(n) = sum of their y.

Conventions (they differ between libraries; this module follows scikit-uplift 0.5
`sklift.metrics` exactly, and the tests check equality on the same predictions):

- **Qini curve** (Radcliffe 2007, "Using control groups to target on predicted lift", Direct
  Marketing Analytics Journal 3, Section 5): Q(n) = Y_T(n) - Y_C(n) * N_T(n) / N_C(n), the
  incremental responses among the targeted, on the treated group's scale (= sklift
  `qini_curve`). **Random-targeting line**: the straight line from (0, 0) to (N, Q(N)).
- **Uplift curve** (Rzepakowski & Jaroszewicz 2012, "Decision trees for uplift modeling with
  single and multiple treatments", KAIS 32, Section 6): U(n) = (Y_T(n)/N_T(n) - Y_C(n)/N_C(n))
  * n, the uplift of the top n scaled to n customers (= sklift `uplift_curve`); a rate with an
  empty group counts as 0, as in sklift.
- **Qini coefficient**: (area under Q - area under the random line) / (area under the optimal
  Q - area under the random line), trapezoidal areas over n = 0..N. The optimal curve ranks
  treated responders first and control responders last (y*t - y*(1-t)), so it *includes*
  negative effects: this is sklift `qini_auc_score(..., negative_effect=True)`. Radcliffe's
  own optimum assumes no negative effects (sklift `negative_effect=False`); that variant is not
  offered here. 0 = no better than random, 1 = optimal, < 0 = worse than random.
  `qini_area` is the unnormalised numerator with both axes divided by N (x = share targeted,
  y = incremental responses per customer in the sample).
- **AUUC**: the same normalisation applied to the uplift curve, with the optimal uplift
  curve of Devriendt, Guns & Verbeke (2020, "Learning to rank for uplift modeling",
  arXiv:2002.05897) as sklift builds it = sklift `uplift_auc_score`.
- **Uplift at top k**: among the top floor(k*N) rows by u (both groups together), treated mean
  of y minus control mean of y = sklift `uplift_at_k(..., strategy="overall")`.
- **Uplift by decile**: rows ranked by u split into `bins` groups as equal as possible
  (`numpy.array_split`, group 1 = highest u); per group the treated rate, the control rate,
  their difference and its standard error sqrt(var_T/n_T + var_C/n_C) with population
  variances (= sklift `uplift_by_percentile(..., strategy="overall", std=True)`, whose
  binomial p(1-p)/n is the same number for binary y).
- **ATE**: mean y of treated minus mean y of control over all rows (the lift of targeting all).

Bootstrap intervals (Efron & Tibshirani 1993, "An introduction to the bootstrap", Ch. 13,
percentile interval): rows are resampled with replacement within each group (so N_T and N_C
stay fixed, as in the experiment), every statistic is recomputed on the resample (ranking
included), and the (1-c)/2 and (1+c)/2 quantiles of the replicates form the interval.
Seeded, so the same inputs give the same intervals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from cvm.predict.tabular import TabularInputError


def _checked(y: Any, uplift: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=np.float64)
    uu = np.asarray(uplift, dtype=np.float64)
    tt = np.asarray(treatment)
    if not (yy.ndim == uu.ndim == tt.ndim == 1) or not (len(yy) == len(uu) == len(tt)):
        raise TabularInputError("y, uplift and treatment must be 1-D arrays of equal length")
    if not set(np.unique(tt).tolist()) <= {0, 1}:
        raise TabularInputError("treatment must be binary (1 = treated, 0 = control)")
    t = tt.astype(np.int64)
    if t.sum() == 0 or t.sum() == len(t):
        raise TabularInputError("uplift metrics need both treated and control rows")
    if not (np.isfinite(yy).all() and np.isfinite(uu).all()):
        raise TabularInputError("y and uplift must be finite")
    return yy, uu, t


def _ranked(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(u, kind="mergesort")[::-1]
    return y[order], u[order], t[order]


def _cumulative(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """(n, N_T, Y_T, N_C, Y_C) at each distinct-score cut of ranked rows, starting at n = 0."""
    cuts = np.r_[np.flatnonzero(np.diff(u)), len(u) - 1]
    n_t = np.cumsum(t)[cuts].astype(np.float64)
    y_t = np.cumsum(y * t)[cuts]
    y_c = np.cumsum(y * (1 - t))[cuts]
    n = (cuts + 1).astype(np.float64)
    return (np.r_[0.0, n], np.r_[0.0, n_t], np.r_[0.0, y_t], np.r_[0.0, n - n_t], np.r_[0.0, y_c])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _qini_values(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, n_t, y_t, n_c, y_c = _cumulative(y, u, t)
    return n, y_t - y_c * _ratio(n_t, n_c)


def _uplift_values(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, n_t, y_t, n_c, y_c = _cumulative(y, u, t)
    return n, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n


def _area_over_random(x: np.ndarray, v: np.ndarray) -> float:
    return float(np.trapezoid(v, x) - x[-1] * v[-1] / 2.0)


def _normalised(curve: Any, y: np.ndarray, u: np.ndarray, t: np.ndarray, best: np.ndarray) -> float:
    actual = _area_over_random(*curve(*_ranked(y, u, t)))
    optimal = _area_over_random(*curve(*_ranked(y, best, t)))
    return actual / optimal


@dataclass(frozen=True)
class UpliftCurve:
    """Points of a Qini or uplift curve and the random-targeting line at the same n."""

    n: np.ndarray
    values: np.ndarray
    random: np.ndarray


def qini_curve(y: Any, uplift: Any, treatment: Any) -> UpliftCurve:
    """Qini curve Q(n) and random line (definitions in the module docstring)."""
    n, v = _qini_values(*_ranked(*_checked(y, uplift, treatment)))
    return UpliftCurve(n, v, n / n[-1] * v[-1])


def uplift_curve(y: Any, uplift: Any, treatment: Any) -> UpliftCurve:
    """Uplift curve U(n) and random line (definitions in the module docstring)."""
    n, v = _uplift_values(*_ranked(*_checked(y, uplift, treatment)))
    return UpliftCurve(n, v, n / n[-1] * v[-1])


def _qini_coefficient(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> float:
    return _normalised(_qini_values, y, u, t, y * t - y * (1 - t))


def _auuc(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> float:
    # sklift's optimal uplift ordering (Devriendt et al. 2020), including its choice of summand
    control_responders = np.sum((y == 1) & (t == 0))
    treated_non_responders = np.sum((y == 0) & (t == 1))
    summand = y if control_responders > treated_non_responders else t
    return _normalised(_uplift_values, y, u, t, 2.0 * (y == t) + summand)


def _at_k(y: np.ndarray, u: np.ndarray, t: np.ndarray, k: float) -> float:
    ys, _, ts = _ranked(y, u, t)
    size = int(len(y) * k)
    top_y, top_t = ys[:size], ts[:size]
    if top_t.sum() in (0, size):
        return float("nan")
    return float(top_y[top_t == 1].mean() - top_y[top_t == 0].mean())


def _ate(y: np.ndarray, t: np.ndarray) -> float:
    return float(y[t == 1].mean() - y[t == 0].mean())


def qini_coefficient(y: Any, uplift: Any, treatment: Any) -> float:
    """Normalised Qini coefficient (= sklift `qini_auc_score`, negative_effect=True)."""
    return _qini_coefficient(*_checked(y, uplift, treatment))


def auuc(y: Any, uplift: Any, treatment: Any) -> float:
    """Normalised area under the uplift curve (= sklift `uplift_auc_score`)."""
    return _auuc(*_checked(y, uplift, treatment))


def uplift_at_k(y: Any, uplift: Any, treatment: Any, k: float = 0.3) -> float:
    """Treated minus control mean of y in the top share k by predicted uplift."""
    if not 0.0 < k < 1.0:
        raise TabularInputError(f"k must be a share in (0, 1), got {k}")
    return _at_k(*_checked(y, uplift, treatment), k)


def _decile_frame(y: np.ndarray, u: np.ndarray, t: np.ndarray, bins: int) -> pd.DataFrame:
    ys, _, ts = _ranked(y, u, t)
    rows = []
    for b, (yb, tb) in enumerate(
        zip(np.array_split(ys, bins), np.array_split(ts, bins), strict=True), 1
    ):
        treated, control = yb[tb == 1], yb[tb == 0]
        rate_t = float(treated.mean()) if len(treated) else float("nan")
        rate_c = float(control.mean()) if len(control) else float("nan")
        var = (treated.var() / len(treated) if len(treated) else np.nan) + (
            control.var() / len(control) if len(control) else np.nan
        )
        rows.append(
            {
                "bin": b,
                "n_treatment": len(treated),
                "n_control": len(control),
                "rate_treatment": rate_t,
                "rate_control": rate_c,
                "uplift": rate_t - rate_c,
                "std_uplift": float(np.sqrt(var)),
            }
        )
    return pd.DataFrame(rows)


def uplift_by_decile(y: Any, uplift: Any, treatment: Any, bins: int = 10) -> pd.DataFrame:
    """Treated rate - control rate per predicted-uplift group (group 1 = highest uplift)."""
    yy, uu, tt = _checked(y, uplift, treatment)
    if not 0 < bins < len(yy):
        raise TabularInputError(f"bins must be between 1 and the number of rows, got {bins}")
    return _decile_frame(yy, uu, tt, bins)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its seeded percentile-bootstrap interval."""

    value: float
    low: float
    high: float

    def excludes(self, value: float) -> bool:
        return bool(self.low > value or self.high < value)


@dataclass(frozen=True)
class UpliftEvaluation:
    """All uplift metrics of one model on one test sample (definitions in module docstring)."""

    n: int
    n_treated: int
    n_control: int
    k: float
    confidence: float
    n_bootstrap: int
    seed: int
    ate: Estimate
    qini_coefficient: Estimate
    qini_area: float
    auuc: Estimate
    uplift_at_k: Estimate
    deciles: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return asdict(self)


def _statistics(y: np.ndarray, u: np.ndarray, t: np.ndarray, k: float, bins: int) -> np.ndarray:
    deciles = _decile_frame(y, u, t, bins)["uplift"].to_numpy()
    head = [_ate(y, t), _qini_coefficient(y, u, t), _auuc(y, u, t), _at_k(y, u, t, k)]
    return np.r_[head, deciles]


def evaluate_uplift(
    y: Any,
    uplift: Any,
    treatment: Any,
    *,
    k: float = 0.3,
    bins: int = 10,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> UpliftEvaluation:
    """Qini coefficient, AUUC, uplift at top k, ATE and deciles, each with a bootstrap interval."""
    yy, uu, tt = _checked(y, uplift, treatment)
    if not 0.0 < k < 1.0:
        raise TabularInputError(f"k must be a share in (0, 1), got {k}")
    point = _statistics(yy, uu, tt, k, bins)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(tt == 1), np.flatnonzero(tt == 0)]
    replicates = np.empty((n_bootstrap, len(point)))
    for r in range(n_bootstrap):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        replicates[r] = _statistics(yy[idx], uu[idx], tt[idx], k, bins)
    alpha = (1.0 - confidence) / 2.0
    low = np.nanquantile(replicates, alpha, axis=0)
    high = np.nanquantile(replicates, 1.0 - alpha, axis=0)

    def est(i: int) -> Estimate:
        return Estimate(float(point[i]), float(low[i]), float(high[i]))

    table = _decile_frame(yy, uu, tt, bins)
    table["low"], table["high"] = low[4:], high[4:]
    n_rows = float(len(yy))
    x, v = _qini_values(*_ranked(yy, uu, tt))
    return UpliftEvaluation(
        n=len(yy),
        n_treated=int(tt.sum()),
        n_control=int(len(tt) - tt.sum()),
        k=k,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        ate=est(0),
        qini_coefficient=est(1),
        qini_area=_area_over_random(x / n_rows, v / n_rows),
        auuc=est(2),
        uplift_at_k=est(3),
        deciles=[
            {
                str(key): (float(val) if key != "bin" and not key.startswith("n_") else int(val))
                for key, val in row.items()
            }
            for row in table.to_dict("records")
        ],
    )
