"""MBG/NBD against lifetimes' ModifiedBetaGeoFitter (no published CDNOW estimates to compare)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from cvm.value.clv import BetaGeoModel, ModifiedBetaGeoModel
from cvm.value.clv.estimation import Problem

NAMES = ("r", "alpha", "a", "b")


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel().fit(cdnow)


def test_matches_lifetimes(
    cdnow: pd.DataFrame, fitted: ModifiedBetaGeoModel, lifetimes: ModuleType
) -> None:
    ref = lifetimes.ModifiedBetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for name in NAMES:
        assert fitted.params_[name] == pytest.approx(ref.params_[name], rel=1e-4)
    assert fitted.log_likelihood_ == pytest.approx(-9582.13, abs=0.01)  # vs -9582.43 for BG/NBD
    ref.params_[:] = [fitted.params_[k] for k in NAMES]
    x, tx, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    for t in (1.0, 39.0, 104.0):
        np.testing.assert_allclose(
            fitted.expected_purchases(cdnow, t).to_numpy(),
            np.asarray(ref.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)),
            rtol=1e-9,
        )
        assert fitted.expected_purchases_new_customer(t) == pytest.approx(
            ref.expected_number_of_purchases_up_to_time(t), rel=1e-9
        )
        for n in (0, 1, 5):
            assert fitted.probability_of_n_purchases(t, n) == pytest.approx(
                ref.probability_of_n_purchases_up_to_time(t, n), rel=1e-8
            )
    np.testing.assert_allclose(
        fitted.probability_alive(cdnow).to_numpy(),
        ref.conditional_probability_alive(x, tx, T),
        rtol=1e-12,
    )


def test_zero_repeat_customers_can_be_gone(
    cdnow: pd.DataFrame, fitted: ModifiedBetaGeoModel
) -> None:
    # The difference from BG/NBD: with x = 0 a customer may have left right after acquisition.
    never = cdnow[cdnow["frequency"] == 0].head(3)
    assert np.all(fitted.probability_alive(never) < 1)
    assert np.all(BetaGeoModel().fit(cdnow).probability_alive(never) == 1)
    p0 = fitted.probability_of_n_purchases(39.0, np.arange(300))
    assert p0.sum() == pytest.approx(1.0, abs=1e-9)


def test_analytic_derivatives_match_finite_differences(cdnow: pd.DataFrame) -> None:
    model = ModifiedBetaGeoModel()
    columns = model._prepare({k: cdnow[k].to_numpy(float) for k in ("frequency", "recency", "T")})
    weights = np.ones(len(cdnow))
    phi = np.log([0.3, 5.0, 0.7, 2.0])
    analytic = Problem(model._terms, 2, columns, weights, 0.0)
    numeric = Problem(model._terms, 0, columns, weights, 0.0)
    np.testing.assert_allclose(analytic.fun_grad(phi)[1], numeric.fun_grad(phi)[1], atol=1e-8)
    np.testing.assert_allclose(analytic.hess(phi), numeric.hess(phi), atol=1e-6)
