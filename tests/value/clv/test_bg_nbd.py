"""BG/NBD against Fader, Hardie & Lee (2005), lifetimes, and its own derivatives."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from cvm.value.clv import BetaGeoModel
from cvm.value.clv.estimation import Problem

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL 2005, section 5


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow)


def test_reproduces_published_estimates(fitted: BetaGeoModel) -> None:
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=6e-4), name
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.convergence_.success
    assert fitted.convergence_.gradient_norm < 1e-6


def test_standard_errors_and_intervals(fitted: BetaGeoModel) -> None:
    # Delta-method SEs from the Hessian; intervals bracket the estimate and stay positive.
    assert fitted.standard_errors_["r"] == pytest.approx(0.0126, abs=5e-4)
    assert fitted.standard_errors_["alpha"] == pytest.approx(0.378, abs=0.01)
    for name, (lo, hi) in fitted.confidence_intervals_.items():
        assert 0 < lo < fitted.params_[name] < hi
    assert np.allclose(fitted.covariance_, fitted.covariance_.T)
    summary = fitted.summary()
    assert list(summary.index) == ["r", "alpha", "a", "b"]


def test_matches_lifetimes(
    cdnow: pd.DataFrame, fitted: BetaGeoModel, lifetimes: ModuleType
) -> None:
    ref = lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for name in ("r", "alpha", "a", "b"):
        assert fitted.params_[name] == pytest.approx(ref.params_[name], rel=1e-4)
    ref.params_[:] = [fitted.params_[k] for k in ("r", "alpha", "a", "b")]  # same params
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    for t in (1.0, 10.0, 52.0, 520.0):
        ours = fitted.expected_purchases(cdnow, t).to_numpy()
        theirs = np.asarray(ref.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T))
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        assert fitted.expected_purchases_new_customer(t) == pytest.approx(
            ref.expected_number_of_purchases_up_to_time(t), rel=1e-9
        )
        for n in (0, 1, 2, 7):
            assert fitted.probability_of_n_purchases(t, n) == pytest.approx(
                ref.probability_of_n_purchases_up_to_time(t, n), rel=1e-8
            )
    np.testing.assert_allclose(
        fitted.probability_alive(cdnow).to_numpy(),
        ref.conditional_probability_alive(x, tx, T),
        rtol=1e-12,
    )


def test_penalizer_matches_lifetimes(cdnow: pd.DataFrame, lifetimes: ModuleType) -> None:
    ours = BetaGeoModel(penalizer=0.1).fit(cdnow)
    ref = lifetimes.BetaGeoFitter(penalizer_coef=0.1).fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    for name in ("r", "alpha", "a", "b"):
        assert ours.params_[name] == pytest.approx(ref.params_[name], rel=1e-4)
    assert ours.params_["a"] < 0.5  # the penalty really shrinks


def test_analytic_derivatives_match_finite_differences(cdnow: pd.DataFrame) -> None:
    model = BetaGeoModel()
    columns = model._prepare({k: cdnow[k].to_numpy(float) for k in ("frequency", "recency", "T")})
    weights = np.ones(len(cdnow))
    analytic = Problem(model._terms, 2, columns, weights, 0.0)
    numeric = Problem(model._terms, 0, columns, weights, 0.0)
    for phi in (np.log([0.3, 5.0, 0.7, 2.0]), np.log([2.0, 0.5, 3.0, 0.2])):
        np.testing.assert_allclose(analytic.fun_grad(phi)[1], numeric.fun_grad(phi)[1], atol=1e-8)
        np.testing.assert_allclose(analytic.hess(phi), numeric.hess(phi), atol=1e-6)


def test_time_unit_does_not_change_the_fit(cdnow: pd.DataFrame, fitted: BetaGeoModel) -> None:
    days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    in_days = BetaGeoModel().fit(days)
    assert in_days.params_["alpha"] == pytest.approx(fitted.params_["alpha"] * 7, rel=1e-6)
    assert in_days.params_["r"] == pytest.approx(fitted.params_["r"], rel=1e-6)
    np.testing.assert_allclose(
        in_days.expected_purchases(days, 70).to_numpy(),
        fitted.expected_purchases(cdnow, 10).to_numpy(),
        rtol=1e-6,
    )


def test_weights_equal_repeated_rows(cdnow: pd.DataFrame, fitted: BetaGeoModel) -> None:
    counted = cdnow.groupby(["frequency", "recency", "T"]).size().rename("weights").reset_index()
    assert len(counted) < len(cdnow)
    grouped = BetaGeoModel().fit(counted)
    assert grouped.n_rows_ == len(counted) and grouped.n_customers_ == len(cdnow)
    for name in PUBLISHED:
        assert grouped.params_[name] == pytest.approx(fitted.params_[name], rel=1e-8)
    assert grouped.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-12)


def test_predictions_stay_finite_for_extreme_histories(fitted: BetaGeoModel) -> None:
    extreme = pd.DataFrame(
        {
            "frequency": [500.0, 5000.0, 0.0, 40.0],
            "recency": [38.9, 38.9, 0.0, 1.0],
            "T": [38.9, 38.9, 5000.0, 5000.0],
        }
    )
    expected = fitted.expected_purchases(extreme, 52.0).to_numpy()
    alive = fitted.probability_alive(extreme).to_numpy()
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    assert expected[1] > expected[0] > 100  # heavy recent buyers keep buying
    assert alive[3] < 1e-12  # 40 purchases in week 1 then silence for 100 years


def test_probabilities_of_n_purchases_sum_to_one(fitted: BetaGeoModel) -> None:
    p = fitted.probability_of_n_purchases(39.0, np.arange(400))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert (np.arange(400) * p).sum() == pytest.approx(
        fitted.expected_purchases_new_customer(39.0), rel=1e-6
    )
