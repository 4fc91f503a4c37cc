"""The engine-free maths: CAC, CLV/CAC, the payback search and pooled channel curves."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvm.acquisition.cohorts import months_of_life
from cvm.acquisition.economics import (
    acquisition_cost,
    cumulative,
    payback_month,
    pooled_curve,
    projected_payback_month,
    value_to_cost,
)


def test_cac_and_ratio_refuse_to_divide_by_nothing() -> None:
    assert acquisition_cost(100.0, 4) == 25.0
    assert acquisition_cost(100.0, 0) is None  # spend without customers: no CAC
    assert value_to_cost(75.0, 25.0) == 3.0
    assert value_to_cost(75.0, 0.0) is None  # organic: no ratio, never infinity
    assert value_to_cost(None, 25.0) is None


def test_payback_is_the_first_month_reaching_cac_inclusive() -> None:
    curve = cumulative([15.0, 25.0, 10.0, 5.0])
    assert curve == [15.0, 40.0, 50.0, 55.0]
    assert payback_month(curve, 50.0) == 3  # exactly at the boundary counts
    assert payback_month(curve, 50.01) == 4
    assert payback_month(curve, 15.0) == 1
    assert payback_month(curve, 55.5) is None  # not yet
    assert payback_month(curve, None) is None
    # Decimal amounts summed in binary floating point still land on the boundary.
    assert payback_month(cumulative([0.1] * 3), 0.3) == 3


def test_projection_spreads_the_residual_value_over_the_horizon() -> None:
    curve = [25.0, 40.0]
    # 40 over 12 months is 3.33 a month; 20 more is needed: 6 months after month 2.
    assert projected_payback_month(curve, 60.0, 40.0, 12) == 8
    # Already paid back: the projection is the observed month.
    assert projected_payback_month(curve, 30.0, 40.0, 12) == 2
    # Even the whole residual value falls short.
    assert projected_payback_month(curve, 100.0, 40.0, 12) is None
    assert projected_payback_month(curve, 60.0, None, 12) is None


def test_pooled_curve_uses_complete_months_of_each_cohort() -> None:
    # Cohort A: 2 customers, 3 complete months; cohort B: 1 customer, 2 complete months and a
    # partial third month (its 999 must not enter the pool).
    pool = pooled_curve([(2, 3, [30.0, 50.0, 20.0]), (1, 2, [25.0, 15.0, 999.0])])
    assert pool.monthly == pytest.approx([55 / 3, 65 / 3, 10.0])
    assert pool.cumulative == pytest.approx([55 / 3, 40.0, 50.0])
    assert pooled_curve([]).monthly == []


def test_months_of_life_counts_the_partial_month() -> None:
    jan = dt.date(2024, 1, 1)
    assert months_of_life(jan, dt.date(2024, 3, 31)) == (3, 3)
    assert months_of_life(jan, dt.date(2024, 3, 15)) == (3, 2)
    assert months_of_life(dt.date(2023, 12, 1), dt.date(2024, 1, 31)) == (2, 2)


@settings(max_examples=200, deadline=None)
@given(
    monthly=st.lists(st.floats(-50, 200, allow_nan=False), min_size=0, max_size=24),
    cac=st.floats(0.01, 1000, allow_nan=False),
    future=st.floats(0, 2000, allow_nan=False),
)
def test_payback_search_agrees_with_its_definition(
    monthly: list[float], cac: float, future: float
) -> None:
    curve = cumulative(monthly)
    found = payback_month(curve, cac)
    tolerance = 1e-9 * max(1.0, cac)
    reached = [i + 1 for i, v in enumerate(curve) if v >= cac - tolerance]
    assert found == (reached[0] if reached else None)
    projected = projected_payback_month(curve, cac, future, 12)
    if found is not None:
        assert projected == found
    elif projected is not None:
        # Later than every observed month, and the extended curve does reach CAC by then.
        assert projected > len(curve)
        so_far = curve[-1] if curve else 0.0
        assert so_far + (projected - len(curve)) * future / 12 >= cac - 1e-6 * max(1.0, cac)
        assert so_far + (projected - len(curve) - 1) * future / 12 < cac
