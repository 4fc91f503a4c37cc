"""Every node kind: the compiled SQL on DuckDB gives the same members as the independent pandas
interpreter (tests/segments/pandas_reference.py) on seeded random data."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvm.segments.compile import compile_segment
from cvm.segments.definition import SegmentDefinition
from tests.segments.conftest import Loaded
from tests.segments.data import AS_OF

LEAVES: dict[str, list[dict[str, Any]]] = {
    "profile": [
        {"kind": "profile", "field": "clv", "op": ">=", "value": 100},
        {"kind": "profile", "field": "clv", "op": "lt", "value": 55.5},
        {"kind": "profile", "field": "clv", "op": "eq", "value": 100},
        {"kind": "profile", "field": "clv", "op": "ne", "value": 100},
        {"kind": "profile", "field": "clv", "op": "between", "value": [50, 150]},
        {"kind": "profile", "field": "clv", "op": "is_set"},
        {"kind": "profile", "field": "clv", "op": "not_set"},
        {"kind": "profile", "field": "orders", "op": "in", "value": [1, 2, 3, 5, 8]},
        {"kind": "profile", "field": "orders", "op": "gt", "value": 20},
        {"kind": "profile", "field": "churn_propensity", "op": "lte", "value": 0.25},
        {"kind": "profile", "field": "country", "op": "eq", "value": "DE"},
        {"kind": "profile", "field": "country", "op": "not_in", "value": ["DE", "FR"]},
        {"kind": "profile", "field": "city", "op": "starts_with", "value": "p"},
        {"kind": "profile", "field": "email", "op": "contains", "value": "example.COM"},
        {"kind": "profile", "field": "email", "op": "is_set"},
        {"kind": "profile", "field": "email", "op": "not_set"},
        {"kind": "profile", "field": "rfm_segment", "op": "in", "value": ["Champions", "Loyal"]},
        {"kind": "profile", "field": "gender", "op": "gte", "value": "male"},
        {"kind": "profile", "field": "signup_date", "op": "within_days", "value": 200},
        {"kind": "profile", "field": "signup_date", "op": "older_than_days", "value": 365},
        {"kind": "profile", "field": "signup_date", "op": "lt", "value": "2023-01-15"},
        {"kind": "profile", "field": "signup_date", "op": "eq", "value": "2023-03-01"},
        {
            "kind": "profile",
            "field": "signup_date",
            "op": "between",
            "value": ["2023-01-01", "2023-06-30T23:59:59"],
        },
        {"kind": "profile", "field": "traits.plan", "op": "eq", "value": "pro"},
        {"kind": "profile", "field": "traits.score", "op": "gt", "value": 30},
        {"kind": "profile", "field": "traits.vip", "op": "eq", "value": True},
        {"kind": "profile", "field": "traits.plan", "op": "not_set"},
    ],
    "top": [
        {"kind": "top", "field": "clv", "share": 0.01},
        {"kind": "top", "field": "clv", "share": 0.1},
        {"kind": "top", "field": "clv", "share": 0.5},
        {"kind": "top", "field": "churn_propensity", "share": 0.37},
    ],
    "event": [
        {"kind": "event", "name": "email_opened"},
        {
            "kind": "event",
            "name": "email_opened",
            "op": "at_least",
            "times": 2,
            "window": {"days": 90},
        },
        {
            "kind": "event",
            "name": "page_view",
            "op": "at_most",
            "times": 1,
            "window": {"days": 120},
        },
        {"kind": "event", "name": "page_view", "op": "exactly", "times": 0, "window": {"days": 60}},
        {"kind": "event", "name": "page_view", "op": "exactly", "times": 2},
        {
            "kind": "event",
            "name": "cart_abandoned",
            "window": {"from": "2024-01-01", "to": "2024-03-31"},
        },
        {
            "kind": "event",
            "name": "cart_abandoned",
            "window": {"min_days_ago": 30, "max_days_ago": 200},
        },
        {"kind": "event", "name": "cart_abandoned", "window": {"min_days_ago": 200}},
        {"kind": "event", "name": "Order Completed", "channel": "web"},
        {
            "kind": "event",
            "name": "Order Completed",
            "where": [{"property": "plan", "op": "eq", "value": "pro"}],
        },
        {
            "kind": "event",
            "name": "Order Completed",
            "where": [{"property": "amount", "op": "gte", "value": 120}],
        },
        {
            "kind": "event",
            "name": "page_view",
            "where": [{"property": "page.section", "value": "shoes"}],
        },
        {
            "kind": "event",
            "name": "page_view",
            "where": [{"property": "plan", "op": "not_in", "value": ["free"]}],
        },
    ],
    "not_performed": [
        {"kind": "not_performed", "name": "email_opened", "window": {"days": 30}},
        {"kind": "not_performed", "name": "page_view"},
        {"kind": "not_performed", "name": "page_view", "channel": "web", "window": {"days": 90}},
    ],
    "event_time": [
        {"kind": "event_time", "name": "page_view", "which": "last", "op": "after", "days_ago": 30},
        {
            "kind": "event_time",
            "name": "page_view",
            "which": "last",
            "op": "before",
            "days_ago": 30,
        },
        {
            "kind": "event_time",
            "name": "page_view",
            "which": "first",
            "op": "after",
            "date": "2024-01-01",
        },
        {
            "kind": "event_time",
            "name": "email_opened",
            "which": "first",
            "op": "before",
            "date": "2023-09-01",
        },
    ],
    "purchase": [
        {"kind": "purchase"},
        {"kind": "purchase", "op": "eq", "value": 0},
        {"kind": "purchase", "measure": "count", "op": "gte", "value": 3, "window": {"days": 365}},
        {"kind": "purchase", "category": "shoes", "window": {"days": 180}},
        {"kind": "purchase", "product": ["p1", "p2"], "op": "between", "value": [1, 2]},
        {"kind": "purchase", "measure": "spend", "op": "gt", "value": 300.5},
        {
            "kind": "purchase",
            "measure": "spend",
            "op": "lt",
            "value": 150.5,
            "window": {"days": 365},
        },
        {
            "kind": "purchase",
            "measure": "quantity",
            "op": "gte",
            "value": 5,
            "category": ["bags", "hats"],
        },
    ],
    "purchase_time": [
        {"kind": "purchase_time", "which": "first", "op": "after", "days_ago": 300},
        {"kind": "purchase_time", "which": "last", "op": "before", "days_ago": 90},
        {
            "kind": "purchase_time",
            "which": "last",
            "op": "after",
            "date": "2024-05-01",
            "category": "hats",
        },
    ],
    "message": [
        {"kind": "message", "action": "received", "channel": "email", "window": {"days": 90}},
        {"kind": "message", "action": "opened", "window": {"days": 60}},
        {"kind": "message", "action": "clicked", "channel": "email", "op": "exactly", "times": 0},
        {"kind": "message", "action": "received", "op": "at_least", "times": 3},
    ],
    "location": [
        {"kind": "location", "country": "de"},
        {"kind": "location", "country": ["DE", "FR"], "city": "Paris"},
        {"kind": "location", "region": "NY"},
    ],
    "near": [
        {"kind": "near", "latitude": 52.52, "longitude": 13.405, "radius_km": 5},
        {"kind": "near", "latitude": 52.52, "longitude": 13.405, "radius_km": 60},
        {"kind": "near", "latitude": 40.7, "longitude": -74.0, "radius_km": 8},
    ],
    "consent": [
        {"kind": "consent", "channel": "email"},
        {"kind": "consent", "channel": "sms", "purpose": "service"},
    ],
    "random": [
        {"kind": "random", "salt": "ab-test", "share": 0.3},
        {"kind": "random", "salt": "ab-test", "share": 0.3, "offset": 0.3},
    ],
}
BOOLEAN: list[dict[str, Any]] = [
    {"kind": "all", "conditions": [LEAVES["profile"][0], LEAVES["event"][1]]},
    {"kind": "any", "conditions": [LEAVES["location"][0], LEAVES["consent"][0], LEAVES["top"][1]]},
    {"kind": "not", "condition": LEAVES["purchase"][5]},
    {
        "kind": "not",
        "condition": {
            "kind": "any",
            "conditions": [
                {
                    "kind": "all",
                    "conditions": [
                        LEAVES["near"][1],
                        {"kind": "not", "condition": LEAVES["random"][0]},
                    ],
                },
                LEAVES["message"][1],
            ],
        },
    },
]
CASES = [(kind, i, rule) for kind, rules in LEAVES.items() for i, rule in enumerate(rules)]
CASES += [("boolean", i, rule) for i, rule in enumerate(BOOLEAN)]


def sql_members(loaded: Loaded, rule: dict[str, Any], policy: str = "opt_in") -> set[str]:
    definition = SegmentDefinition.model_validate({"name": "under_test", "rule": rule})
    loaded.store.validate(definition)
    ctx = dataclasses.replace(loaded.store.context(AS_OF), consent_policy=policy)
    rows = loaded.ws.engine.fetch_rows(compile_segment(definition.rule, ctx))
    assert len(rows) == len({r[0] for r in rows}), "one row per member"
    return {str(r[0]) for r in rows}


def pandas_members(loaded: Loaded, rule: dict[str, Any], policy: str = "opt_in") -> set[str]:
    definition = SegmentDefinition.model_validate({"name": "under_test", "rule": rule})
    return loaded.reference(policy).members(definition.rule)


@pytest.mark.parametrize(("kind", "index", "rule"), CASES, ids=[f"{k}-{i}" for k, i, _ in CASES])
def test_node_matches_pandas(loaded: Loaded, kind: str, index: int, rule: dict[str, Any]) -> None:
    got, want = sql_members(loaded, rule), pandas_members(loaded, rule)
    assert got == want, f"only SQL: {sorted(got - want)[:5]}, only pandas: {sorted(want - got)[:5]}"


def test_cases_are_not_trivial(loaded: Loaded) -> None:
    """A test that passes because both sides are empty (or everyone) proves little."""
    everyone = len(loaded.data.customers)
    trivial = [
        f"{k}-{i}" for k, i, rule in CASES if len(pandas_members(loaded, rule)) in (0, everyone)
    ]
    assert not trivial


@pytest.mark.parametrize("policy", ["opt_in", "opt_out"])
def test_consent_policy_decides_unknown(loaded: Loaded, policy: str) -> None:
    rule = {"kind": "consent", "channel": "push"}  # only `all` rows speak for push
    members = sql_members(loaded, rule, policy)
    assert members == pandas_members(loaded, rule, policy)
    k = loaded.data.consents
    decided = set(k[(k["channel"] == "all") & (k["purpose"] == "marketing")]["customer_id"])
    undecided = set(loaded.data.customers["customer_id"]) - decided
    assert undecided and decided
    assert (undecided <= members) == (policy == "opt_out")
    assert not (undecided & members) == (policy == "opt_in")


def test_every_kind_is_covered() -> None:
    from cvm.segments.definition import NODE_TYPES

    covered = set(LEAVES) | {"all", "any", "not", "segment"}
    assert covered == set(NODE_TYPES)


ALL_LEAVES = [rule for rules in LEAVES.values() for rule in rules]


def trees() -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.sampled_from(ALL_LEAVES)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(
                lambda cs: {"kind": "all", "conditions": cs},
                st.lists(inner, min_size=1, max_size=3),
            ),
            st.builds(
                lambda cs: {"kind": "any", "conditions": cs},
                st.lists(inner, min_size=1, max_size=3),
            ),
            st.builds(lambda c: {"kind": "not", "condition": c}, inner),
        ),
        max_leaves=6,
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rule=trees())
def test_random_trees_match_pandas(loaded: Loaded, rule: dict[str, Any]) -> None:
    assert sql_members(loaded, rule) == pandas_members(loaded, rule)
