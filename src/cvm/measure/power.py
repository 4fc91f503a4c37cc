"""Sample size, minimum detectable effect (MDE) and control-group adequacy.

All calculations are for the two-sided tests this package runs, under the normal
approximation, and count both tails of the rejection region (so they agree with
statsmodels to solver precision, not only to the usual one-tail shortcut).

Proportions, ``method="pooled"`` (default; the power of the pooled two-proportion z-test,
Fleiss, Levin & Paik 2003, eq. 4.14 with both tails), with treatment rate p1 = p0 + delta,
control rate p0, r = n_control / n_treatment::

    s0 = sqrt(pbar (1 - pbar) (1 + 1/r)),  pbar = (p1 + r p0) / (1 + r)     (variance under H0)
    s1 = sqrt(p1 (1 - p1) + p0 (1 - p0) / r)                              (under H1)
    power = Phi(-(z s0 - delta sqrt(n_t)) / s1) + Phi((-z s0 - delta sqrt(n_t)) / s1)

``method="arcsine"`` uses Cohen's (1988, eq. 6.2.1) effect size
``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))`` with unit variance, as statsmodels'
``NormalIndPower`` with ``proportion_effectsize`` does. Means use ``d = delta / sd`` the same
way (Cohen's d with a known common standard deviation).

``control_share`` is the fraction of the eligible customers held out as control.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, stats

from cvm.core.errors import UserInputError

ProportionMethod = Literal["pooled", "arcsine"]


@dataclass(frozen=True)
class SampleSize:
    """Customers needed in each group; ``*_exact`` are the unrounded solutions."""

    n_total: int
    n_treatment: int
    n_control: int
    n_treatment_exact: float
    n_control_exact: float

    def duration_days(self, daily_eligible: float) -> int:
        """Days of eligible volume needed to fill both groups."""
        return duration_days(self.n_total, daily_eligible)


def duration_days(n_total: float, daily_eligible: float) -> int:
    """Whole days until ``n_total`` customers have become eligible at ``daily_eligible`` a day."""
    if daily_eligible <= 0:
        raise UserInputError(f"daily eligible volume must be positive, got {daily_eligible}")
    return math.ceil(n_total / daily_eligible)


def _check(alpha: float, power: float, control_share: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise UserInputError(f"alpha and power must be in (0, 1), got {alpha} and {power}")
    if not 0 < control_share < 1:
        raise UserInputError(f"control share must be in (0, 1), got {control_share}")


def _std_power(effect: float, n_eff: float, alpha: float) -> float:
    """Two-sided power of a z-test for a standardised effect with effective size n_eff."""
    z = stats.norm.isf(alpha / 2.0)
    shift = abs(effect) * math.sqrt(n_eff)
    return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))


def _pooled_power(p0: float, delta: float, n_t: float, ratio: float, alpha: float) -> float:
    p1 = p0 + delta
    pbar = (p1 + ratio * p0) / (1.0 + ratio)
    s0 = math.sqrt(pbar * (1.0 - pbar) * (1.0 + 1.0 / ratio))
    s1 = math.sqrt(p1 * (1.0 - p1) + p0 * (1.0 - p0) / ratio)
    z = stats.norm.isf(alpha / 2.0)
    shift = delta * math.sqrt(n_t)
    return float(stats.norm.sf((z * s0 - shift) / s1) + stats.norm.cdf((-z * s0 - shift) / s1))


def power_proportions(
    baseline: float,
    mde: float,
    n_treatment: float,
    n_control: float,
    alpha: float = 0.05,
    method: ProportionMethod = "pooled",
) -> float:
    """Power to detect an absolute lift ``mde`` over ``baseline`` with the given group sizes."""
    if not 0 < baseline < 1 or not 0 < baseline + mde < 1:
        raise UserInputError(f"rates must stay in (0, 1): baseline {baseline}, lift {mde}")
    if method == "arcsine":
        h = 2 * math.asin(math.sqrt(baseline + mde)) - 2 * math.asin(math.sqrt(baseline))
        return _std_power(h, 1.0 / (1.0 / n_treatment + 1.0 / n_control), alpha)
    return _pooled_power(baseline, mde, n_treatment, n_control / n_treatment, alpha)


def power_means(
    sd: float, mde: float, n_treatment: float, n_control: float, alpha: float = 0.05
) -> float:
    """Power to detect a difference ``mde`` in means with common standard deviation ``sd``."""
    return _std_power(mde / sd, 1.0 / (1.0 / n_treatment + 1.0 / n_control), alpha)


def _solve_n(power_of_nt: Callable[[float], float], power: float) -> float:
    """Smallest continuous treatment size whose power reaches ``power``."""
    hi = 2.0
    while power_of_nt(hi) < power:
        hi *= 2.0
        if hi > 1e13:
            raise UserInputError("the effect is too small to detect with any feasible sample")
    return float(optimize.brentq(lambda n: power_of_nt(n) - power, 1e-6, hi, xtol=1e-10))


def _sizes(n_t: float, ratio: float) -> SampleSize:
    n_c = n_t * ratio
    nt_i, nc_i = math.ceil(n_t - 1e-9), math.ceil(n_c - 1e-9)
    return SampleSize(nt_i + nc_i, nt_i, nc_i, n_t, n_c)


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    control_share: float = 0.5,
    method: ProportionMethod = "pooled",
) -> SampleSize:
    """Customers needed to detect a lift ``mde`` (absolute, or relative to ``baseline``)."""
    _check(alpha, power, control_share)
    delta = mde * baseline if relative else mde
    if delta == 0:
        raise UserInputError("the minimum detectable effect must be non-zero")
    ratio = control_share / (1.0 - control_share)
    n_t = _solve_n(lambda n: power_proportions(baseline, delta, n, n * ratio, alpha, method), power)
    return _sizes(n_t, ratio)


def sample_size_means(
    sd: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    control_share: float = 0.5,
) -> SampleSize:
    """Customers needed to detect a difference ``mde`` in mean revenue (std. dev. ``sd``)."""
    _check(alpha, power, control_share)
    if sd <= 0 or mde == 0:
        raise UserInputError("sd must be positive and the minimum detectable effect non-zero")
    ratio = control_share / (1.0 - control_share)
    n_t = _solve_n(lambda n: power_means(sd, mde, n, n * ratio, alpha), power)
    return _sizes(n_t, ratio)


def mde_proportions(
    baseline: float,
    n_treatment: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    method: ProportionMethod = "pooled",
) -> float:
    """Smallest absolute upward lift over ``baseline`` detectable with the given sizes."""
    if n_treatment <= 0 or n_control <= 0:
        return math.inf
    if (
        power_proportions(baseline, 1.0 - baseline - 1e-12, n_treatment, n_control, alpha, method)
        < power
    ):
        return math.inf  # not even a jump to a 100% rate would be detected reliably
    return float(
        optimize.brentq(
            lambda d: power_proportions(baseline, d, n_treatment, n_control, alpha, method) - power,
            1e-12,
            1.0 - baseline - 1e-12,
            xtol=1e-14,
        )
    )


def mde_means(
    sd: float, n_treatment: float, n_control: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest difference in means detectable with the given sizes (std. dev. ``sd``)."""
    if n_treatment <= 0 or n_control <= 0:
        return math.inf
    # Standardised effect with the far tail included: solve in d, then scale.
    n_eff = 1.0 / (1.0 / n_treatment + 1.0 / n_control)
    d = optimize.brentq(lambda e: _std_power(e, n_eff, alpha) - power, 1e-12, 100.0, xtol=1e-14)
    return float(d * sd)


