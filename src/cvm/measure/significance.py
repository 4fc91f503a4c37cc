"""Intervals and tests for comparing a treated group with its control.

Every function is vectorised: counts, sizes, means and variances may be numbers or numpy
arrays of one shape, so a simulation of thousands of campaigns is one call. Two-sided tests
throughout; ``alpha`` is the total error rate of a two-sided interval (0.05 gives 95%).

Conventions: group 1 is the treated group, group 2 the control, and a difference is
``group 1 - group 2`` (the lift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

Floats = Any
"""A float or a numpy array of floats (the functions broadcast like numpy ufuncs)."""

ArrayLike = npt.ArrayLike


def _z(alpha: float) -> float:
    """Two-sided normal critical value z_{1-alpha/2}."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.isf(alpha / 2.0))


def wilson_interval(
    count: ArrayLike, nobs: ArrayLike, alpha: float = 0.05
) -> tuple[Floats, Floats]:
    """Wilson (1927) score interval for one binomial proportion, without continuity correction.

    Newcombe (1998) method 3, eq. (3)::

        (2 n p + z^2 +- z sqrt(z^2 + 4 n p q)) / (2 (n + z^2)),   q = 1 - p

    It stays inside [0, 1] and keeps near-nominal coverage for small counts, where the Wald
    interval p +- z sqrt(pq/n) collapses (Brown, Cai & DasGupta 2001).
    """
    z = _z(alpha)
    count_a = np.asarray(count, dtype=np.float64)
    nobs_a = np.asarray(nobs, dtype=np.float64)
    p = count_a / nobs_a
    z2 = z * z
    centre = (2.0 * nobs_a * p + z2) / (2.0 * (nobs_a + z2))
    half = z * np.sqrt(z2 + 4.0 * nobs_a * p * (1.0 - p)) / (2.0 * (nobs_a + z2))
    return centre - half, centre + half


def newcombe_interval(
    count1: ArrayLike,
    nobs1: ArrayLike,
    count2: ArrayLike,
    nobs2: ArrayLike,
    alpha: float = 0.05,
) -> tuple[Floats, Floats]:
    """Newcombe (1998) hybrid score interval for p1 - p2 (method 10, eq. (10)).

    With Wilson limits (l1, u1) for p1 and (l2, u2) for p2 and d = p1 - p2::

        L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
        U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

    Newcombe's evaluation found coverage close to nominal even for rare events, which is
    the usual case for campaign response rates.
    """
    c1 = np.asarray(count1, dtype=np.float64)
    n1 = np.asarray(nobs1, dtype=np.float64)
    c2 = np.asarray(count2, dtype=np.float64)
    n2 = np.asarray(nobs2, dtype=np.float64)
    p1, p2 = c1 / n1, c2 / n2
    l1, u1 = wilson_interval(c1, n1, alpha)
    l2, u2 = wilson_interval(c2, n2, alpha)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def risk_ratio_interval(
    count1: ArrayLike,
    nobs1: ArrayLike,
    count2: ArrayLike,
    nobs2: ArrayLike,
    alpha: float = 0.05,
    adjusted: bool = False,
) -> tuple[Floats, Floats]:
    """Katz et al. (1978) log interval for the risk ratio p1 / p2.

    ``log(p1/p2) +- z sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)``. With ``adjusted=True`` 0.5 is added
    to every count and size first (Fagerland, Lydersen & Laake 2015, "log-adjusted"), which
    keeps the interval finite when a group has no responders. The relative lift is the risk
    ratio minus one.
    """
    half = 0.5 if adjusted else 0.0
    c1 = np.asarray(count1, dtype=np.float64) + half
    n1 = np.asarray(nobs1, dtype=np.float64) + half
    c2 = np.asarray(count2, dtype=np.float64) + half
    n2 = np.asarray(nobs2, dtype=np.float64) + half
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log((c1 / n1) / (c2 / n2))
        se = np.sqrt(1.0 / c1 - 1.0 / n1 + 1.0 / c2 - 1.0 / n2)
    z = _z(alpha)
    return np.exp(log_ratio - z * se), np.exp(log_ratio + z * se)


@dataclass(frozen=True)
class ZTestResult:
    """Two-proportion z-test: statistic and two-sided p-value."""

    statistic: Floats
    p_value: Floats


