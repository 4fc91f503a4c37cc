"""expected_customer_lifetime_value: lifetimes parity, closed forms, units and discounting."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from cvm.core.errors import UserInputError
from cvm.value.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    expected_customer_lifetime_value,
    monthly_discount_rate,
)


class ConstantRate:
    """A purchase model with E(t) = rate * t for everyone: CLV is then an annuity."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        return pd.Series(self.rate * t, index=data.index)


@pytest.fixture(scope="module")
def models(cdnow_spend: pd.DataFrame) -> tuple[BetaGeoModel, GammaGammaModel]:
    return BetaGeoModel().fit(cdnow_spend), GammaGammaModel().fit(
        cdnow_spend[cdnow_spend["frequency"] > 0]
    )


@pytest.mark.parametrize("monthly_rate", [0.0, 0.01, 0.03])
def test_matches_lifetimes(
    cdnow_spend: pd.DataFrame,
    models: tuple[BetaGeoModel, GammaGammaModel],
    lifetimes: ModuleType,
    monthly_rate: float,
) -> None:
    purchase, spend = models
    ref_purchase = lifetimes.BetaGeoFitter().fit(
        cdnow_spend["frequency"], cdnow_spend["recency"], cdnow_spend["T"]
    )
    ref_purchase.params_[:] = [purchase.params_[k] for k in ("r", "alpha", "a", "b")]
    repeat = cdnow_spend[cdnow_spend["frequency"] > 0]
    ref_spend = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    ref_spend.params_[:] = [spend.params_[k] for k in ("p", "q", "gamma")]
    x, tx, T, m = (cdnow_spend[c] for c in ("frequency", "recency", "T", "monetary_value"))
    theirs = ref_spend.customer_lifetime_value(
        ref_purchase, x, tx, T, m, time=12, discount_rate=monthly_rate, freq="W"
    )
    ours = expected_customer_lifetime_value(
        purchase,
        spend,
        cdnow_spend,
        time_unit=4.345,  # lifetimes' weeks per month
        horizon_months=12,
        annual_discount_rate=(1 + monthly_rate) ** 12 - 1,
    )
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9)
    assert ours.name == "clv" and ours.index.equals(cdnow_spend.index)


def test_annuity_closed_form() -> None:
    data = pd.DataFrame({"frequency": [1.0, 2.0]}, index=["a", "b"])
    annual = 0.12
    clv = expected_customer_lifetime_value(
        ConstantRate(0.5), pd.Series([10.0, 20.0], index=["a", "b"]), data,
        time_unit="week", horizon_months=24, annual_discount_rate=annual, margin=0.3,
    )  # fmt: skip
    v = (1 + annual) ** (-1 / 12)  # monthly discount factor
    per_month = 0.5 * (365.25 / 12) / 7  # purchases per month at 0.5 a week
    expected = 0.3 * per_month * v * (1 - v**24) / (1 - v)
    np.testing.assert_allclose(clv.to_numpy(), [10 * expected, 20 * expected], rtol=1e-12)


def test_discount_rate_is_annual_compounded_monthly() -> None:
    assert monthly_discount_rate(0.12) == pytest.approx(1.12 ** (1 / 12) - 1)
    assert (1 + monthly_discount_rate(0.1)) ** 12 == pytest.approx(1.1)
    data = pd.DataFrame({"frequency": [0.0]})
    one_year = expected_customer_lifetime_value(
        ConstantRate(1.0), 1.0, data, time_unit="month", horizon_months=12, annual_discount_rate=0.0
    )
    assert one_year.iloc[0] == pytest.approx(12.0)
    discounted = expected_customer_lifetime_value(
        ConstantRate(1.0),
        1.0,
        data,
        time_unit="month",
        horizon_months=12,
        annual_discount_rate=0.10,
    )
    # The 12th month's purchase is worth exactly 1/1.1 today.
    assert discounted.iloc[0] == pytest.approx(sum(1.1 ** (-k / 12) for k in range(1, 13)))


