"""Gamma-Gamma against Fader, Hardie & Lee (2005, "RFM and CLV") and lifetimes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from cvm.core.errors import UserInputError
from cvm.value.clv import GammaGammaModel
from cvm.value.clv.estimation import Problem

PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}  # FHL 2005 (JMR), CDNOW repeat buyers


@pytest.fixture(scope="module")
def repeat(cdnow_spend: pd.DataFrame) -> pd.DataFrame:
    return cdnow_spend[cdnow_spend["frequency"] > 0]


@pytest.fixture(scope="module")
def fitted(repeat: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(repeat)


def test_reproduces_published_estimates(repeat: pd.DataFrame, fitted: GammaGammaModel) -> None:
    assert len(repeat) == 946
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=0.01), name
    assert fitted.convergence_.success
    # The population mean spend p*gamma/(q-1) is close to the sample mean of the customer means.
    assert fitted.expected_spend_new_customer() == pytest.approx(35.1, abs=0.1)


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_matches_lifetimes(
    repeat: pd.DataFrame, fitted: GammaGammaModel, lifetimes: ModuleType, penalizer: float
) -> None:
    x, m = repeat["frequency"], repeat["monetary_value"]
    ref = lifetimes.GammaGammaFitter(penalizer_coef=penalizer).fit(x, m)
    ours = GammaGammaModel(penalizer=penalizer).fit(repeat)
    for name, theirs in zip(("p", "q", "gamma"), ("p", "q", "v"), strict=True):
        assert ours.params_[name] == pytest.approx(ref.params_[theirs], rel=1e-4)
    ref.params_[:] = [fitted.params_[k] for k in ("p", "q", "gamma")]
    np.testing.assert_allclose(
        fitted.expected_spend(repeat).to_numpy(),
        ref.conditional_expected_average_profit(x, m).to_numpy(),
        rtol=1e-12,
    )


def test_expected_spend_shrinks_towards_the_population_mean(
    cdnow_spend: pd.DataFrame, fitted: GammaGammaModel
) -> None:
    spend = fitted.expected_spend(cdnow_spend)
    mean = fitted.expected_spend_new_customer()
    never = cdnow_spend["frequency"] == 0
    assert np.allclose(spend[never], mean)
    repeat = cdnow_spend[~never]
    between = (spend[~never] - mean) * (repeat["monetary_value"] - spend[~never])
    assert np.all(between >= -1e-9)  # each estimate lies between the population and own mean


def test_analytic_derivatives_match_finite_differences(repeat: pd.DataFrame) -> None:
    model = GammaGammaModel()
    columns = model._prepare(
        {k: repeat[k].to_numpy(float) for k in ("frequency", "monetary_value")}
    )
    weights = np.ones(len(repeat))
    phi = np.log([5.0, 3.0, 12.0])
    analytic = Problem(model._terms, 2, columns, weights, 0.0)
    numeric = Problem(model._terms, 0, columns, weights, 0.0)
    np.testing.assert_allclose(analytic.fun_grad(phi)[1], numeric.fun_grad(phi)[1], atol=1e-8)
    np.testing.assert_allclose(analytic.hess(phi), numeric.hess(phi), atol=1e-6)


def test_fit_refuses_customers_without_repeat_purchases(cdnow_spend: pd.DataFrame) -> None:
    with pytest.raises(UserInputError, match="'frequency'.*repeat customers only"):
        GammaGammaModel().fit(cdnow_spend)
    with pytest.raises(UserInputError, match="'monetary_value'"):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [1, 2], "monetary_value": [10.0, -1.0]}))


def test_unbounded_mean_spend_is_infinite_not_negative() -> None:
    heavy_tail = GammaGammaModel.from_params({"p": 1.3, "q": 0.34, "gamma": 1.15})
    spend = heavy_tail.expected_spend(
        pd.DataFrame({"frequency": [0, 1, 5], "monetary_value": [0.0, 20.0, 30.0]})
    )
    assert np.isinf(spend.iloc[0]) and np.isinf(heavy_tail.expected_spend_new_customer())
    assert 0 < spend.iloc[2] < np.inf  # 5*1.3 + 0.34 > 1
