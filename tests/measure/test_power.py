"""Sample size and MDE checked against statsmodels' power classes and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import power_proportions_2indep, proportion_effectsize

from cvm.core.errors import UserInputError
from cvm.measure.power import (
    assess_control,
    duration_days,
    mde_means,
    mde_proportions,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from cvm.measure.significance import two_proportion_ztest

SCENARIOS = [(0.05, 0.01, 0.5), (0.02, 0.004, 0.1), (0.3, -0.03, 0.25), (0.106, 0.02, 0.33)]


@pytest.mark.parametrize(("base", "mde", "share"), SCENARIOS)
def test_arcsine_sample_size_matches_normal_ind_power(
    base: float, mde: float, share: float
) -> None:
    ours = sample_size_proportions(base, mde, control_share=share, method="arcsine")
    ratio = share / (1 - share)  # statsmodels: nobs2 (control) = ratio * nobs1 (treated)
    h = proportion_effectsize(base + mde, base)
    ref = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=ratio)
    ref_zt = zt_ind_solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=ratio)
    assert ours.n_treatment_exact == pytest.approx(ref, rel=1e-6)
    assert ours.n_treatment_exact == pytest.approx(ref_zt, rel=1e-6)
    assert ours.n_control_exact == pytest.approx(ref * ratio, rel=1e-6)
    assert ours.n_treatment == math.ceil(ref) and ours.n_control == math.ceil(ref * ratio)
    assert ours.n_total == ours.n_treatment + ours.n_control


@pytest.mark.parametrize(("base", "mde", "share"), SCENARIOS)
def test_pooled_sample_size_matches_power_proportions_2indep(
    base: float, mde: float, share: float
) -> None:
    ours = sample_size_proportions(base, mde, control_share=share)
    ratio = share / (1 - share)
    ref = optimize.brentq(
        lambda n: power_proportions_2indep(mde, base, n, ratio=ratio, return_results=False) - 0.8,
        10,
        1e8,
        xtol=1e-10,
    )
    assert ours.n_treatment_exact == pytest.approx(ref, rel=1e-6)
    got = power_proportions_2indep(
        mde, base, ours.n_treatment_exact, ratio=ratio, return_results=False
    )
    assert got == pytest.approx(0.8, abs=1e-9)


def test_relative_mde_and_duration() -> None:
    rel = sample_size_proportions(0.05, 0.2, relative=True)
    ab = sample_size_proportions(0.05, 0.01)
    assert (rel.n_treatment, rel.n_control) == (ab.n_treatment, ab.n_control)
    assert rel.n_treatment_exact == pytest.approx(ab.n_treatment_exact, rel=1e-12)
    assert duration_days(ab.n_total, 1000) == math.ceil(ab.n_total / 1000)
    assert ab.duration_days(1000) == duration_days(ab.n_total, 1000)
    with pytest.raises(UserInputError):
        duration_days(100, 0)


@pytest.mark.parametrize(("sd", "mde", "share"), [(40.0, 2.0, 0.5), (120.0, 5.0, 0.1)])
def test_means_sample_size_and_mde_match_statsmodels(sd: float, mde: float, share: float) -> None:
    ratio = share / (1 - share)
    ours = sample_size_means(sd, mde, control_share=share)
    ref = zt_ind_solve_power(effect_size=mde / sd, alpha=0.05, power=0.8, ratio=ratio)
    assert ours.n_treatment_exact == pytest.approx(ref, rel=1e-6)
    # MDE inverts the sample size: back at the solved n, the detectable effect is mde
    got = mde_means(sd, ours.n_treatment_exact, ours.n_control_exact)
    assert got == pytest.approx(mde, rel=1e-8)
    # and the power statsmodels computes at our MDE is exactly the target
    pw = NormalIndPower().power(got / sd, 5000, 0.05, ratio=ratio)
    assert power_means(sd, got, 5000, 5000 * ratio) == pytest.approx(pw, abs=1e-12)


@pytest.mark.parametrize("method", ["pooled", "arcsine"])
def test_mde_proportions_inverts_power(method: str) -> None:
    mde = mde_proportions(0.04, 20000, 5000, method=method)  # type: ignore[arg-type]
    assert power_proportions(0.04, mde, 20000, 5000, method=method) == pytest.approx(  # type: ignore[arg-type]
        0.8, abs=1e-9
    )
    if method == "arcsine":
        h = proportion_effectsize(0.04 + mde, 0.04)
        assert NormalIndPower().power(h, 20000, 0.05, ratio=0.25) == pytest.approx(0.8, abs=1e-9)


def test_simulated_power_agrees_with_formula() -> None:
    """At the planned size, the z-test rejects in about 80% of simulated campaigns."""
    plan = sample_size_proportions(0.05, 0.01, control_share=0.2)
    rng = np.random.default_rng(1)
    x_t = rng.binomial(plan.n_treatment, 0.06, 4000)
    x_c = rng.binomial(plan.n_control, 0.05, 4000)
    hit = np.mean(two_proportion_ztest(x_t, plan.n_treatment, x_c, plan.n_control).p_value < 0.05)
    assert hit == pytest.approx(0.8, abs=0.02)


def test_assess_control_warns_when_control_is_too_small() -> None:
    ok = assess_control(50_000, 12_000, 0.03)
    assert ok.adequate and ok.warning is None
    assert ok.mde_relative < 0.25
    small = assess_control(50_000, 800, 0.03)
    assert not small.adequate
    assert small.warning is not None and "too small to say anything" in small.warning
    assert small.mde_relative > 0.25
    # the advice is right: that control size detects a 10% lift with 80% power
    assert power_proportions(0.03, 0.003, 50_000, small.n_control_for_target) == pytest.approx(
        0.8, abs=1e-6
    )
    tiny = assess_control(50_000, 100, 0.03)
    assert tiny.warning is not None and "expects only 3.0 responders" in tiny.warning
    none = assess_control(50_000, 0, 0.03)
    assert none.warning is not None and "no control group" in none.warning
    assert math.isinf(none.mde_absolute)


def test_assess_control_says_when_no_control_size_helps() -> None:
    res = assess_control(500, 500, 0.01)
    assert math.isinf(res.n_control_for_target)
    assert res.warning is not None and "Even an unlimited control" in res.warning
