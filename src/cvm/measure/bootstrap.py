"""Two-sample bootstrap intervals for the difference or ratio of two means.

Each group is resampled with replacement on its own (the groups are independent samples),
``n_resamples`` times; the statistic is recomputed on every resample. Resampling follows
``scipy.stats.bootstrap`` draw for draw (per batch: treated indices, then control indices,
``rng.integers(0, n, (batch, n))``), so with the same seed and batch size the two give the
same bootstrap distribution, and the tests hold this one to scipy exactly.

The BCa acceleration uses the jackknife, which for a mean has a closed form: leaving out
observation i changes the mean to ``(S - x_i) / (n - 1)``. That keeps BCa O(n) instead of
O(n^2) and lets it run on a 20,000-customer arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special

Statistic = Literal["difference", "ratio"]
Method = Literal["percentile", "bca"]


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate, interval and bootstrap standard error of one statistic."""

    statistic: Statistic
    method: Method
    estimate: float
    low: float
    high: float
    std_error: float
    n_resamples: int
    seed: int


def _statistic(
    kind: Statistic, m1: npt.NDArray[np.float64], m2: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return m1 - m2 if kind == "difference" else m1 / m2


def _bca_levels(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    kind: Statistic,
    theta_hat: float,
    theta_boot: npt.NDArray[np.float64],
    alpha: float,
) -> tuple[float, float]:
    """Efron (1987) BCa percentile levels (Efron & Tibshirani 1993, eqs. 14.10-14.15).

    Bias correction ``z0 = Phi^-1(#{theta* < theta_hat} / B)`` (ties count half), and the
    acceleration for several samples from the jackknife values of each sample j
    (Efron & Tibshirani 1993, eq. 15.36)::

        U_ji = (n_j - 1) (mean_i theta_(ji) - theta_(ji))
        a = sum_j sum_i U_ji^3 / n_j^3  /  (6 (sum_j sum_i U_ji^2 / n_j^2)^(3/2))

    The levels are ``Phi(z0 + (z0 + z_a) / (1 - a (z0 + z_a)))`` for a = alpha/2, 1 - alpha/2.
    """
    b = theta_boot.size
    below = np.count_nonzero(theta_boot < theta_hat) + np.count_nonzero(theta_boot <= theta_hat)
    z0 = float(special.ndtri(below / (2.0 * b)))
    m1, m2 = x.mean(), y.mean()
    jack_x = (x.sum() - x) / (x.size - 1)  # treated mean without customer i
    jack_y = (y.sum() - y) / (y.size - 1)
    jackknife = [
        _statistic(kind, jack_x, np.full_like(jack_x, m2)),
        _statistic(kind, np.full_like(jack_y, m1), jack_y),
    ]
    num = 0.0
    den = 0.0
    for theta_i in jackknife:
        n = float(theta_i.size)
        u = (n - 1.0) * (theta_i.mean() - theta_i)
        num += float(np.sum(u**3)) / n**3
        den += float(np.sum(u**2)) / n**2
    accel = num / (6.0 * den**1.5) if den > 0 else 0.0
    levels = []
    for tail in (alpha / 2.0, 1.0 - alpha / 2.0):
        z_tail = float(special.ndtri(tail))
        shifted = z0 + z_tail
        levels.append(float(special.ndtr(z0 + shifted / (1.0 - accel * shifted))))
    return levels[0], levels[1]


def bootstrap_mean_interval(
    treated: npt.ArrayLike,
    control: npt.ArrayLike,
    *,
    seed: int,
    statistic: Statistic = "difference",
    method: Method = "bca",
    n_resamples: int = 2000,
    alpha: float = 0.05,
    batch: int = 100,
) -> BootstrapResult:
    """Bootstrap interval for mean(treated) - mean(control) or mean(treated) / mean(control).

    ``method="percentile"`` takes the alpha/2 and 1 - alpha/2 quantiles of the bootstrap
    distribution (Efron & Tibshirani 1993, eq. 13.5); ``method="bca"`` moves those levels to
    correct for bias and skewness (Efron 1987), which matters for revenue per customer,
    where a few big spenders make the distribution of the mean skewed in small groups.
    ``seed`` is required: the same seed gives the same interval on every run. ``batch``
    bounds memory to ``batch * n`` indices per group at a time.
    """
    x = np.asarray(treated, dtype=np.float64).ravel()
    y = np.asarray(control, dtype=np.float64).ravel()
    if x.size < 2 or y.size < 2:
        raise ValueError("each group needs at least two observations to bootstrap")
    if n_resamples < 1 or batch < 1:
        raise ValueError("n_resamples and batch must be positive")
    rng = np.random.default_rng(seed)
    chunks: list[npt.NDArray[np.float64]] = []
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        # Same order of draws as scipy.stats.bootstrap: all treated indices, then control.
        ix = rng.integers(0, x.size, (size, x.size))
        iy = rng.integers(0, y.size, (size, y.size))
        chunks.append(_statistic(statistic, x[ix].mean(axis=-1), y[iy].mean(axis=-1)))
    theta_boot = np.concatenate(chunks)
    theta_hat = float(_statistic(statistic, np.asarray(x.mean()), np.asarray(y.mean())))
    if method == "bca":
        lo_level, hi_level = _bca_levels(x, y, statistic, theta_hat, theta_boot, alpha)
    elif method == "percentile":
        lo_level, hi_level = alpha / 2.0, 1.0 - alpha / 2.0
    else:
        raise ValueError(f"unknown bootstrap method {method!r}")
    low, high = np.quantile(theta_boot, [lo_level, hi_level])
    return BootstrapResult(
        statistic=statistic,
        method=method,
        estimate=theta_hat,
        low=float(low),
        high=float(high),
        std_error=float(np.std(theta_boot, ddof=1)),
        n_resamples=n_resamples,
        seed=seed,
    )
