"""Validation before anything runs: every problem named with the path of its node.

Two passes. `parse_definition` turns raw YAML/JSON data into a `SegmentDefinition`, translating
pydantic's errors into ``rule.conditions[1].window: unknown field 'dayz'; did you mean 'days'?``
(nearest names by `difflib`). `check_definition` then checks meaning: fields that exist in
``customer_360``, operators that suit the field's type, values of the right type, possible
windows, existing and acyclic segment references. Warnings (not errors) flag event names that
never occurred in this warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlglot.expressions as exp
from pydantic import BaseModel, ValidationError

from cvm.core.errors import UserInputError
from cvm.engine.base import Engine
from cvm.segments.checks import Issue, check_node, did_you_mean
from cvm.segments.definition import (
    COMPARE_OPS,
    NODE_TYPES,
    OP_ALIASES,
    Node,
    PropertyFilter,
    SegmentDefinition,
    Window,
    walk,
)
from cvm.segments.fields import FieldCatalog


class SegmentValidationError(UserInputError):
    """A definition that cannot run; ``issues`` lists every problem with its node path."""

    def __init__(self, issues: list[Issue], source: str = "segment") -> None:
        self.issues = issues
        lines = "\n  ".join(str(i) for i in issues)
        super().__init__(f"{source} is not valid ({len(issues)} problem(s)):\n  {lines}")


@dataclass
class ValidationReport:
    definition: SegmentDefinition | None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


_CONTAINERS: dict[str, type[BaseModel]] = {"window": Window, "where": PropertyFilter}
_NODE_SLOTS = ("rule", "condition")
_MODEL_WORDS = {
    "Window": "the window",
    "PropertyFilter": "a property filter",
    "SegmentDefinition": "the segment definition",
}


def _path_and_model(loc: tuple[Any, ...]) -> tuple[str, type[BaseModel]]:
    """A pydantic location → our path (tags dropped) and the model the last step belongs to."""
    path = ""
    model: type[BaseModel] = SegmentDefinition
    previous: Any = None
    for step in loc:
        node_slot = previous in _NODE_SLOTS or (isinstance(previous, int) and "conditions" in path)
        if isinstance(step, str) and node_slot and step in NODE_TYPES:
            model = NODE_TYPES[step]
            previous = "tag"
            continue
        if isinstance(step, int):
            path += f"[{step}]"
        else:
            path += f".{step}" if path else step
            model = _CONTAINERS.get(step, model)
        previous = step
    return path or "(top)", model


def _message(err: Any, model: type[BaseModel], path: str) -> Issue:
    kind, loc = err["type"], tuple(err["loc"])
    got = err.get("input")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        parent = path.rsplit(".", 1)[0] if "." in path else "(top)"
        fields = [f.alias or n for n, f in model.model_fields.items()]
        what = _MODEL_WORDS.get(model.__name__) or f"a {model.model_fields['kind'].default} node"
        return Issue(parent, f"unknown field {name!r} in {what}" + did_you_mean(name, fields))
    if kind == "union_tag_invalid":
        tag = str(err.get("ctx", {}).get("tag", got))
        return Issue(path, f"unknown kind {tag!r}" + did_you_mean(tag, NODE_TYPES))
    if kind == "union_tag_not_found":
        return Issue(path, "missing 'kind'; one of " + ", ".join(NODE_TYPES))
    if kind == "missing":
        return Issue(path, "required field missing")
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        if path.endswith(".op"):
            choices += [a for a in OP_ALIASES if OP_ALIASES[a] in choices]
        return Issue(path, f"{got!r} is not allowed" + did_you_mean(str(got), choices))
    if kind == "string_pattern_mismatch" and path == "name":
        return Issue(path, f"{got!r}: use letters, digits, '_', '-' or '.', at most 100 characters")
    return Issue(path, f"{err['msg']} (got {got!r})")


def parse_definition(data: Any, source: str = "segment") -> SegmentDefinition:
    """Raw data (from YAML or JSON) → a typed definition, or every structural problem at once."""
    if not isinstance(data, dict):
        raise SegmentValidationError(
            [Issue("(top)", "expected a mapping with name, description and rule")], source
        )
    try:
        return SegmentDefinition.model_validate(data)
    except ValidationError as err:
        issues: list[Issue] = []
        for e in err.errors():
            path, model = _path_and_model(tuple(e["loc"]))
            issue = _message(e, model, path)
            if issue not in issues:
                issues.append(issue)
        raise SegmentValidationError(issues, source) from None


def check_definition(
    definition: SegmentDefinition,
    catalog: FieldCatalog,
    *,
    segment_exists: Callable[[str], bool] | None = None,
    segment_names: Iterable[str] = (),
    resolve: Callable[[str], Node] | None = None,
) -> list[Issue]:
    """Meaning checks; an empty list means the definition can run."""
    issues: list[Issue] = []
    names = list(segment_names)
    for path, node in walk(definition.rule):
        issues += check_node(path, node, catalog)
        if node.kind == "segment":
            name = node.name  # type: ignore[union-attr]
            if name == definition.name:
                issues.append(Issue(path, f"segment {name!r} refers to itself"))
            elif segment_exists is not None and not segment_exists(name):
                issues.append(Issue(path, f"no segment named {name!r}" + did_you_mean(name, names)))
            elif resolve is not None:
                cycle = _find_cycle(name, resolve, [definition.name])
                if cycle:
                    issues.append(Issue(path, "segment reference cycle: " + " → ".join(cycle)))
    return issues


def _find_cycle(name: str, resolve: Callable[[str], Node], chain: list[str]) -> list[str]:
    if name in chain:
        return [*chain, name]
    try:
        rule = resolve(name)
    except UserInputError:
        return []
    for _, node in walk(rule):
        if node.kind == "segment":
            found = _find_cycle(node.name, resolve, [*chain, name])  # type: ignore[union-attr]
            if found:
                return found
    return []


def known_ops() -> list[str]:
    return list(COMPARE_OPS)


def usage_warnings(engine: Engine, definition: SegmentDefinition) -> list[Issue]:
    """Valid but suspicious: event names, categories and products this warehouse never saw."""
    checks = (
        ("events", "name", "name", ("event", "not_performed", "event_time")),
        ("transactions", "category", "category", ("purchase", "purchase_time")),
        ("transactions", "product_id", "product", ("purchase", "purchase_time")),
    )
    warnings: list[Issue] = []
    seen_cache: dict[tuple[str, str], list[str]] = {}
    for path, node in walk(definition.rule):
        for table, column, attr, kinds in checks:
            if node.kind not in kinds or not engine.table_exists(table):
                continue
            wanted = getattr(node, attr)
            for value in [wanted] if isinstance(wanted, str) else wanted or []:
                key = (table, column)
                if key not in seen_cache:
                    query = exp.select(column).distinct().from_(table).limit(10_000)
                    seen_cache[key] = [
                        str(r[0]) for r in engine.fetch_rows(query) if r[0] is not None
                    ]
                if value not in seen_cache[key]:
                    hint = did_you_mean(value, seen_cache[key]) if seen_cache[key] else ""
                    what = {"name": "event", "category": "category", "product_id": "product"}[
                        column
                    ]
                    warnings.append(
                        Issue(f"{path}.{attr}", f"no {what} {value!r} in {table} yet{hint}")
                    )
    return warnings
