"""Membership over time: entries and exits recorded in history and transitions; the live path
for event-driven segments; classification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import pytest

from cvm.core.errors import ConflictError
from cvm.segments.classify import classify
from cvm.segments.definition import SegmentDefinition
from cvm.segments.membership import (
    ensure_live_indexes,
    refresh_event_driven,
    refresh_memberships,
    segment_schedules,
)
from cvm.segments.store import SegmentStore
from tests.segments.conftest import Loaded, Warehouse, bare_warehouse

T0 = dt.datetime(2024, 3, 1)


def event(eid: str, customer: str, name: str, at: dt.datetime) -> dict[str, object]:
    return {
        "event_id": eid,
        "customer_id": customer,
        "type": "track",
        "name": name,
        "occurred_at": at,
    }


@pytest.fixture
def small() -> Iterator[tuple[Warehouse, SegmentStore]]:
    ws = bare_warehouse()
    ws.engine.write_arrow("customers", pa.table({"customer_id": ["a", "b", "c"]}))
    ws.engine.write_arrow(
        "events",
        pa.Table.from_pylist(
            [
                event("1", "a", "email_opened", T0 - dt.timedelta(days=5)),
                event("2", "b", "email_opened", T0 - dt.timedelta(days=40)),
            ]
        ),
    )
    store = SegmentStore(ws.engine)
    store.save(
        SegmentDefinition.model_validate(
            {
                "name": "opened_30d",
                "rule": {"kind": "event", "name": "email_opened", "window": {"days": 30}},
            }
        )
    )
    try:
        yield ws, store
    finally:
        ws.close()


def rows(ws: Warehouse, sql: str) -> list[tuple[object, ...]]:
    return ws.engine.fetch_rows(sql)


def test_history_records_entry_and_exit(small: tuple[Warehouse, SegmentStore]) -> None:
    ws, store = small
    first = refresh_memberships(ws.engine, ["opened_30d"], T0, store=store)
    assert [(s.members, s.entered, s.exited) for s in first.segments] == [(1, 1, 0)]
    # 30 days later a's open has left the window: a exits; nobody enters
    later = T0 + dt.timedelta(days=30)
    second = refresh_memberships(ws.engine, ["opened_30d"], later, store=store)
    assert [(s.members, s.entered, s.exited) for s in second.segments] == [(0, 0, 1)]
    history = rows(ws, "SELECT customer_id, entered_at, exited_at FROM segment_membership_history")
    assert history == [("a", T0, later)]
    transitions = rows(
        ws, 'SELECT customer_id, transition, "at" FROM segment_transitions ORDER BY "at"'
    )
    assert transitions == [("a", "entered", T0), ("a", "exited", later)]
    assert rows(ws, "SELECT count(*) FROM segment_membership") == [(0,)]
    # a re-enters: a second stay opens, the first stays closed
    ws.engine.write_arrow("events", pa.Table.from_pylist([event("3", "a", "email_opened", later)]))
    refresh_memberships(ws.engine, ["opened_30d"], later + dt.timedelta(days=1), store=store)
    stays = rows(
        ws,
        "SELECT entered_at, exited_at FROM segment_membership_history WHERE customer_id = 'a' ORDER BY 1",
    )
    assert stays == [(T0, later), (later + dt.timedelta(days=1), None)]


def test_refresh_without_changes_emits_nothing(small: tuple[Warehouse, SegmentStore]) -> None:
    ws, store = small
    refresh_memberships(ws.engine, ["opened_30d"], T0, store=store)
    again = refresh_memberships(ws.engine, ["opened_30d"], T0, store=store)
    assert [(s.members, s.entered, s.exited) for s in again.segments] == [(1, 0, 0)]
    assert rows(ws, "SELECT count(*) FROM segment_transitions") == [(1,)]


def test_history_only_moves_forward(small: tuple[Warehouse, SegmentStore]) -> None:
    ws, store = small
    refresh_memberships(ws.engine, ["opened_30d"], T0, store=store)
    with pytest.raises(ConflictError, match="only moves forward"):
        refresh_memberships(ws.engine, ["opened_30d"], T0 - dt.timedelta(days=1), store=store)


def test_live_refresh_touches_only_given_customers(small: tuple[Warehouse, SegmentStore]) -> None:
    ws, store = small
    ensure_live_indexes(ws.engine)  # optional; the result must not depend on it
    refresh_memberships(ws.engine, None, T0, store=store)
    assert segment_schedules(store)["opened_30d"] == "event_driven"
    now = T0 + dt.timedelta(hours=1)
    ws.engine.write_arrow(
        "events",
        pa.Table.from_pylist(
            [event("4", "b", "email_opened", now), event("5", "c", "email_opened", now)]
        ),
    )
    report = refresh_event_driven(ws.engine, ["b"], now, store=store)
    by_name = {s.segment: s for s in report.segments}
    assert "opened_30d" in by_name and by_name["opened_30d"].entered == 1
    assert all(s.schedule == "event_driven" for s in report.segments)
    members = rows(
        ws, "SELECT customer_id FROM segment_membership WHERE segment = 'opened_30d' ORDER BY 1"
    )
    assert members == [("a",), ("b",)]  # c also qualifies now, but was not re-evaluated
    full = refresh_memberships(ws.engine, ["opened_30d"], now, store=store)
    assert [(s.entered, s.exited) for s in full.segments] == [(1, 0)]  # the scheduled run adds c


def test_full_refresh_equals_live_refresh_on_real_data(loaded: Loaded) -> None:
    """Live re-evaluation for a subset agrees with a full evaluation for those customers."""
    from cvm.segments.compile import compile_segment
    from tests.segments.data import AS_OF

    store = loaded.store
    schedules = segment_schedules(store)
    event_driven = [n for n, s in schedules.items() if s == "event_driven"]
    assert "lifecycle_new" in event_driven and "lifecycle_at_risk" not in event_driven
    ids = [f"c{i:04d}" for i in range(0, 300, 7)]
    refresh_event_driven(loaded.ws.engine, ids, AS_OF, store=store)
    for name in event_driven:
        full = {
            r[0]
            for r in loaded.ws.engine.fetch_rows(
                compile_segment(store.resolve(name), store.context(AS_OF))
            )
        }
        live = {
            r[0]
            for r in loaded.ws.engine.fetch_rows(
                f"SELECT customer_id FROM segment_membership WHERE segment = '{name}'"  # noqa: S608
            )
        }
        assert live == full & set(ids), name


CLASSES = [
    ({"kind": "event", "name": "x", "window": {"days": 7}}, "event_driven"),
    (
        {"kind": "event", "name": "x", "op": "at_most", "times": 1, "window": {"days": 7}},
        "scheduled",
    ),
    ({"kind": "event", "name": "x", "op": "at_most", "times": 1}, "event_driven"),
    ({"kind": "not_performed", "name": "x", "window": {"days": 30}}, "scheduled"),
    ({"kind": "event", "name": "x", "window": {"min_days_ago": 30}}, "scheduled"),
    ({"kind": "event_time", "name": "x", "op": "after", "days_ago": 3}, "event_driven"),
    ({"kind": "event_time", "name": "x", "op": "before", "days_ago": 3}, "scheduled"),
    (
        {"kind": "not", "condition": {"kind": "event", "name": "x", "window": {"days": 7}}},
        "scheduled",
    ),
    ({"kind": "purchase", "measure": "spend", "op": "gte", "value": 100}, "event_driven"),
    (
        {"kind": "purchase", "measure": "spend", "op": "gte", "value": 100, "window": {"days": 9}},
        "scheduled",
    ),
    ({"kind": "profile", "field": "clv", "op": "gte", "value": 1}, "scheduled"),
    (
        {
            "kind": "all",
            "conditions": [
                {"kind": "profile", "field": "clv", "op": "gte", "value": 1},
                {"kind": "message", "action": "clicked", "window": {"days": 3}},
            ],
        },
        "event_driven",
    ),
]


@pytest.mark.parametrize(("rule", "expected"), CLASSES)
def test_classification(rule: dict[str, object], expected: str) -> None:
    node = SegmentDefinition.model_validate({"name": "x", "rule": rule}).rule
    assert classify(node, lambda name: node) == expected
