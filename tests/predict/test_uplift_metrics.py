"""Uplift metrics: equal to scikit-uplift on the same predictions, bootstrap behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvm.predict import uplift_metrics as um
from cvm.predict.tabular import TabularInputError

sklift = pytest.importorskip("sklift.metrics", reason="scikit-uplift is the test-time oracle")
# sklift 0.5 calls sklearn's deprecated stable_cumsum and pandas' deprecated inplace keyword:
# harmless warnings from the oracle, not from our code
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword:Warning"),
]


def _experiment(n: int, seed: int, ties: bool = False) -> tuple[np.ndarray, ...]:
    """Randomised test: response 0.2, +0.15 for x > 0 when treated; uplift = x + noise."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    y = (rng.random(n) < 0.2 + 0.15 * t * (x > 0)).astype(int)
    u = x + rng.normal(scale=0.7, size=n)
    return y, (np.round(u, 1) if ties else u), t


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, False)])
def test_scores_equal_sklift(seed: int, ties: bool) -> None:
    y, u, t = _experiment(3000, seed, ties)
    assert um.qini_coefficient(y, u, t) == pytest.approx(sklift.qini_auc_score(y, u, t), abs=1e-12)
    assert um.auuc(y, u, t) == pytest.approx(sklift.uplift_auc_score(y, u, t), abs=1e-12)
    for k in (0.1, 0.3, 0.5):
        ours = um.uplift_at_k(y, u, t, k=k)
        assert ours == pytest.approx(
            sklift.uplift_at_k(y, u, t, strategy="overall", k=k), abs=1e-12
        )


def test_curves_equal_sklift_points() -> None:
    y, u, t = _experiment(2000, 3, ties=True)
    for ours, theirs in (
        (um.qini_curve, sklift.qini_curve),
        (um.uplift_curve, sklift.uplift_curve),
    ):
        curve = ours(y, u, t)
        x_ref, v_ref = theirs(y, u, t)
        np.testing.assert_allclose(curve.n, x_ref)
        np.testing.assert_allclose(curve.values, v_ref, atol=1e-9)
        # random-targeting line: straight from (0, 0) to the curve's end point
        assert curve.random[0] == 0 and curve.random[-1] == pytest.approx(curve.values[-1])


def test_uplift_by_decile_equals_sklift_uplift_by_percentile() -> None:
    y, u, t = _experiment(3000, 4)
    ours = um.uplift_by_decile(y, u, t, bins=10)
    ref = sklift.uplift_by_percentile(y, u, t, strategy="overall", bins=10, std=True)
    np.testing.assert_array_equal(ours["n_treatment"], ref["n_treatment"])
    np.testing.assert_array_equal(ours["n_control"], ref["n_control"])
    np.testing.assert_allclose(ours["uplift"], ref["uplift"], atol=1e-12)
    np.testing.assert_allclose(ours["std_uplift"], ref["std_uplift"], atol=1e-12)


def test_optimal_ranking_scores_one_and_reversed_scores_below_zero() -> None:
    y, _, t = _experiment(2000, 5)
    best = y * t - y * (1 - t)
    assert um.qini_coefficient(y, best, t) == pytest.approx(1.0)
    assert um.qini_coefficient(y, -best, t) < 0


def test_bootstrap_intervals_separate_signal_from_noise_and_are_seeded() -> None:
    y, u, t = _experiment(4000, 6)
    report = um.evaluate_uplift(y, u, t, n_bootstrap=100, seed=3)
    assert report.qini_coefficient.excludes(0.0)
    assert (
        report.qini_coefficient.low < report.qini_coefficient.value < report.qini_coefficient.high
    )
    assert report.uplift_at_k.value > report.ate.value
    assert report.to_dict() == um.evaluate_uplift(y, u, t, n_bootstrap=100, seed=3).to_dict()
    noise = np.random.default_rng(7).normal(size=len(y))
    random_report = um.evaluate_uplift(y, noise, t, n_bootstrap=100, seed=3)
    assert not random_report.qini_coefficient.excludes(0.0)
    data = json.loads(json.dumps(report.to_dict()))
    assert len(data["deciles"]) == 10 and data["deciles"][0]["low"] <= data["deciles"][0]["uplift"]


def test_continuous_outcomes_and_bad_input() -> None:
    rng = np.random.default_rng(8)
    t = rng.integers(0, 2, 1000)
    x = rng.normal(size=1000)
    spend = rng.gamma(2.0, 10.0, 1000) + 5.0 * t * (x > 0)
    report = um.evaluate_uplift(spend, x, t, n_bootstrap=50)
    assert report.uplift_at_k.value > report.ate.value
    with pytest.raises(TabularInputError, match="binary"):
        um.qini_coefficient(spend, x, t + 1)
    with pytest.raises(TabularInputError, match="both treated and control"):
        um.auuc(spend, x, np.ones(1000))
    with pytest.raises(TabularInputError, match="share"):
        um.uplift_at_k(spend, x, t, k=30)
