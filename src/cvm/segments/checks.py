"""Meaning checks for one node: operator vs field type, value types, possible windows.

Like the compiler, the ``match`` over node kinds ends in ``assert_never``, so a new node kind
must say how it is validated before the package type-checks.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, assert_never

from cvm.core.contracts import LogicalType
from cvm.segments.definition import (
    AllOf,
    AnyOf,
    ConsentCondition,
    EventCondition,
    EventTimeCondition,
    LocationCondition,
    MessageCondition,
    NearCondition,
    Node,
    Not,
    NotPerformedCondition,
    ProfileCondition,
    PropertyFilter,
    PurchaseCondition,
    PurchaseTimeCondition,
    RandomBucket,
    SegmentRef,
    TopCondition,
    Value,
    Window,
)
from cvm.segments.fields import NUMERIC, TEMPORAL, TRAIT_PREFIX, FieldCatalog, valid_json_path


@dataclass(frozen=True)
class Issue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def nearest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = nearest(word, choices)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "; valid: " + ", ".join(sorted(choices))


_ORDERING = {"lt", "lte", "gt", "gte", "between"}
_TEXT_ONLY = {"contains", "starts_with"}
_RELATIVE = {"within_days", "older_than_days"}
_NO_VALUE = {"is_set", "not_set"}
_TYPE_WORDS: dict[str, str] = {
    "integer": "a number (integer)",
    "decimal": "a number (decimal)",
    "double": "a number",
    "text": "text",
    "boolean": "true/false",
    "date": "a date",
    "timestamp": "a timestamp",
    "json": "a JSON document",
}


def check_node(path: str, node: Node, catalog: FieldCatalog) -> list[Issue]:
    match node:
        case ProfileCondition():
            typ = catalog.type_of(node.field)
            if typ is None:
                if node.field.startswith(TRAIT_PREFIX):
                    why = "trait keys are letters, digits, spaces, '_' or '-', joined by dots"
                    return [
                        Issue(f"{path}.field", f"{node.field!r} is not a valid trait path: {why}")
                    ]
                hint = did_you_mean(node.field, catalog.names)
                return [Issue(f"{path}.field", f"unknown field {node.field!r}{hint}")]
            if typ == "json" and not node.field.startswith(TRAIT_PREFIX):
                if node.op not in _NO_VALUE:
                    return [
                        Issue(
                            f"{path}.op",
                            f"{node.field!r} is a JSON document: only is_set / not_set apply",
                        )
                    ]
                return []
            return check_comparison(path, node.field, typ, node.op, node.value)
        case TopCondition():
            issues = _share(path, "share", node.share)
            typ = catalog.type_of(node.field)
            if typ is None:
                issues.append(
                    Issue(
                        f"{path}.field",
                        f"unknown field {node.field!r}" + did_you_mean(node.field, catalog.names),
                    )
                )
            elif typ not in NUMERIC:
                issues.append(
                    Issue(
                        f"{path}.field",
                        f"{node.field!r} is {_TYPE_WORDS[typ]}; ranking needs a number",
                    )
                )
            return issues
        case EventCondition():
            issues = (
                _name(path, node.name) + _count(path, node.times) + check_window(path, node.window)
            )
            return issues + _filters(path, node.where)
        case NotPerformedCondition():
            return (
                _name(path, node.name)
                + check_window(path, node.window)
                + _filters(path, node.where)
            )
        case EventTimeCondition():
            return (
                _name(path, node.name)
                + _cutoff(path, node.date, node.days_ago)
                + _filters(path, node.where)
            )
        case PurchaseCondition():
            return _numeric_test(path, node.op, node.value) + check_window(path, node.window)
        case PurchaseTimeCondition():
            return _cutoff(path, node.date, node.days_ago)
        case MessageCondition():
            return _count(path, node.times) + check_window(path, node.window)
        case LocationCondition():
            if not (node.country or node.region or node.city):
                return [Issue(path, "give at least one of country, region, city")]
            return []
        case NearCondition():
            issues = []
            if not -90 <= node.latitude <= 90:
                issues.append(
                    Issue(f"{path}.latitude", f"must be between -90 and 90 (got {node.latitude})")
                )
            if not -180 <= node.longitude <= 180:
                issues.append(
                    Issue(
                        f"{path}.longitude", f"must be between -180 and 180 (got {node.longitude})"
                    )
                )
            if node.radius_km <= 0:
                issues.append(
                    Issue(f"{path}.radius_km", f"must be positive (got {node.radius_km})")
                )
            return issues
        case ConsentCondition():
            return [
                Issue(f"{path}.{k}", "must not be empty")
                for k in ("channel", "purpose")
                if not getattr(node, k).strip()
            ]
        case SegmentRef():
            return _name(path, node.name)
        case RandomBucket():
            issues = _share(path, "share", node.share)
            if not node.salt:
                issues.append(Issue(f"{path}.salt", "must not be empty (the salt names the draw)"))
            if node.offset < 0 or node.offset + node.share > 1:
                issues.append(
                    Issue(
                        f"{path}.offset",
                        f"offset {node.offset} + share {node.share} must stay within [0, 1]",
                    )
                )
            return issues
        case AllOf() | AnyOf():
            return (
                []
                if node.conditions
                else [Issue(f"{path}.conditions", "needs at least one condition")]
            )
        case Not():
            return []
        case _:
            assert_never(node)


def check_comparison(path: str, field: str, typ: LogicalType, op: str, value: Value) -> list[Issue]:
    """Operator against type, and value against operator and type, for one comparison."""
    what = f"{field!r} is {_TYPE_WORDS[typ]}"
    if op in _TEXT_ONLY and typ not in ("text", "json"):
        return [Issue(f"{path}.op", f"{op!r} needs a text field; {what}")]
    if op in _RELATIVE and typ not in TEMPORAL:
        return [Issue(f"{path}.op", f"{op!r} needs a date or timestamp field; {what}")]
    if op in _ORDERING and typ == "boolean":
        return [Issue(f"{path}.op", f"{op!r} cannot order {what}; use eq or ne")]
    if op in _NO_VALUE:
        return [] if value is None else [Issue(f"{path}.value", f"{op!r} takes no value")]
    if op in _RELATIVE:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return [
                Issue(f"{path}.value", f"{op!r} needs a whole number of days ≥ 0 (got {value!r})")
            ]
        return []
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return [Issue(f"{path}.value", f"{op!r} needs a non-empty list (got {value!r})")]
        return [i for v in value for i in _value_type(f"{path}.value", field, typ, v)]
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return [Issue(f"{path}.value", f"'between' needs [low, high] (got {value!r})")]
        issues = [i for v in value for i in _value_type(f"{path}.value", field, typ, v)]
        if not issues and _sort_key(value[0], typ) > _sort_key(value[1], typ):
            issues.append(Issue(f"{path}.value", f"low {value[0]!r} is above high {value[1]!r}"))
        return issues
    if value is None or isinstance(value, list):
        return [Issue(f"{path}.value", f"{op!r} needs one value (got {value!r})")]
    if op in _TEXT_ONLY and not isinstance(value, str):
        return [Issue(f"{path}.value", f"{op!r} needs text (got {value!r})")]
    return _value_type(f"{path}.value", field, typ, value)


def _value_type(path: str, field: str, typ: LogicalType, value: object) -> list[Issue]:
    what = f"{field!r} is {_TYPE_WORDS[typ]}"
    if typ == "json":
        ok = isinstance(value, str | int | float | bool)
    elif typ in NUMERIC:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif typ == "boolean":
        ok = isinstance(value, bool)
    elif typ in TEMPORAL:
        ok = isinstance(value, str) and _parses_as_time(value)
    else:
        ok = isinstance(value, str)
    if ok:
        return []
    hint = {
        "text": " (put it in quotes)",
        "date": " (write an ISO date such as 2024-05-01)",
        "timestamp": " (write an ISO date or date-time such as 2024-05-01T08:00:00)",
    }.get(typ, "")
    return [Issue(path, f"{what}: cannot compare it with {value!r}{hint}")]


def _parses_as_time(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _sort_key(value: Any, typ: LogicalType) -> Any:
    if typ in TEMPORAL and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def check_window(path: str, window: Window | None) -> list[Issue]:
    """Impossible windows: negative or zero lengths, inverted ranges, mixed forms."""
    if window is None:
        return []
    where = f"{path}.window"
    issues: list[Issue] = []
    relative = (
        window.days is not None
        or window.min_days_ago is not None
        or window.max_days_ago is not None
    )
    if relative and (window.from_ is not None or window.to is not None):
        issues.append(Issue(where, "mixes days with from/to dates; give one form"))
    if window.days is not None and (
        window.min_days_ago is not None or window.max_days_ago is not None
    ):
        issues.append(Issue(where, "give either days or min_days_ago/max_days_ago"))
    if window.days is not None and window.days < 1:
        issues.append(Issue(f"{where}.days", f"must be at least 1 (got {window.days})"))
    if window.min_days_ago is not None and window.min_days_ago < 0:
        issues.append(
            Issue(f"{where}.min_days_ago", f"must not be negative (got {window.min_days_ago})")
        )
    if window.max_days_ago is not None and window.max_days_ago < 1:
        issues.append(
            Issue(f"{where}.max_days_ago", f"must be at least 1 (got {window.max_days_ago})")
        )
    low, high = window.min_days_ago, window.max_days_ago
    if low is not None and high is not None and low >= high:
        issues.append(Issue(where, f"min_days_ago {low} must be below max_days_ago {high}"))
    if window.from_ is not None and window.to is not None and window.from_ > window.to:
        issues.append(Issue(where, f"from {window.from_} is after to {window.to}"))
    return issues


def _cutoff(path: str, date: dt.date | None, days_ago: int | None) -> list[Issue]:
    if (date is None) == (days_ago is None):
        return [Issue(path, "give exactly one of date or days_ago")]
    if days_ago is not None and days_ago < 0:
        return [Issue(f"{path}.days_ago", f"must not be negative (got {days_ago})")]
    return []


def _count(path: str, times: int) -> list[Issue]:
    return [] if times >= 0 else [Issue(f"{path}.times", f"must not be negative (got {times})")]


def _name(path: str, name: str) -> list[Issue]:
    return [] if name.strip() else [Issue(f"{path}.name", "must not be empty")]


def _share(path: str, key: str, share: float) -> list[Issue]:
    if 0 < share <= 1:
        return []
    return [Issue(f"{path}.{key}", f"must be above 0 and at most 1 (got {share})")]


def _numeric_test(path: str, op: str, value: float | int | list[float | int]) -> list[Issue]:
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return [Issue(f"{path}.value", f"'between' needs [low, high] (got {value!r})")]
        if value[0] > value[1]:
            return [Issue(f"{path}.value", f"low {value[0]} is above high {value[1]}")]
        return []
    if isinstance(value, list):
        return [Issue(f"{path}.value", f"{op!r} needs one number (got {value!r})")]
    return []


def _filters(path: str, where: list[PropertyFilter]) -> list[Issue]:
    issues: list[Issue] = []
    for i, f in enumerate(where):
        at = f"{path}.where[{i}]"
        if not valid_json_path(f.property):
            issues.append(Issue(f"{at}.property", f"{f.property!r} is not a valid property path"))
        issues += check_comparison(at, f.property, "json", f.op, f.value)
    return issues
