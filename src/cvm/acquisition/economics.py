"""Acquisition economics maths, engine-free: CAC, CLV/CAC and the payback search.

Definitions (the unit economics of Gupta, Lehmann & Stuart 2004, "Valuing customers",
J. Marketing Research 41(1), eq. 1-2, where a customer is worth the margin they bring less the
cost of acquiring them, and of the SaaS "CAC payback" convention):

* CAC = spend / new customers, per acquisition channel × signup-month cohort. A cohort with
  spend and no new customers has no CAC (None); a cohort with no spend has CAC 0 and is
  reported as unpaid, never as an infinite CLV/CAC ratio.
* predicted CLV per acquired customer = realised margin to date + the value stage's residual
  future value (`profiles.clv`, the expected discounted margin over the CLV horizon).
* CLV/CAC = predicted CLV per acquired customer / CAC. Summed over cohorts, the spend-weighted
  mean of the cohort ratios Σ sᵢ·(vᵢ nᵢ / sᵢ) / Σ sᵢ equals total predicted value / total
  spend, which is what the channel totals report.
* payback month = the first month of life m (the signup month is m = 1) at whose end the
  cohort's cumulative margin per acquired customer is ≥ CAC; None ("not yet") when the observed
  curve has not reached CAC.
* projected payback: when not yet reached, the residual future value per customer is assumed to
  arrive evenly over the CLV horizon (a linear approximation of the discounted expected margin
  stream); the projected month is the first month at which the extended curve reaches CAC, None
  when even the whole horizon does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def acquisition_cost(spend: float, new_customers: int) -> float | None:
    """CAC = spend / new customers; None when nobody was acquired (spend without customers)."""
    if new_customers <= 0:
        return None
    return spend / new_customers


def value_to_cost(value_per_customer: float | None, cac: float | None) -> float | None:
    """CLV/CAC; None when there is no value estimate or no positive cost (organic, unpaid)."""
    if value_per_customer is None or cac is None or cac <= 0:
        return None
    return value_per_customer / cac


def cumulative(values: Sequence[float]) -> list[float]:
    """Running sums of monthly margin per customer (month 1 first)."""
    out: list[float] = []
    total = 0.0
    for value in values:
        total += value
        out.append(total)
    return out


def payback_month(cumulative_margin: Sequence[float], cac: float | None) -> int | None:
    """First month of life (1-based) whose cumulative margin per customer is ≥ CAC.

    ``cumulative_margin[i]`` is the cumulative margin per acquired customer at the end of month
    of life ``i + 1``. A CAC of 0 (no spend) pays back at once: month 0. None when CAC is
    unknown or the curve has not reached it yet.
    """
    if cac is None:
        return None
    if cac <= 0:
        return 0
    for index, value in enumerate(cumulative_margin):
        # A tiny tolerance so a curve that lands exactly on CAC in decimal arithmetic counts.
        if value >= cac - 1e-9 * max(1.0, abs(cac)):
            return index + 1
    return None


def projected_payback_month(
    cumulative_margin: Sequence[float],
    cac: float | None,
    future_value: float | None,
    horizon_months: int,
) -> int | None:
    """Projected month of life at which CAC is recovered, from the residual CLV.

    The residual future value per customer (`profiles.clv`, over ``horizon_months``) is spread
    evenly over the months after the last observed one. None when CAC is unknown, there is no
    future value estimate, or the curve plus the whole residual value stays below CAC.
    """
    if cac is None or future_value is None or horizon_months <= 0:
        return None
    reached = payback_month(cumulative_margin, cac)
    if reached is not None:
        return reached
    observed = len(cumulative_margin)
    so_far = cumulative_margin[-1] if cumulative_margin else 0.0
    per_month = future_value / horizon_months
    if per_month <= 0 or so_far + future_value < cac - 1e-9 * max(1.0, abs(cac)):
        return None
    return observed + max(1, math.ceil((cac - so_far) / per_month - 1e-9))


@dataclass(frozen=True)
class PooledCurve:
    """A channel's margin per acquired customer by month of life, pooled over its cohorts."""

    monthly: list[float]
    cumulative: list[float]


def pooled_curve(
    cohorts: Sequence[tuple[int, int, Sequence[float]]],
) -> PooledCurve:
    """Pool cohort curves by month of life: month m's margin per customer is the total margin in
    month m over the customers of the cohorts that have completed month m.

    Each cohort is ``(new_customers, complete_months, monthly_margin_totals)`` where the totals
    are the cohort's margin (not per customer) in months of life 1, 2, ...; only the first
    ``complete_months`` enter the pool, so the youngest cohorts' partial months do not dilute it.
    """
    longest = max((complete for _, complete, _ in cohorts), default=0)
    monthly: list[float] = []
    for month in range(longest):
        customers = 0
        margin = 0.0
        for new, complete, totals in cohorts:
            if complete > month and new > 0:
                customers += new
                margin += totals[month] if month < len(totals) else 0.0
        monthly.append(margin / customers if customers else 0.0)
    return PooledCurve(monthly=monthly, cumulative=cumulative(monthly))
