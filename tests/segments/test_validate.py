"""Every invalid definition gets a clear message naming the node path (and the nearest name)."""

from __future__ import annotations

from typing import Any

import pytest

from cvm.core.errors import ConflictError, NotFoundError
from cvm.segments.definition import SegmentDefinition
from cvm.segments.fields import default_catalog
from cvm.segments.validate import (
    SegmentValidationError,
    check_definition,
    parse_definition,
    usage_warnings,
)
from tests.segments.conftest import Loaded


def wrap(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"name": "bad", "rule": {"kind": "all", "conditions": list(conditions)}}


STRUCTURAL = [
    (
        {"kind": "evnt", "name": "x"},
        "rule.conditions[0]",
        "unknown kind 'evnt'; did you mean 'event'",
    ),
    (
        {"kind": "profile", "feild": "clv", "field": "clv", "value": 1},
        "rule.conditions[0]",
        "unknown field 'feild' in a profile node; did you mean 'field'",
    ),
    (
        {"kind": "event", "name": "x", "window": {"dayz": 3}},
        "rule.conditions[0].window",
        "unknown field 'dayz' in the window; did you mean 'days'",
    ),
    (
        {"kind": "profile", "field": "clv", "op": "gtee", "value": 1},
        "rule.conditions[0].op",
        "did you mean 'gte'",
    ),
    ({"kind": "purchase", "measure": "spnd"}, "rule.conditions[0].measure", "did you mean 'spend'"),
    ({"kind": "event"}, "rule.conditions[0].name", "required field missing"),
    ({"name": "x"}, "rule.conditions[0]", "missing 'kind'"),
    (
        {"kind": "event", "name": "x", "where": [{"property": "a", "opp": "eq"}]},
        "rule.conditions[0].where[0]",
        "did you mean 'op'",
    ),
    (
        {"kind": "not", "condition": {"kind": "message", "action": "opend"}},
        "rule.conditions[0].condition.action",
        "did you mean 'opened'",
    ),
]


@pytest.mark.parametrize(("node", "path", "text"), STRUCTURAL)
def test_structural_errors_name_path_and_nearest(
    node: dict[str, Any], path: str, text: str
) -> None:
    with pytest.raises(SegmentValidationError) as caught:
        parse_definition(wrap(node))
    messages = [str(i) for i in caught.value.issues]
    assert any(m.startswith(f"{path}:") and text in m for m in messages), messages


MEANING = [
    (
        {"kind": "profile", "field": "clvv", "op": "gte", "value": 1},
        "rule.conditions[0].field",
        "unknown field 'clvv'; did you mean 'clv'",
    ),
    (
        {"kind": "profile", "field": "country", "op": "eq", "value": 5},
        "rule.conditions[0].value",
        "'country' is text: cannot compare it with 5",
    ),
    (
        {"kind": "profile", "field": "clv", "op": "eq", "value": "500"},
        "rule.conditions[0].value",
        "'clv' is a number: cannot compare it with '500'",
    ),
    (
        {"kind": "profile", "field": "clv", "op": "contains", "value": "5"},
        "rule.conditions[0].op",
        "'contains' needs a text field; 'clv' is a number",
    ),
    (
        {"kind": "profile", "field": "country", "op": "within_days", "value": 5},
        "rule.conditions[0].op",
        "needs a date or timestamp field",
    ),
    (
        {"kind": "profile", "field": "clv", "op": "between", "value": [500, 100]},
        "rule.conditions[0].value",
        "low 500 is above high 100",
    ),
    (
        {"kind": "profile", "field": "clv", "op": "in", "value": []},
        "rule.conditions[0].value",
        "non-empty list",
    ),
    (
        {"kind": "profile", "field": "clv", "op": "is_set", "value": 3},
        "rule.conditions[0].value",
        "takes no value",
    ),
    (
        {"kind": "profile", "field": "signup_date", "op": "gt", "value": "last week"},
        "rule.conditions[0].value",
        "ISO date",
    ),
    (
        {"kind": "profile", "field": "uplift", "op": "eq", "value": "x"},
        "rule.conditions[0].op",
        "JSON document",
    ),
    (
        {"kind": "event", "name": "x", "window": {"days": -3}},
        "rule.conditions[0].window.days",
        "must be at least 1 (got -3)",
    ),
    (
        {"kind": "event", "name": "x", "window": {"from": "2024-05-01", "to": "2024-01-01"}},
        "rule.conditions[0].window",
        "from 2024-05-01 is after to 2024-01-01",
    ),
    (
        {"kind": "event", "name": "x", "window": {"min_days_ago": 90, "max_days_ago": 30}},
        "rule.conditions[0].window",
        "min_days_ago 90 must be below max_days_ago 30",
    ),
    (
        {"kind": "event", "name": "x", "window": {"days": 3, "from": "2024-01-01"}},
        "rule.conditions[0].window",
        "mixes days with from/to",
    ),
    (
        {"kind": "event", "name": "x", "times": -1},
        "rule.conditions[0].times",
        "must not be negative",
    ),
    (
        {
            "kind": "event",
            "name": "x",
            "where": [{"property": "amount", "op": "contains", "value": 3}],
        },
        "rule.conditions[0].where[0].value",
        "needs text",
    ),
    (
        {"kind": "purchase", "op": "between", "value": [5, 1]},
        "rule.conditions[0].value",
        "low 5 is above high 1",
    ),
    (
        {"kind": "event_time", "name": "x", "op": "before"},
        "rule.conditions[0]",
        "exactly one of date or days_ago",
    ),
    (
        {"kind": "purchase_time", "op": "after", "days_ago": -2},
        "rule.conditions[0].days_ago",
        "must not be negative",
    ),
    (
        {"kind": "near", "latitude": 95, "longitude": 0, "radius_km": 0},
        "rule.conditions[0].latitude",
        "between -90 and 90",
    ),
    (
        {"kind": "near", "latitude": 0, "longitude": 0, "radius_km": -1},
        "rule.conditions[0].radius_km",
        "must be positive",
    ),
    ({"kind": "random", "salt": "s", "share": 1.5}, "rule.conditions[0].share", "at most 1"),
    (
        {"kind": "random", "salt": "s", "share": 0.5, "offset": 0.7},
        "rule.conditions[0].offset",
        "within [0, 1]",
    ),
    (
        {"kind": "top", "field": "country", "share": 0.1},
        "rule.conditions[0].field",
        "ranking needs a number",
    ),
    ({"kind": "location"}, "rule.conditions[0]", "at least one of country"),
    ({"kind": "any", "conditions": []}, "rule.conditions[0].conditions", "at least one condition"),
]


