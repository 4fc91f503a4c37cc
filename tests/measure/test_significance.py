"""Intervals and tests checked against statsmodels and scipy on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from cvm.measure.significance import (
    holm_adjust,
    mean_ratio_interval,
    newcombe_interval,
    risk_ratio_interval,
    two_proportion_ztest,
    welch_test,
    wilson_interval,
)

# (treated responders, treated n, control responders, control n): common, rare, zero, tiny
CASES = [
    (3894, 21307, 2262, 21306),
    (267, 21307, 122, 21306),
    (0, 500, 3, 480),
    (7, 12, 1, 9),
    (56, 70, 48, 80),
]


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
@pytest.mark.parametrize("case", CASES)
def test_wilson_matches_statsmodels(case: tuple[int, int, int, int], alpha: float) -> None:
    for count, nobs in (case[:2], case[2:]):
        ours = wilson_interval(count, nobs, alpha)
        ref = proportion_confint(count, nobs, alpha=alpha, method="wilson")
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize("case", CASES)
def test_newcombe_matches_statsmodels(case: tuple[int, int, int, int], alpha: float) -> None:
    ours = newcombe_interval(*case, alpha=alpha)
    ref = confint_proportions_2indep(*case, method="newcomb", compare="diff", alpha=alpha)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_newcombe_published_example() -> None:
    """Newcombe (1998), Table II example (a): 56/70 vs 48/80, method 10 gives 0.0524 to 0.3339."""
    low, high = newcombe_interval(56, 70, 48, 80)
    assert round(float(low), 4) == 0.0524
    assert round(float(high), 4) == 0.3339


def test_newcombe_is_vectorised() -> None:
    c = np.array(CASES, dtype=float)
    low, high = newcombe_interval(c[:, 0], c[:, 1], c[:, 2], c[:, 3])
    for i, case in enumerate(CASES):
        ref = confint_proportions_2indep(*case, method="newcomb")
        assert low[i] == pytest.approx(ref[0], abs=1e-12)
        assert high[i] == pytest.approx(ref[1], abs=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] > 0])
def test_risk_ratio_matches_statsmodels(case: tuple[int, int, int, int]) -> None:
    for adjusted, method in ((False, "log"), (True, "log-adjusted")):
        ours = risk_ratio_interval(*case, adjusted=adjusted)
        ref = confint_proportions_2indep(*case, method=method, compare="ratio")
        np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_risk_ratio_adjusted_is_finite_with_zero_count() -> None:
    low, high = risk_ratio_interval(0, 500, 3, 480, adjusted=True)
    assert 0 < low < high < np.inf
    ref = confint_proportions_2indep(0, 500, 3, 480, method="log-adjusted", compare="ratio")
    np.testing.assert_allclose((low, high), ref, rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_ztest_matches_statsmodels(case: tuple[int, int, int, int]) -> None:
    ours = two_proportion_ztest(*case)
    z, p = proportions_ztest([case[0], case[2]], [case[1], case[3]])
    assert float(ours.statistic) == pytest.approx(z, abs=1e-10)
    assert float(ours.p_value) == pytest.approx(p, abs=1e-12)
    # and equals Pearson's chi-square without continuity correction
    table = [[case[0], case[1] - case[0]], [case[2], case[3] - case[2]]]
    chi = stats.chi2_contingency(table, correction=False)
    assert float(ours.p_value) == pytest.approx(chi.pvalue, abs=1e-10)


def _revenue(rng: np.random.Generator, n: int, rate: float, scale: float) -> np.ndarray:
    return rng.lognormal(np.log(scale), 1.0, n) * (rng.random(n) < rate)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy_and_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _revenue(rng, 900, 0.12, 60.0)
    y = _revenue(rng, 350, 0.09, 55.0)
    ours = welch_test(x, y, alpha=0.05)
    sp = stats.ttest_ind(x, y, equal_var=False)
    assert float(ours.statistic) == pytest.approx(sp.statistic, rel=1e-10)
    assert float(ours.p_value) == pytest.approx(sp.pvalue, abs=1e-12)
    assert float(ours.df) == pytest.approx(sp.df, rel=1e-10)
    t, p, df = ttest_ind(x, y, usevar="unequal")
    assert float(ours.p_value) == pytest.approx(p, abs=1e-12)
    assert float(ours.df) == pytest.approx(df, rel=1e-10)
    ref_ci = CompareMeans(DescrStatsW(x), DescrStatsW(y)).tconfint_diff(usevar="unequal")
    np.testing.assert_allclose((ours.low, ours.high), ref_ci, rtol=1e-10)
    sp_ci = sp.confidence_interval(0.95)
    np.testing.assert_allclose((ours.low, ours.high), (sp_ci.low, sp_ci.high), rtol=1e-10)


def test_mean_ratio_interval_covers_and_is_positive() -> None:
    """Delta-log interval: agrees with a large bootstrap of the ratio to a few percent."""
    rng = np.random.default_rng(5)
    x = _revenue(rng, 4000, 0.15, 50.0)
    y = _revenue(rng, 4000, 0.10, 50.0)
    low, high = mean_ratio_interval(
        x.mean(), x.var(ddof=1), x.size, y.mean(), y.var(ddof=1), y.size
    )
    ref = stats.bootstrap(
        (x, y),
        lambda a, b, axis=-1: a.mean(axis=axis) / b.mean(axis=axis),
        n_resamples=4000,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert 0 < low < x.mean() / y.mean() < high
    assert float(low) == pytest.approx(ref.low, rel=0.05)
    assert float(high) == pytest.approx(ref.high, rel=0.05)


@pytest.mark.parametrize(
    "p",
    [
        [0.01, 0.04, 0.03, 0.005],
        [0.2, 0.001, 0.04, 0.04, 0.6],
        [0.5],
        [0.012, 0.012, 0.9],
        list(np.random.default_rng(3).uniform(0, 0.2, 12)),
    ],
)
def test_holm_matches_statsmodels(p: list[float]) -> None:
    ref = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm_adjust(p), ref, rtol=0, atol=1e-15)


def test_holm_leaves_missing_out_of_the_family() -> None:
    out = holm_adjust([0.01, np.nan, 0.04])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], multipletests([0.01, 0.04], method="holm")[1])
