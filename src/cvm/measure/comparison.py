"""One treated group against its control: every outcome, incremental value, cost and ROI.

Proportions (0/1 outcomes): Newcombe (1998) interval for the difference, Katz log interval
for the ratio, pooled two-proportion z-test. Means (revenue, margin per customer): Welch
interval and test, delta-method interval for the ratio, or a seeded two-sample bootstrap
(BCa or percentile) for both intervals; the p-value stays Welch's. Metrics listed as
treatment-only (opens, clicks) have no counterpart in a no-contact control, so they are
summarised for the treated group and never compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cvm.measure.bootstrap import Method, bootstrap_mean_interval
from cvm.measure.power import assess_control
from cvm.measure.results import ArmLift, MetricLift
from cvm.measure.roi import compute_roi, scale_to_population
from cvm.measure.significance import (
    mean_ratio_interval,
    newcombe_interval,
    risk_ratio_interval,
    two_proportion_ztest,
    welch_from_stats,
)

MeanInterval = Literal["welch", "bootstrap"]


@dataclass(frozen=True)
class CompareSettings:
    """What to compare and how; built once by `estimate_lift`."""

    binary: tuple[str, ...]
    means: tuple[str, ...]
    margin: str | None
    treatment_only: tuple[str, ...]
    cost: str | None
    cost_per_contact: float | None
    alpha: float
    mean_interval: MeanInterval
    bootstrap_method: Method
    n_resamples: int
    seed: int | None
    power: float


def _proportion(
    name: str, t: pd.Series, c: pd.Series, population: float, alpha: float
) -> MetricLift:
    x1, n1, x2, n2 = float(t.sum()), float(t.size), float(c.sum()), float(c.size)
    p1, p2 = x1 / n1, x2 / n2
    low, high = newcombe_interval(x1, n1, x2, n2, alpha)
    if x2 > 0:
        # Katz log interval, 0.5-adjusted only when a zero count would make it infinite.
        r_low, r_high = risk_ratio_interval(x1, n1, x2, n2, alpha, adjusted=x1 == 0)
        rel, rel_low, rel_high = p1 / p2 - 1.0, float(r_low) - 1.0, float(r_high) - 1.0
    else:
        rel = rel_low = rel_high = math.nan  # no control responders: relative lift undefined
    p = float(two_proportion_ztest(x1, n1, x2, n2).p_value)
    inc = scale_to_population(p1 - p2, float(low), float(high), population)
    return MetricLift(
        metric=name,
        kind="proportion",
        treatment_value=p1,
        control_value=p2,
        absolute_lift=p1 - p2,
        absolute_low=float(low),
        absolute_high=float(high),
        relative_lift=rel,
        relative_low=rel_low,
        relative_high=rel_high,
        p_value=p,
        p_adjusted=p,
        incremental=inc[0],
        incremental_low=inc[1],
        incremental_high=inc[2],
        interval_method="newcombe / katz-log",
    )


def _mean(
    name: str, t: pd.Series, c: pd.Series, population: float, s: CompareSettings
) -> MetricLift:
    x = t.to_numpy(dtype=np.float64)
    y = c.to_numpy(dtype=np.float64)
    m1, m2 = float(x.mean()), float(y.mean())
    nan = math.nan
    low = high = rel_low = rel_high = p = nan
    method = "too few customers"
    if x.size >= 2 and y.size >= 2:
        v1, v2 = float(x.var(ddof=1)), float(y.var(ddof=1))
        w = welch_from_stats(m1, v1, x.size, m2, v2, y.size, s.alpha)
        p = float(w.p_value)
        if s.mean_interval == "bootstrap":
            if s.seed is None:
                raise ValueError("a bootstrap interval needs an explicit seed")
            boot = {
                stat: bootstrap_mean_interval(
                    x,
                    y,
                    seed=s.seed,
                    statistic=stat,
                    method=s.bootstrap_method,
                    n_resamples=s.n_resamples,
                    alpha=s.alpha,
                )
                for stat in (("difference", "ratio") if m2 > 0 else ("difference",))
            }
            low, high = boot["difference"].low, boot["difference"].high
            if "ratio" in boot:
                rel_low, rel_high = boot["ratio"].low - 1.0, boot["ratio"].high - 1.0
            method = f"bootstrap-{s.bootstrap_method} (seed {s.seed})"
        else:
            low, high = float(w.low), float(w.high)
            if m1 > 0 and m2 > 0:
                r_low, r_high = mean_ratio_interval(m1, v1, x.size, m2, v2, y.size, s.alpha)
                rel_low, rel_high = float(r_low) - 1.0, float(r_high) - 1.0
            method = "welch / delta-log"
    rel = m1 / m2 - 1.0 if m2 > 0 else nan
    inc = scale_to_population(m1 - m2, low, high, population)
    return MetricLift(
        metric=name,
        kind="mean",
        treatment_value=m1,
        control_value=m2,
        absolute_lift=m1 - m2,
        absolute_low=low,
        absolute_high=high,
        relative_lift=rel,
        relative_low=rel_low,
        relative_high=rel_high,
        p_value=p,
        p_adjusted=p,
        incremental=inc[0],
        incremental_low=inc[1],
        incremental_high=inc[2],
        interval_method=method,
    )


def compare_groups(
    treated: pd.DataFrame,
    control: pd.DataFrame,
    *,
    arm: str,
    control_group: str,
    population: float,
    settings: CompareSettings,
    breakdown_column: str | None = None,
    breakdown_value: str | None = None,
) -> ArmLift:
    """Compare ``treated`` with ``control`` (both non-empty) on every outcome in ``settings``.

    ``population`` is the treated population the incremental figures are scaled to.
    """
    s = settings
    metrics = [_proportion(m, treated[m], control[m], population, s.alpha) for m in s.binary]
    metrics += [_mean(m, treated[m], control[m], population, s) for m in s.means]
    only = {m: float(treated[m].mean()) for m in s.treatment_only}
    cost: float | None = None
    if s.cost is not None:
        cost = float(treated[s.cost].mean()) * population
    elif s.cost_per_contact is not None:
        cost = s.cost_per_contact * population
    roi = None
    if cost is not None and s.margin is not None:
        margin = next(m for m in metrics if m.metric == s.margin)
        roi = compute_roi(margin.incremental, margin.incremental_low, margin.incremental_high, cost)
    warning = None
    if s.binary:
        base = metrics[0].control_value
        if 0 < base < 1:
            warning = assess_control(
                len(treated), len(control), base, alpha=s.alpha, power=s.power
            ).warning
    return ArmLift(
        arm=arm,
        control_group=control_group,
        breakdown_column=breakdown_column,
        breakdown_value=breakdown_value,
        n_treatment=len(treated),
        n_control=len(control),
        treated_population=population,
        metrics=metrics,
        treatment_only=only,
        cost=cost,
        roi=roi.roi if roi else None,
        roi_low=roi.roi_low if roi else None,
        roi_high=roi.roi_high if roi else None,
        control_warning=warning,
    )