def two_proportion_ztest(
    count1: ArrayLike, nobs1: ArrayLike, count2: ArrayLike, nobs2: ArrayLike
) -> ZTestResult:
    """Pooled two-proportion z-test of H0: p1 = p2 (Fleiss, Levin & Paik 2003, eq. 2.5).

    ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled rate
    ``p = (x1 + x2) / (n1 + n2)``; the variance is taken under H0, which keeps the test's
    size honest. Equivalent to the Pearson chi-square test without continuity correction.
    """
    c1 = np.asarray(count1, dtype=np.float64)
    n1 = np.asarray(nobs1, dtype=np.float64)
    c2 = np.asarray(count2, dtype=np.float64)
    n2 = np.asarray(nobs2, dtype=np.float64)
    pooled = (c1 + c2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (c1 / n1 - c2 / n2) / np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    p = 2.0 * stats.norm.sf(np.abs(z))
    return ZTestResult(statistic=z, p_value=p)


@dataclass(frozen=True)
class WelchResult:
    """Welch comparison of two means: difference, its standard error, t, df, p and interval."""

    difference: Floats
    std_error: Floats
    statistic: Floats
    df: Floats
    p_value: Floats
    low: Floats
    high: Floats


def welch_from_stats(
    mean1: ArrayLike,
    var1: ArrayLike,
    nobs1: ArrayLike,
    mean2: ArrayLike,
    var2: ArrayLike,
    nobs2: ArrayLike,
    alpha: float = 0.05,
) -> WelchResult:
    """Welch (1947) t-test and interval for mean1 - mean2 from summary statistics.

    ``var`` are sample variances (ddof=1). ``se = sqrt(v1/n1 + v2/n2)`` and the
    Welch-Satterthwaite degrees of freedom
    ``df = se^4 / ((v1/n1)^2/(n1-1) + (v2/n2)^2/(n2-1))`` (Welch 1947, eq. 29). Revenue per
    customer is very skewed (mostly zeros), but with thousands of customers per group the
    mean is close enough to normal; ``bootstrap_mean_interval`` is the check when in doubt.
    """
    m1 = np.asarray(mean1, dtype=np.float64)
    m2 = np.asarray(mean2, dtype=np.float64)
    a = np.asarray(var1, dtype=np.float64) / np.asarray(nobs1, dtype=np.float64)
    b = np.asarray(var2, dtype=np.float64) / np.asarray(nobs2, dtype=np.float64)
    n1 = np.asarray(nobs1, dtype=np.float64)
    n2 = np.asarray(nobs2, dtype=np.float64)
    diff = m1 - m2
    se = np.sqrt(a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (a + b) ** 2 / (a**2 / (n1 - 1.0) + b**2 / (n2 - 1.0))
        t = diff / se
    p = 2.0 * stats.t.sf(np.abs(t), df)
    crit = stats.t.isf(alpha / 2.0, df)
    return WelchResult(
        difference=diff,
        std_error=se,
        statistic=t,
        df=df,
        p_value=p,
        low=diff - crit * se,
        high=diff + crit * se,
    )


def welch_test(x: ArrayLike, y: ArrayLike, alpha: float = 0.05) -> WelchResult:
    """Welch test and interval for mean(x) - mean(y) from the raw per-customer values."""
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    return welch_from_stats(
        xa.mean(), xa.var(ddof=1), xa.size, ya.mean(), ya.var(ddof=1), ya.size, alpha
    )


def mean_ratio_interval(
    mean1: ArrayLike,
    var1: ArrayLike,
    nobs1: ArrayLike,
    mean2: ArrayLike,
    var2: ArrayLike,
    nobs2: ArrayLike,
    alpha: float = 0.05,
) -> tuple[Floats, Floats]:
    """Delta-method interval for mean1 / mean2 on the log scale.

    ``Var(log m1 - log m2) ~= v1 / (n1 m1^2) + v2 / (n2 m2^2)`` (first-order Taylor expansion,
    e.g. Casella & Berger 2002, sec. 5.5.4); the interval is exponentiated back, so it stays
    positive and asymmetric like the ratio itself. Needs both means positive.
    """
    m1 = np.asarray(mean1, dtype=np.float64)
    m2 = np.asarray(mean2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(
            np.asarray(var1, dtype=np.float64) / (np.asarray(nobs1, dtype=np.float64) * m1**2)
            + np.asarray(var2, dtype=np.float64) / (np.asarray(nobs2, dtype=np.float64) * m2**2)
        )
        log_ratio = np.log(m1 / m2)
    z = _z(alpha)
    return np.exp(log_ratio - z * se), np.exp(log_ratio + z * se)


def holm_adjust(p_values: ArrayLike) -> npt.NDArray[np.float64]:
    """Holm (1979) step-down adjusted p-values, controlling the family-wise error rate.

    With the m p-values sorted p_(1) <= ... <= p_(m), the adjusted value is
    ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; reject where ``p~ <= alpha``. It is
    uniformly more powerful than Bonferroni and needs no assumption about dependence between
    the arms (they share a control, so they are positively dependent). Missing (NaN) p-values
    stay NaN and do not count towards m.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    flat = p.ravel()
    known = np.flatnonzero(~np.isnan(flat))
    m = known.size
    if m == 0:
        return out
    order = known[np.argsort(flat[known], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * flat[order])
    adjusted = np.maximum.accumulate(scaled)
    out_flat = out.ravel()
    out_flat[order] = adjusted
    return out_flat.reshape(p.shape)
