"""The bootstrap reproduces scipy.stats.bootstrap draw for draw (same seed, same batch)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cvm.measure.bootstrap import bootstrap_mean_interval


def _diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a.mean(axis=axis) - b.mean(axis=axis)


def _ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a.mean(axis=axis) / b.mean(axis=axis)


@pytest.fixture(scope="module")
def spend() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.lognormal(3.5, 1.0, 600) * (rng.random(600) < 0.2)
    y = rng.lognormal(3.5, 1.0, 450) * (rng.random(450) < 0.15)
    return x, y


@pytest.mark.parametrize("statistic", ["difference", "ratio"])
@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_matches_scipy_bootstrap(
    spend: tuple[np.ndarray, np.ndarray], statistic: str, method: str
) -> None:
    x, y = spend
    ours = bootstrap_mean_interval(
        x,
        y,
        seed=7,
        statistic=statistic,
        method=method,
        n_resamples=999,
        batch=50,  # type: ignore[arg-type]
    )
    ref = stats.bootstrap(
        (x, y),
        _diff if statistic == "difference" else _ratio,
        method="BCa" if method == "bca" else "percentile",
        n_resamples=999,
        batch=50,
        rng=np.random.default_rng(7),
        vectorized=True,
    )
    assert ours.low == pytest.approx(ref.confidence_interval.low, rel=1e-9)
    assert ours.high == pytest.approx(ref.confidence_interval.high, rel=1e-9)
    assert ours.std_error == pytest.approx(ref.standard_error, rel=1e-9)


def test_same_seed_same_interval_and_seed_matters(spend: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = spend
    a = bootstrap_mean_interval(x, y, seed=3, n_resamples=500)
    b = bootstrap_mean_interval(x, y, seed=3, n_resamples=500)
    c = bootstrap_mean_interval(x, y, seed=4, n_resamples=500)
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)


def test_bca_corrects_for_skew_and_not_for_symmetry() -> None:
    """Mean of a right-skewed sample: positive acceleration moves BCa's limits to the right of
    the percentile limits (Efron & Tibshirani 1993, ch. 14). Symmetric data: they agree."""
    rng = np.random.default_rng(2)
    x = rng.lognormal(3.0, 1.5, 60)
    y = rng.normal(20.0, 1.0, 60)
    pct = bootstrap_mean_interval(x, y, seed=1, method="percentile")
    bca = bootstrap_mean_interval(x, y, seed=1, method="bca")
    assert bca.low > pct.low and bca.high > pct.high
    x_sym, y_sym = rng.normal(10.0, 2.0, 400), rng.normal(9.0, 2.0, 400)
    pct = bootstrap_mean_interval(x_sym, y_sym, seed=1, method="percentile")
    bca = bootstrap_mean_interval(x_sym, y_sym, seed=1, method="bca")
    assert bca.low == pytest.approx(pct.low, abs=0.03)
    assert bca.high == pytest.approx(pct.high, abs=0.03)


def test_rejects_tiny_groups() -> None:
    with pytest.raises(ValueError):
        bootstrap_mean_interval([1.0], [1.0, 2.0], seed=0)
