"""The segment definition language: a typed rule tree, one schema for the CLI, the API and the UI.

A segment is a `SegmentDefinition` (name, description, `rule`); the rule is a tree of nodes,
each a pydantic model tagged by its ``kind`` (a discriminated union, as in Dittofeed's segment
trees). The same tree reads from YAML or JSON and is stored as JSON (`to_json_dict`).

Node kinds (see docs/segments.md for the semantics and examples of each):

- ``profile``          compare a column of ``customer_360`` (trait, metric or score)
- ``top``              the top share of customers by a numeric column (value tiers)
- ``event``            performed event E at least / at most / exactly N times in a window
- ``not_performed``    did not perform event E in a window
- ``event_time``       first / last time E was performed is before / after a date or N days ago
- ``purchase``         order count, spend or quantity in a category / product in a window
- ``purchase_time``    first / last purchase before / after a date or N days ago
- ``message``          received / opened / clicked a message on a channel in a window
- ``location``         country / region / city
- ``near``             within R km of a point (haversine)
- ``consent``          reachable on channel C for purpose P
- ``segment``          member of another segment
- ``random``           stable hash bucket of the customer id (``cvm.core.hashing``)
- ``all`` / ``any`` / ``not``   boolean combinations, nested to any depth

Adding a kind: add the model here and to `Node`; mypy then fails in `compile.compile_condition`
(its ``match`` ends in ``assert_never``) until the compiler handles it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

Scalar = str | int | float | bool
Value = Scalar | list[Scalar] | None

CompareOp = Literal[
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "between",
    "contains",
    "starts_with",
    "is_set",
    "not_set",
    "within_days",
    "older_than_days",
]
COMPARE_OPS: tuple[str, ...] = CompareOp.__args__  # type: ignore[attr-defined]
NumericOp = Literal["eq", "ne", "lt", "lte", "gt", "gte", "between"]
CountOp = Literal["at_least", "at_most", "exactly"]

# Spellings a marketer may type, mapped to the canonical operator names.
OP_ALIASES: dict[str, str] = {
    "=": "eq",
    "==": "eq",
    "!=": "ne",
    "≠": "ne",
    "<>": "ne",
    "<": "lt",
    "<=": "lte",
    "≤": "lte",
    ">": "gt",
    ">=": "gte",
    "≥": "gte",
    "not in": "not_in",
    "starts with": "starts_with",
    "is set": "is_set",
    "is not set": "not_set",
    "not set": "not_set",
    "at least": "at_least",
    "at most": "at_most",
}


def _canonical_op(value: object) -> object:
    if isinstance(value, str):
        return OP_ALIASES.get(value.strip().lower(), value.strip().lower())
    return value


def _scalarise(value: object) -> object:
    """YAML reads `2024-01-01` as a date; comparisons keep ISO text so JSON and YAML agree."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_scalarise(v) for v in value]
    return value


def _as_list(value: object) -> object:
    """``category: shoes`` and ``category: [shoes, bags]`` both read as a list."""
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Window(_Model):
    """When the counted rows happened. Give one form; no form means all time up to ``as_of``.

    - ``days: D`` — the last D days: ``as_of - D days < t ≤ as_of``;
    - ``min_days_ago: a`` / ``max_days_ago: b`` — ``as_of - b days < t ≤ as_of - a days``
      (either end may be left out);
    - ``from`` / ``to`` — calendar dates, both inclusive (either end may be left out).

    Rows after ``as_of`` never count, so an evaluation at a past ``as_of`` is reproducible.
    """

    days: int | None = None
    min_days_ago: int | None = None
    max_days_ago: int | None = None
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None


class PropertyFilter(_Model):
    """A condition on one key of the event's JSON ``properties`` (dots reach nested keys)."""

    property: str
    op: CompareOp = "eq"
    value: Value = None

    _op = field_validator("op", mode="before")(_canonical_op)
    _value = field_validator("value", mode="before")(_scalarise)


class ProfileCondition(_Model):
    """``field op value`` over a ``customer_360`` column; ``traits.KEY`` reads the JSON traits."""

    kind: Literal["profile"] = "profile"
    field: str
    op: CompareOp = "eq"
    value: Value = None

    _op = field_validator("op", mode="before")(_canonical_op)
    _value = field_validator("value", mode="before")(_scalarise)


class TopCondition(_Model):
    """Among the top ``share`` of customers ranked by ``field`` (descending; ties share a rank)."""

    kind: Literal["top"] = "top"
    field: str
    share: float


class EventCondition(_Model):
    """Performed event ``name`` ``op`` ``times`` times in ``window`` (matching ``where``)."""

    kind: Literal["event"] = "event"
    name: str
    op: CountOp = "at_least"
    times: int = 1
    window: Window | None = None
    channel: str | None = None
    where: list[PropertyFilter] = Field(default_factory=list)

    _op = field_validator("op", mode="before")(_canonical_op)


class NotPerformedCondition(_Model):
    """Did not perform event ``name`` in ``window``."""

    kind: Literal["not_performed"] = "not_performed"
    name: str
    window: Window | None = None
    channel: str | None = None
    where: list[PropertyFilter] = Field(default_factory=list)


class EventTimeCondition(_Model):
    """The ``which`` (first / last) time ``name`` was performed is ``op`` a cut-off.

    Cut-off from ``date`` (midnight of that day; before = ``t <`` date, after = ``t ≥`` date) or
    ``days_ago`` (``as_of - N days``; before = ``t ≤``, after = ``t >``), so before and after
    are exact complements among customers who performed the event.
    """

    kind: Literal["event_time"] = "event_time"
    name: str
    which: Literal["first", "last"] = "last"
    op: Literal["before", "after"]
    date: dt.date | None = None
    days_ago: int | None = None
    channel: str | None = None
    where: list[PropertyFilter] = Field(default_factory=list)