def test_without_discount_clv_is_spend_times_expected_purchases(
    cdnow_spend: pd.DataFrame, models: tuple[BetaGeoModel, GammaGammaModel]
) -> None:
    purchase, spend = models
    clv = expected_customer_lifetime_value(
        purchase,
        spend,
        cdnow_spend,
        time_unit="week",
        horizon_months=12,
        annual_discount_rate=0.0,
        margin=0.25,
    )
    weeks = 12 * (365.25 / 12) / 7
    expected = (
        0.25 * spend.expected_spend(cdnow_spend) * purchase.expected_purchases(cdnow_spend, weeks)
    )
    np.testing.assert_allclose(clv.to_numpy(), expected.to_numpy(), rtol=1e-10)
    # The same in days gives the same value: the unit is only a change of clock.
    days = cdnow_spend.assign(recency=cdnow_spend["recency"] * 7, T=cdnow_spend["T"] * 7)
    in_days = expected_customer_lifetime_value(
        BetaGeoModel().fit(days),
        spend,
        days,
        time_unit="D",
        horizon_months=12,
        annual_discount_rate=0.0,
        margin=0.25,
    )
    np.testing.assert_allclose(in_days.to_numpy(), clv.to_numpy(), rtol=1e-5)


def test_works_with_every_purchase_model(
    cdnow: pd.DataFrame, donations: pd.DataFrame, retention: pd.DataFrame
) -> None:
    pareto = ParetoNBDModel.from_params({"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67})
    clv = expected_customer_lifetime_value(pareto, 35.0, cdnow, time_unit="week", horizon_months=36)
    assert np.all(clv >= 0) and clv.sum() > 0
    # Discrete models step one period at a time: yearly donations, two years ahead.
    bgbb = BetaGeoBetaBinomModel().fit(donations)
    two_years = expected_customer_lifetime_value(
        bgbb, 50.0, donations, time_unit="year", horizon_months=24, annual_discount_rate=0.1
    )
    first = bgbb.expected_purchases(donations, 1)
    second = bgbb.expected_purchases(donations, 2) - first
    np.testing.assert_allclose(
        two_years.to_numpy(), (50 * (first / 1.1 + second / 1.1**2)).to_numpy(), rtol=1e-12
    )
    with pytest.raises(UserInputError, match="whole number of model periods"):
        expected_customer_lifetime_value(bgbb, 50.0, donations, time_unit="year", horizon_months=18)
    sbg = ShiftedBetaGeoModel().fit(retention[retention["cohort"] == "regular"])
    active = pd.DataFrame({"recency": [8, 2], "T": [8, 8]})
    value = expected_customer_lifetime_value(sbg, 100.0, active, time_unit="Y", horizon_months=120)
    assert value.iloc[0] > 100 and value.iloc[1] == 0


def test_distinct_rows_shortcut_gives_the_same_answer(
    cdnow_spend: pd.DataFrame, models: tuple[BetaGeoModel, GammaGammaModel]
) -> None:
    purchase, _ = models

    class Opaque:  # no input_columns: evaluated row by row
        def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
            return purchase.expected_purchases(data, t)

    spend = cdnow_spend["monetary_value"] + 1.0
    fast = expected_customer_lifetime_value(purchase, spend, cdnow_spend, time_unit="W")
    slow = expected_customer_lifetime_value(Opaque(), spend, cdnow_spend, time_unit="W")  # type: ignore[arg-type]
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=1e-12)


def test_bad_arguments_are_refused(cdnow: pd.DataFrame) -> None:
    model = ConstantRate(1.0)
    with pytest.raises(UserInputError, match="time_unit"):
        expected_customer_lifetime_value(model, 1.0, cdnow, time_unit="fortnight")
    with pytest.raises(UserInputError, match="time_unit"):
        expected_customer_lifetime_value(model, 1.0, cdnow, time_unit=-2.0)
    with pytest.raises(UserInputError, match="horizon_months"):
        expected_customer_lifetime_value(model, 1.0, cdnow, time_unit="W", horizon_months=0)
    with pytest.raises(UserInputError, match="spend"):
        expected_customer_lifetime_value(model, np.ones(3), cdnow, time_unit="W")
    with pytest.raises(UserInputError, match="spend"):
        expected_customer_lifetime_value(model, pd.Series([1.0], index=[999]), cdnow, time_unit="W")