@pytest.mark.parametrize(("node", "path", "text"), MEANING)
def test_meaning_errors_name_path(node: dict[str, Any], path: str, text: str) -> None:
    definition = parse_definition(wrap(node))
    messages = [str(i) for i in check_definition(definition, default_catalog())]
    assert any(m.startswith(f"{path}:") and text in m for m in messages), messages


def test_all_problems_reported_at_once() -> None:
    definition = parse_definition(wrap(*(node for node, _, _ in MEANING[:5])))
    assert len(check_definition(definition, default_catalog())) == 5


def test_store_refuses_unknown_and_cyclic_references(loaded: Loaded) -> None:
    store = loaded.store
    ref = {"name": "refers", "rule": {"kind": "segment", "name": "lifecycle_nwe"}}
    with pytest.raises(
        SegmentValidationError,
        match="no segment named 'lifecycle_nwe'; did you mean 'lifecycle_new'",
    ):
        store.save(parse_definition(ref))
    store.save(
        parse_definition(
            {"name": "cyc_a", "rule": {"kind": "profile", "field": "clv", "op": "is_set"}}
        )
    )
    store.save(parse_definition({"name": "cyc_b", "rule": {"kind": "segment", "name": "cyc_a"}}))
    loop = {
        "name": "cyc_a",
        "rule": {"kind": "not", "condition": {"kind": "segment", "name": "cyc_b"}},
    }
    with pytest.raises(
        SegmentValidationError,
        match=r"rule.condition: segment reference cycle: cyc_a → cyc_b → cyc_a",
    ):
        store.save(parse_definition(loop), replace=True)
    with pytest.raises(ConflictError, match="exists; use --replace"):
        store.save(
            parse_definition(
                {"name": "cyc_a", "rule": {"kind": "profile", "field": "clv", "op": "is_set"}}
            )
        )
    with pytest.raises(ConflictError, match="used by cyc_b"):
        store.delete("cyc_a")
    store.delete("cyc_b")
    store.delete("cyc_a")
    with pytest.raises(NotFoundError, match="no segment named 'cyc_a'"):
        store.get("cyc_a")


def test_bad_names_and_shapes() -> None:
    with pytest.raises(SegmentValidationError, match="name: 'has space!'"):
        parse_definition({"name": "has space!", "rule": {"kind": "segment", "name": "x"}})
    with pytest.raises(SegmentValidationError, match="expected a mapping"):
        parse_definition(["not", "a", "mapping"])


def test_warnings_flag_unseen_event_names(loaded: Loaded) -> None:
    definition = SegmentDefinition.model_validate(
        {
            "name": "w",
            "rule": {
                "kind": "all",
                "conditions": [
                    {"kind": "event", "name": "emial_opened"},
                    {"kind": "purchase", "category": "shoe"},
                    {"kind": "event", "name": "page_view"},
                ],
            },
        }
    )
    warnings = [str(w) for w in usage_warnings(loaded.ws.engine, definition)]
    assert any(
        "rule.conditions[0].name" in w and "did you mean 'email_opened'" in w for w in warnings
    )
    assert any("rule.conditions[1].category" in w and "'shoes'" in w for w in warnings)
    assert len(warnings) == 2