class PurchaseCondition(_Model):
    """``measure`` of purchases (in ``category`` / ``product``) in ``window`` ``op`` ``value``.

    count = distinct orders with a non-return line; spend = net amount (returns subtract);
    quantity = net units. Customers without purchases have 0.
    """

    kind: Literal["purchase"] = "purchase"
    measure: Literal["count", "spend", "quantity"] = "count"
    op: NumericOp = "gte"
    value: int | float | list[int | float] = 1
    category: list[str] | None = None
    product: list[str] | None = None
    window: Window | None = None

    _op = field_validator("op", mode="before")(_canonical_op)

    _one_or_many = field_validator("category", "product", mode="before")(_as_list)


class PurchaseTimeCondition(_Model):
    """First / last purchase (non-return line) before / after a cut-off, as `EventTimeCondition`."""

    kind: Literal["purchase_time"] = "purchase_time"
    which: Literal["first", "last"] = "last"
    op: Literal["before", "after"]
    date: dt.date | None = None
    days_ago: int | None = None
    category: list[str] | None = None
    product: list[str] | None = None

    _one_or_many = field_validator("category", "product", mode="before")(_as_list)


class MessageCondition(_Model):
    """Received / opened / clicked a message on ``channel`` ``op`` ``times`` times in ``window``.

    Reads events named in `ENGAGEMENT_EVENTS` (see docs/segments.md); a message counts once even
    when both its send and its delivery were recorded (``properties.message_id``).
    """

    kind: Literal["message"] = "message"
    action: Literal["received", "opened", "clicked"]
    channel: str | None = None
    op: CountOp = "at_least"
    times: int = 1
    window: Window | None = None

    _op = field_validator("op", mode="before")(_canonical_op)


class LocationCondition(_Model):
    """Lives in one of ``country`` and one of ``region`` and one of ``city`` (given ones only)."""

    kind: Literal["location"] = "location"
    country: list[str] | None = None
    region: list[str] | None = None
    city: list[str] | None = None

    _one_or_many = field_validator("country", "region", "city", mode="before")(_as_list)


class NearCondition(_Model):
    """Within ``radius_km`` of (``latitude``, ``longitude``), great-circle (haversine) distance."""

    kind: Literal["near"] = "near"
    latitude: float
    longitude: float
    radius_km: float


class ConsentCondition(_Model):
    """Reachable on ``channel`` for ``purpose``: the latest consent decides; policy decides unknown."""

    kind: Literal["consent"] = "consent"
    channel: str
    purpose: str = "marketing"


class SegmentRef(_Model):
    """Member of another stored segment (evaluated at the same ``as_of``; cycles are refused)."""

    kind: Literal["segment"] = "segment"
    name: str


class RandomBucket(_Model):
    """``offset ≤ bucket(salt, customer_id) < offset + share`` (the documented stable hash)."""

    kind: Literal["random"] = "random"
    salt: str
    share: float
    offset: float = 0.0


class AllOf(_Model):
    kind: Literal["all"] = "all"
    conditions: list[Node]


class AnyOf(_Model):
    kind: Literal["any"] = "any"
    conditions: list[Node]


class Not(_Model):
    kind: Literal["not"] = "not"
    condition: Node


Leaf = (
    ProfileCondition
    | TopCondition
    | EventCondition
    | NotPerformedCondition
    | EventTimeCondition
    | PurchaseCondition
    | PurchaseTimeCondition
    | MessageCondition
    | LocationCondition
    | NearCondition
    | ConsentCondition
    | SegmentRef
    | RandomBucket
)
Node = Annotated[Leaf | AllOf | AnyOf | Not, Field(discriminator="kind")]
NODE_TYPES: dict[str, type[BaseModel]] = {
    t.model_fields["kind"].default: t for t in (*get_args(Leaf), AllOf, AnyOf, Not)
}

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class SegmentDefinition(_Model):
    """A named segment: what the CLI reads from YAML, the API accepts as JSON, the UI edits."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    rule: Node

    def to_json_dict(self) -> dict[str, Any]:
        """The canonical stored form (JSON-ready, defaults kept so readers see the semantics)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_json_dict(), sort_keys=False, allow_unicode=True)


for _model in (AllOf, AnyOf, Not, SegmentDefinition):
    _model.model_rebuild()


def read_document(text: str) -> Any:
    """Parse YAML or JSON text (JSON is YAML) into plain data; errors name the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        from cvm.core.errors import UserInputError

        raise UserInputError(f"not valid YAML/JSON: {err}") from None


def children(node: Node) -> list[tuple[str, Node]]:
    """The direct sub-nodes of a node with their path step (``conditions[0]``, ``condition``)."""
    if isinstance(node, AllOf | AnyOf):
        return [(f"conditions[{i}]", c) for i, c in enumerate(node.conditions)]
    if isinstance(node, Not):
        return [("condition", node.condition)]
    return []


def walk(node: Node, path: str = "rule") -> Iterator[tuple[str, Node]]:
    """Every node of the tree with its path, parents before children."""
    yield path, node
    for step, child in children(node):
        yield from walk(child, f"{path}.{step}")


def leaves(node: Node, path: str = "rule") -> Iterator[tuple[str, Leaf]]:
    for where, item in walk(node, path):
        if not isinstance(item, AllOf | AnyOf | Not):
            yield where, item


def referenced_segments(node: Node) -> set[str]:
    return {item.name for _, item in walk(node) if isinstance(item, SegmentRef)}


def definition_json(definition: SegmentDefinition) -> str:
    return json.dumps(definition.to_json_dict(), sort_keys=True, ensure_ascii=False)
