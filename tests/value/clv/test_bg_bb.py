"""BG/BB against Fader, Hardie & Shang (2010) on their donation data, and lifetimes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from cvm.value.clv import BetaGeoBetaBinomModel
from cvm.value.clv.estimation import Problem

PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}  # FHS 2010, table 2
NAMES = ("alpha", "beta", "gamma", "delta")


@pytest.fixture(scope="module")
def fitted(donations: pd.DataFrame) -> BetaGeoBetaBinomModel:
    return BetaGeoBetaBinomModel().fit(donations)


def test_reproduces_published_estimates(
    donations: pd.DataFrame, fitted: BetaGeoBetaBinomModel
) -> None:
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=6e-4), name
    assert fitted.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    assert fitted.n_customers_ == 11104 and fitted.n_rows_ == 22
    assert fitted.convergence_.success


def test_matches_lifetimes(
    donations: pd.DataFrame, fitted: BetaGeoBetaBinomModel, lifetimes: ModuleType
) -> None:
    x, tx, n, w = (donations[c] for c in ("frequency", "recency", "T", "weights"))
    ref = lifetimes.BetaGeoBetaBinomFitter().fit(x, tx, n, weights=w)
    for name in NAMES:
        assert fitted.params_[name] == pytest.approx(ref.params_[name], rel=1e-4)
    ref.params_[:] = [fitted.params_[k] for k in NAMES]
    for t in (1, 5, 10):
        np.testing.assert_allclose(
            fitted.expected_purchases(donations, t).to_numpy(),
            np.asarray(ref.conditional_expected_number_of_purchases_up_to_time(t, x, tx, n)),
            rtol=1e-9,
        )
    np.testing.assert_allclose(
        fitted.probability_alive(donations).to_numpy(),
        np.asarray(ref.conditional_probability_alive(1, x, tx, n)),
        rtol=1e-9,
    )
    model_counts = (
        ref.expected_number_of_transactions_in_first_n_periods(6)["model"].to_numpy() / 11104
    )
    np.testing.assert_allclose(
        fitted.probability_of_n_purchases(6, np.arange(7)), model_counts, rtol=1e-9
    )


def test_fit_reproduces_the_observed_frequency_histogram(
    donations: pd.DataFrame, fitted: BetaGeoBetaBinomModel
) -> None:
    # FHS 2010, figure 3: the fitted P(X(6) = x) tracks the observed shares closely.
    observed = donations.groupby("frequency")["weights"].sum().to_numpy() / 11104
    predicted = fitted.probability_of_n_purchases(6, np.arange(7))
    assert predicted.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(predicted, observed, atol=0.01)
    expected = fitted.expected_purchases_new_customer(6)
    assert expected == pytest.approx((np.arange(7) * predicted).sum(), rel=1e-9)


def test_analytic_gradient_matches_finite_differences(donations: pd.DataFrame) -> None:
    model = BetaGeoBetaBinomModel()
    columns = {k: donations[k].to_numpy(float) for k in ("frequency", "recency", "T")}
    weights = donations["weights"].to_numpy(float)
    phi = np.log([1.1, 0.7, 0.6, 2.5])
    analytic = Problem(model._terms, 1, columns, weights, 0.0)
    numeric = Problem(model._terms, 0, columns, weights, 0.0)
    np.testing.assert_allclose(analytic.fun_grad(phi)[1], numeric.fun_grad(phi)[1], atol=1e-8)


def test_requires_whole_opportunities(donations: pd.DataFrame) -> None:
    from cvm.core.errors import UserInputError

    half = donations.assign(recency=np.minimum(donations["recency"] + 0.5, 6.0))
    with pytest.raises(UserInputError, match="'recency'"):
        BetaGeoBetaBinomModel().fit(half)
    too_many = donations.assign(frequency=donations["recency"] + 1)
    with pytest.raises(UserInputError, match="'frequency'"):
        BetaGeoBetaBinomModel().fit(too_many)
