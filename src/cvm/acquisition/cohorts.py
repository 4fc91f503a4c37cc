"""Acquisition cohorts (channel × signup month) assembled from the query results.

Spend and customers are joined in full: a month with spend and no customer and a month with
customers and no spend both become cohorts, so the checks can name them and nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cohort:
    """One channel × signup-month cohort with its money and its margin by month of life."""

    channel: str
    month: dt.date
    spend: float = 0.0
    spend_rows: int = 0
    new_customers: int = 0
    future_value: float = 0.0  # Σ profiles.clv over the cohort's customers
    monthly_margin: list[float] = field(default_factory=list)  # totals, month of life 1, 2, ...
    complete_months: int = 0


def months_of_life(cohort_month: dt.date, as_of: dt.date) -> tuple[int, int]:
    """Months of life observed by ``as_of`` (the current, partial one included) and how many of
    them are complete (ended on or before ``as_of``)."""
    observed = (as_of.year - cohort_month.year) * 12 + (as_of.month - cohort_month.month) + 1
    month_ends = (as_of + dt.timedelta(days=1)).month != as_of.month
    complete = observed if month_ends else observed - 1
    return max(observed, 0), max(complete, 0)


def _month(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date().replace(day=1)
    if isinstance(value, dt.date):
        return value.replace(day=1)
    raise TypeError(f"expected a date, got {value!r}")


def build_cohorts(
    spend: list[dict[str, Any]],
    value: list[dict[str, Any]],
    margin: list[dict[str, Any]],
    as_of: dt.date,
) -> list[Cohort]:
    """Cohorts sorted by channel and month from the rows of `cvm.acquisition.queries`."""
    cohorts: dict[tuple[str, dt.date], Cohort] = {}

    def cohort(channel: object, month: object) -> Cohort:
        key = (str(channel), _month(month))
        if key not in cohorts:
            cohorts[key] = Cohort(channel=key[0], month=key[1])
        return cohorts[key]

    for row in spend:
        c = cohort(row["channel"], row["cohort_month"])
        c.spend += float(row["spend"] or 0.0)
        c.spend_rows += int(row["spend_rows"] or 0)
    for row in value:
        c = cohort(row["channel"], row["cohort_month"])
        c.new_customers += int(row["new_customers"] or 0)
        c.future_value += float(row["future_value"] or 0.0)
    for c in cohorts.values():
        observed, c.complete_months = months_of_life(c.month, as_of)
        c.monthly_margin = [0.0] * observed
    for row in margin:
        c = cohort(row["channel"], row["cohort_month"])
        index = int(row["month_of_life"]) - 1
        if index >= len(c.monthly_margin):  # a purchase dated after as_of cannot happen (filtered)
            c.monthly_margin.extend([0.0] * (index + 1 - len(c.monthly_margin)))
        c.monthly_margin[index] += float(row["margin"] or 0.0)
    return [cohorts[k] for k in sorted(cohorts)]
