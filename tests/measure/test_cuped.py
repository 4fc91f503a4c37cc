"""CUPED: variance reduction with a correlated pre-period covariate, agreement with ANCOVA,
and refusal of covariates measured after assignment."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cvm.core.errors import NotFittedError, UserInputError
from cvm.measure.cuped import Covariate, CupedAdjuster, check_pre_assignment, cuped_adjust

ASSIGNED = datetime(2024, 3, 1)
PRE = Covariate("pre_spend", measured_at=datetime(2024, 2, 29))


def _campaign(seed: int, n: int = 4000, lift: float = 2.0, rho: float = 0.7) -> pd.DataFrame:
    """Spend this month correlates with spend last month (corr ~ rho); arm B adds ``lift``."""
    rng = np.random.default_rng(seed)
    pre = rng.normal(50.0, 10.0, n)
    noise = rng.normal(0.0, 10.0 * np.sqrt(1 - rho**2) / rho, n)
    arm = np.where(rng.random(n) < 0.5, "B", "A")
    post = pre + noise + np.where(arm == "B", lift, 0.0)
    return pd.DataFrame({"arm": arm, "spend": post, "pre_spend": pre})


def test_variance_reduction_matches_one_minus_rho_squared() -> None:
    df = _campaign(1)
    res = cuped_adjust(
        df, outcome="spend", arm="arm", control_arm="A", covariates=[PRE], assignment_time=ASSIGNED
    )
    rho = np.corrcoef(df["spend"], df["pre_spend"])[0, 1]
    assert res.variance_reduction == pytest.approx(rho**2, abs=0.02)
    assert res.variance_reduction > 0.4
    cmp = res.comparisons[0]
    raw_width = cmp.high - cmp.low
    adj_width = cmp.adjusted_high - cmp.adjusted_low
    # interval width shrinks by sqrt(1 - rho^2) (Deng et al. 2013, eq. 5)
    assert adj_width / raw_width == pytest.approx(np.sqrt(1 - rho**2), rel=0.03)
    assert cmp.adjusted_low < 2.0 < cmp.adjusted_high


def test_cuped_is_unbiased_and_tighter_in_simulation() -> None:
    """Over 400 simulated campaigns the adjusted estimate is centred on the true lift and its
    spread is sqrt(1 - rho^2) of the raw estimate's (Deng et al. 2013, eq. 5)."""
    raw, adj = [], []
    for seed in range(400):
        df = _campaign(seed, n=600)
        b = (df["arm"] == "B").to_numpy()
        y_adj = (
            CupedAdjuster(pooling="total")
            .fit(df["spend"], df["pre_spend"])
            .transform(df["spend"], df["pre_spend"])
        )
        raw.append(df["spend"][b].mean() - df["spend"][~b].mean())
        adj.append(y_adj[b].mean() - y_adj[~b].mean())
    assert np.mean(adj) == pytest.approx(2.0, abs=0.1)
    assert np.std(adj) / np.std(raw) == pytest.approx(np.sqrt(1 - 0.7**2), rel=0.1)


def test_within_pooling_equals_ancova_coefficient() -> None:
    df = _campaign(2)
    res = cuped_adjust(
        df, outcome="spend", arm="arm", control_arm="A", covariates=[PRE], assignment_time=ASSIGNED
    )
    fit = smf.ols("spend ~ C(arm) + pre_spend", data=df).fit()
    assert res.comparisons[0].adjusted_difference == pytest.approx(
        fit.params["C(arm)[T.B]"], rel=1e-10
    )
    assert res.theta["pre_spend"] == pytest.approx(fit.params["pre_spend"], rel=1e-10)


def test_total_pooling_is_deng_theta() -> None:
    df = _campaign(3)
    model = CupedAdjuster(pooling="total").fit(df["spend"], df["pre_spend"])
    theta = np.cov(df["spend"], df["pre_spend"])[0, 1] / df["pre_spend"].var()
    assert model.theta_[0] == pytest.approx(theta, rel=1e-10)
    adjusted = model.transform(df["spend"], df["pre_spend"])
    assert adjusted.mean() == pytest.approx(df["spend"].mean(), rel=1e-12)


def test_several_covariates_match_ancova_and_roundtrip_json() -> None:
    df = _campaign(4)
    df["visits_pre"] = df["pre_spend"] * 0.1 + np.random.default_rng(0).normal(0, 2, len(df))
    covs = [PRE, Covariate("visits_pre", measured_before_assignment=True)]
    res = cuped_adjust(
        df, outcome="spend", arm="arm", control_arm="A", covariates=covs, assignment_time=ASSIGNED
    )
    fit = smf.ols("spend ~ C(arm) + pre_spend + visits_pre", data=df).fit()
    assert res.comparisons[0].adjusted_difference == pytest.approx(
        fit.params["C(arm)[T.B]"], rel=1e-10
    )
    model = CupedAdjuster().fit(df["spend"], df[["pre_spend", "visits_pre"]], df["arm"])
    again = CupedAdjuster.from_json(model.to_json())
    np.testing.assert_allclose(
        again.transform(df["spend"], df[["pre_spend", "visits_pre"]]),
        model.transform(df["spend"], df[["pre_spend", "visits_pre"]]),
    )


def test_refuses_covariate_measured_after_assignment() -> None:
    df = _campaign(5, n=50)
    late = Covariate("pre_spend", measured_at=datetime(2024, 3, 5))
    with pytest.raises(UserInputError, match="'pre_spend' was measured after assignment"):
        cuped_adjust(
            df,
            outcome="spend",
            arm="arm",
            control_arm="A",
            covariates=[late],
            assignment_time=ASSIGNED,
        )
    with pytest.raises(UserInputError, match="'opens'.*after assignment"):
        check_pre_assignment(
            df.assign(opens=1), [Covariate("opens", measured_before_assignment=False)]
        )
    with pytest.raises(UserInputError, match="'pre_spend' has no measurement time"):
        check_pre_assignment(df, [Covariate("pre_spend")])
    with pytest.raises(UserInputError, match="no assignment_time"):
        check_pre_assignment(df, [PRE])


def test_per_customer_timestamps_name_the_column_and_row() -> None:
    df = _campaign(6, n=5)
    df["assigned_at"] = pd.Timestamp("2024-03-01")
    df["pre_end"] = pd.Timestamp("2024-02-28")
    cov = Covariate("pre_spend", measured_at="pre_end")
    check_pre_assignment(df, [cov], "assigned_at")  # all before: accepted
    df.loc[3, "pre_end"] = pd.Timestamp("2024-03-02")
    with pytest.raises(UserInputError, match=r"'pre_spend'.*1 customer\(s\), first at row 3"):
        check_pre_assignment(df, [cov], "assigned_at")


def test_missing_covariate_values_are_refused_not_dropped() -> None:
    df = _campaign(7, n=40)
    df.loc[0, "pre_spend"] = np.nan
    with pytest.raises(UserInputError, match="'pre_spend' has 1 missing"):
        cuped_adjust(
            df,
            outcome="spend",
            arm="arm",
            control_arm="A",
            covariates=[PRE],
            assignment_time=ASSIGNED,
        )


def test_transform_before_fit_raises() -> None:
    with pytest.raises(NotFittedError):
        CupedAdjuster().transform([1.0], [2.0])