@dataclass(frozen=True)
class ControlAssessment:
    """What a control of this size can detect, and a warning when that is not enough."""

    n_treatment: int
    n_control: int
    baseline: float
    mde_absolute: float
    mde_relative: float
    n_control_for_target: float
    warning: str | None

    @property
    def adequate(self) -> bool:
        return self.warning is None


def assess_control(
    n_treat: int,
    n_control: int,
    baseline: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    max_relative_mde: float = 0.25,
    target_relative_mde: float = 0.10,
    method: ProportionMethod = "pooled",
) -> ControlAssessment:
    """MDE achievable with this split, and a warning when the control cannot support a finding.

    Direct-marketing lifts are typically a few to twenty percent of the base rate, so a control
    whose relative MDE exceeds ``max_relative_mde`` can only confirm implausibly large effects.
    ``n_control_for_target`` is the control size that would detect ``target_relative_mde``
    with this treatment group (inf if no control size would).
    """
    if not 0 < baseline < 1:
        raise UserInputError(f"baseline rate must be in (0, 1), got {baseline}")
    mde_abs = mde_proportions(baseline, n_treat, n_control, alpha=alpha, power=power, method=method)
    mde_rel = mde_abs / baseline
    target = target_relative_mde * baseline
    needed = math.inf
    if n_treat > 0 and power_proportions(baseline, target, n_treat, 1e12, alpha, method) >= power:
        needed = float(
            optimize.brentq(
                lambda c: power_proportions(baseline, target, n_treat, c, alpha, method) - power,
                1e-3,
                1e12,
                xtol=1e-6,
            )
        )
    advice = (
        f" A control of {math.ceil(needed):,} would detect a {target_relative_mde:.0%} lift."
        if np.isfinite(needed)
        else f" Even an unlimited control would not detect a {target_relative_mde:.0%} lift"
        " with this treatment group."
    )
    warning: str | None = None
    if n_control <= 0:
        warning = "There is no control group: the incremental effect cannot be measured." + advice
    elif n_control * baseline < 10:
        warning = (
            f"The control expects only {n_control * baseline:.1f} responders at a "
            f"{baseline:.2%} base rate; the normal-approximation tests are unreliable and the "
            "control is too small to say anything." + advice
        )
    elif mde_rel > max_relative_mde:
        warning = (
            f"With {n_control:,} control customers at a {baseline:.2%} base rate only a lift of "
            f"{mde_rel:.0%} or more ({mde_abs * 100:.2f} percentage points) is detectable "
            f"(alpha {alpha}, power {power}); typical campaign lifts are smaller, so this "
            "control is too small to say anything." + advice
        )
    return ControlAssessment(
        n_treatment=n_treat,
        n_control=n_control,
        baseline=baseline,
        mde_absolute=mde_abs,
        mde_relative=mde_rel,
        n_control_for_target=needed,
        warning=warning,
    )
