"""Caps against a reference that caps order by order; expiry dates by the rule."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvm.loyalty.earn import earn_postings
from cvm.loyalty.programme import ExpiryRule, add_months, parse_programme
from cvm.workspace import Workspace, init_workspace
from tests.loyalty.conftest import add_lines, members_table

START = dt.datetime(2024, 1, 30)


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = init_workspace(Path(tmp_path_factory.mktemp("earn")) / "ws")
    try:
        yield ws
    finally:
        ws.close()


def reference(orders: list[tuple[int, float]], caps: dict[str, int]) -> dict[str, int]:
    """Cap each order, then walk the orders in time order, keeping what each cap allows."""
    day_used: dict[dt.date, int] = {}
    month_used: dict[tuple[int, int], int] = {}
    out: dict[str, int] = {}
    for i, (minutes, amount) in sorted(enumerate(orders), key=lambda x: (x[1][0], f"T{x[0]:03d}")):
        at = START + dt.timedelta(minutes=minutes)
        points = min(math.floor(amount), caps.get("per_order", 10**15))
        room_day = caps.get("per_day", 10**15) - day_used.get(at.date(), 0)
        points = min(points, room_day)
        day_used[at.date()] = day_used.get(at.date(), 0) + points
        room_month = caps.get("per_month", 10**15) - month_used.get((at.year, at.month), 0)
        kept = min(points, room_month)
        month_used[(at.year, at.month)] = month_used.get((at.year, at.month), 0) + kept
        if kept > 0:
            out[f"earn:T{i:03d}"] = kept
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    orders=st.lists(
        st.tuples(st.integers(0, 60 * 24 * 40), st.floats(1, 400, allow_nan=False)),
        min_size=1,
        max_size=25,
        unique_by=lambda o: o[0],
    ),
    caps=st.fixed_dictionaries(
        {},
        optional={
            "per_order": st.integers(0, 300),
            "per_day": st.integers(0, 500),
            "per_month": st.integers(0, 1500),
        },
    ),
)
def test_caps_match_capping_order_by_order(
    shared_ws: Workspace, orders: list[tuple[int, float]], caps: dict[str, int]
) -> None:
    shared_ws.engine.execute("DELETE FROM transactions")
    add_lines(
        shared_ws.engine,
        [
            (
                f"T{i:03d}",
                "a",
                (START + dt.timedelta(minutes=m)).isoformat(sep=" "),
                round(a, 2),
                "x",
                "web",
            )
            for i, (m, a) in enumerate(orders)
        ],
    )
    programme = parse_programme({"caps": caps})
    until = dt.datetime(2025, 1, 1)
    batches = earn_postings(
        shared_ws.engine, programme, members_table({"a": "2024-01-01"}), START, until
    )
    got = {r["key"]: r["points"] for b in batches for r in pa.Table.from_batches([b]).to_pylist()}
    rounded = [(m, round(a, 2)) for m, a in orders]
    assert got == reference(rounded, caps)


def test_expiry_rules() -> None:
    at = dt.datetime(2024, 1, 31, 15, 30)
    assert ExpiryRule(months_after_earn=1).expires_at(at) == dt.datetime(2024, 2, 29, 15, 30)
    assert ExpiryRule(months_after_earn=24).expires_at(at) == dt.datetime(2026, 1, 31, 15, 30)
    assert ExpiryRule(end_of_year_after=1).expires_at(at) == dt.datetime(2026, 1, 1)
    assert ExpiryRule(end_of_year_after=0).expires_at(at) == dt.datetime(2025, 1, 1)
    assert ExpiryRule().expires_at(at) is None
    assert add_months(dt.datetime(2024, 3, 31), -1) == dt.datetime(2024, 2, 29)
    assert add_months(dt.datetime(2024, 12, 15), 1) == dt.datetime(2025, 1, 15)
