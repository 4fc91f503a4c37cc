"""Tier changes at the window and grace boundaries, day by day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cvm.core.errors import UserInputError
from cvm.loyalty.programme import TierRules, parse_programme
from cvm.loyalty.tiers import tier_timeline

D = dt.date
RULES = TierRules.model_validate(
    {
        "basis": "spend",
        "window_months": 12,
        "grace_months": 3,
        "levels": [
            {"name": "member", "threshold": 0},
            {"name": "silver", "threshold": 300},
            {"name": "gold", "threshold": 500},
        ],
    }
)


def spans(days: list[tuple[dt.date, float]], as_of: dt.date, rules: TierRules = RULES) -> list:
    return [
        (s.tier, s.valid_from, s.valid_to) for s in tier_timeline(days, D(2024, 1, 5), as_of, rules)
    ]


def test_upgrade_on_the_day_the_rolling_spend_crosses() -> None:
    days = [(D(2024, 1, 10), 299.99), (D(2024, 2, 20), 0.01), (D(2024, 3, 7), 200.0)]
    assert spans(days, D(2024, 6, 1)) == [
        ("member", D(2024, 1, 5), D(2024, 2, 20)),  # 299.99 is not 300
        ("silver", D(2024, 2, 20), D(2024, 3, 7)),
        ("gold", D(2024, 3, 7), None),
    ]


def test_jump_two_tiers_at_once_and_spend_before_enrolment_does_not_count() -> None:
    days = [(D(2024, 1, 4), 1000.0), (D(2024, 1, 20), 600.0)]
    assert spans(days, D(2024, 2, 1)) == [
        ("member", D(2024, 1, 5), D(2024, 1, 20)),
        ("gold", D(2024, 1, 20), None),
    ]


def test_downgrade_only_after_the_grace_period() -> None:
    # 600 on 2024-01-10 leaves the 12-month window on 2025-01-10; the first evaluation
    # below is 2025-02-01, grace of 3 months → moves down on 2025-05-01, not a day earlier.
    days = [(D(2024, 1, 10), 600.0)]
    assert spans(days, D(2025, 4, 30)) == [
        ("member", D(2024, 1, 5), D(2024, 1, 10)),
        ("gold", D(2024, 1, 10), None),
    ]
    assert spans(days, D(2025, 5, 1)) == [
        ("member", D(2024, 1, 5), D(2024, 1, 10)),
        ("gold", D(2024, 1, 10), D(2025, 5, 1)),
        ("member", D(2025, 5, 1), None),
    ]


def test_window_boundary_is_exclusive_at_the_start() -> None:
    # Evaluated on 2025-01-01 the window is (2024-01-01, 2025-01-01]: a purchase made on
    # 2024-01-01 no longer counts, one made on 2024-01-02 still does.
    rules = RULES.model_copy(update={"grace_months": 0})
    out = tier_timeline([(D(2024, 1, 1), 600.0)], D(2024, 1, 1), D(2025, 1, 1), rules)
    assert [(s.tier, s.valid_from) for s in out] == [
        ("gold", D(2024, 1, 1)),
        ("member", D(2025, 1, 1)),
    ]
    out = tier_timeline([(D(2024, 1, 2), 600.0)], D(2024, 1, 1), D(2025, 1, 1), rules)
    assert [s.tier for s in out] == ["member", "gold"]


def test_requalifying_during_grace_cancels_the_downgrade() -> None:
    days = [(D(2024, 1, 10), 600.0), (D(2025, 3, 15), 500.0)]
    # below since 2025-02-01; the purchase on 2025-03-15 brings the total back to 500
    assert spans(days, D(2025, 9, 1)) == [
        ("member", D(2024, 1, 5), D(2024, 1, 10)),
        ("gold", D(2024, 1, 10), None),
    ]


def test_partial_requalification_moves_down_to_the_tier_qualified() -> None:
    days = [(D(2024, 1, 10), 600.0), (D(2025, 3, 15), 350.0)]
    assert spans(days, D(2025, 5, 1))[-1] == ("silver", D(2025, 5, 1), None)


@given(
    st.lists(st.tuples(st.integers(0, 900), st.floats(0, 400, allow_nan=False)), max_size=30),
    st.integers(0, 6),
)
def test_spans_are_contiguous_and_upgrades_happen_on_purchase_days(
    raw: list[tuple[int, float]], grace: int
) -> None:
    start = D(2024, 1, 5)
    by_day: dict[dt.date, float] = {}
    for offset, amount in raw:
        day = start + dt.timedelta(days=offset)
        by_day[day] = by_day.get(day, 0.0) + amount
    rules = RULES.model_copy(update={"grace_months": grace})
    out = tier_timeline(sorted(by_day.items()), start, D(2026, 12, 31), rules)
    assert out[0].valid_from == start and out[-1].valid_to is None
    order = [level.name for level in rules.levels]
    for a, b in zip(out, out[1:], strict=False):
        assert a.valid_to == b.valid_from and a.tier != b.tier
        if order.index(b.tier) > order.index(a.tier):
            assert b.valid_from in by_day
        else:
            assert b.valid_from.day == 1


def test_invalid_tier_rules_name_the_key() -> None:
    with pytest.raises(UserInputError, match=r"key 'tiers': .*increase strictly"):
        parse_programme(
            {"tiers": {"levels": [{"name": "a", "threshold": 0}, {"name": "b", "threshold": 0}]}}
        )
    with pytest.raises(UserInputError, match=r"key 'tiers.levels.0.treshold': unknown key"):
        parse_programme({"tiers": {"levels": [{"name": "a", "treshold": 0}]}})
