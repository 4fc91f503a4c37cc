"""Explain agrees with membership, and words each condition with its value."""

from __future__ import annotations

import pytest

from cvm.core.errors import NotFoundError
from cvm.segments.compile import compile_segment
from cvm.segments.definition import SegmentDefinition
from cvm.segments.explain import explain_membership
from tests.segments.conftest import Loaded
from tests.segments.data import AS_OF
from tests.segments.test_compile_vs_pandas import LEAVES

MIXED = {
    "name": "explain_mixed",
    "rule": {
        "kind": "all",
        "conditions": [
            {"kind": "profile", "field": "clv", "op": "gte", "value": 30},
            {
                "kind": "any",
                "conditions": [
                    {"kind": "event", "name": "email_opened", "window": {"days": 120}},
                    {"kind": "not", "condition": {"kind": "location", "country": "DE"}},
                    {"kind": "purchase", "measure": "spend", "op": "gte", "value": 200},
                ],
            },
            {"kind": "not", "condition": {"kind": "consent", "channel": "sms"}},
        ],
    },
}


@pytest.fixture(scope="module")
def saved(loaded: Loaded) -> str:
    loaded.store.save(SegmentDefinition.model_validate(MIXED), replace=True)
    every_leaf = {
        "name": "explain_every_leaf",
        "rule": {"kind": "any", "conditions": [r for rules in LEAVES.values() for r in rules[:2]]},
    }
    loaded.store.save(SegmentDefinition.model_validate(every_leaf), replace=True)
    return "explain_mixed"


def test_explain_agrees_with_membership(loaded: Loaded, saved: str) -> None:
    store = loaded.store
    for name, step in (
        (saved, 23),
        ("explain_every_leaf", 97),
        ("lifecycle_active", 37),
        ("value_middle", 37),
    ):
        query = compile_segment(store.resolve(name), store.context(AS_OF))
        members = {r[0] for r in loaded.ws.engine.fetch_rows(query)}
        checked = 0
        for i in range(0, 300, step):
            customer = f"c{i:04d}"
            result = explain_membership(store, name, customer, AS_OF)
            assert result.member == (customer in members), (name, customer)
            assert result.tree.met == result.member
            checked += 1
        assert checked == len(range(0, 300, step))


def test_leaf_verdicts_match_pandas(loaded: Loaded, saved: str) -> None:
    """Each leaf's ✓/✗ is that leaf's membership computed independently."""
    reference = loaded.reference()
    definition = loaded.store.get("explain_every_leaf").definition
    for customer in ("c0003", "c0100", "c0251"):
        result = explain_membership(loaded.store, "explain_every_leaf", customer, AS_OF)
        for leaf, node in zip(result.tree.children, definition.rule.conditions, strict=True):  # type: ignore[union-attr]
            assert leaf.met == (customer in reference.members(node)), (customer, leaf.text)


def test_explain_words_values(loaded: Loaded, saved: str) -> None:
    c = loaded.data.customers.set_index("customer_id")
    p = loaded.data.profiles.set_index("customer_id")
    customer = next(
        cid for cid in p.index if p.loc[cid, "clv"] == p.loc[cid, "clv"] and p.loc[cid, "clv"] >= 30
    )
    result = explain_membership(loaded.store, saved, customer, AS_OF)
    text = result.text()
    assert f"rule.conditions[0]: clv = {p.loc[customer, 'clv']:,.2f} ≥ 30 ✓" in text
    assert "rule.conditions[1].conditions[0]: performed email_opened" in text
    assert "times in the last 120 days, needs ≥ 1" in text
    assert f"country {c.loc[customer, 'country']!r}" in text or "country (not set)" in text
    assert "rule.conditions[2].condition: " in text
    assert text.splitlines()[0].startswith(f"customer {customer} is")


def test_explain_counts_equal_reference(loaded: Loaded) -> None:
    """The number in "performed X N times" is the real count."""
    ev = loaded.data.events
    recent = ev[(ev["name"] == "page_view") & (ev["occurred_at"] <= AS_OF)]
    counts = recent.groupby("customer_id").size()
    customer = str(counts.idxmax())
    rule = {
        "name": "explain_count",
        "rule": {"kind": "event", "name": "page_view", "op": "at_least", "times": 1000},
    }
    loaded.store.save(SegmentDefinition.model_validate(rule), replace=True)
    result = explain_membership(loaded.store, "explain_count", customer, AS_OF)
    assert result.tree.text == f"performed page_view {counts.max()} times ever, needs ≥ 1000"
    assert not result.member
    loaded.store.delete("explain_count")


def test_unknown_customer(loaded: Loaded, saved: str) -> None:
    with pytest.raises(NotFoundError, match="no customer 'nobody'"):
        explain_membership(loaded.store, saved, "nobody", AS_OF)
