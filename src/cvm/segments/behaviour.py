"""Behaviour conditions (events, messages, purchases, consent) as per-customer aggregates.

Each such leaf becomes an `Aggregate`: which rows of which table count, one aggregate over a
customer's rows, a test on it, and whether a customer with no rows passes (``at most 2``,
``spend < 100``, opt-out consent). `cvm.segments.plan` computes all the aggregates of a query on
one table in one grouped scan; `explain` computes the same aggregate for one customer, so its
numbers are the compiler's numbers.

Engagement events (documented in docs/segments.md): ``received`` counts ``message_sent`` and
``message_delivered`` (with ``channel`` set) or ``<channel>_sent`` / ``<channel>_delivered``;
``opened`` and ``clicked`` likewise with ``_opened`` / ``_clicked``. A message counts once per
``properties.message_id`` (the event id when absent), so a send plus its delivery is one.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlglot.expressions as exp

from cvm.segments.context import CompileContext
from cvm.segments.definition import (
    ConsentCondition,
    EventCondition,
    EventTimeCondition,
    MessageCondition,
    NotPerformedCondition,
    PropertyFilter,
    PurchaseCondition,
    PurchaseTimeCondition,
)
from cvm.segments.fields import json_path
from cvm.segments.predicates import (
    compare,
    cutoff_predicate,
    number_literal,
    timestamp_literal,
    two_valued,
    window_conditions,
)

ENGAGEMENT_VERBS: dict[str, tuple[str, ...]] = {
    "received": ("sent", "delivered"),
    "opened": ("opened",),
    "clicked": ("clicked",),
}
KNOWN_CHANNELS: tuple[str, ...] = (
    "email",
    "sms",
    "push",
    "messenger",
    "telegram",
    "whatsapp",
    "viber",
    "in_app",
    "web_push",
)
"""Channels whose ``<channel>_<verb>`` event names count when a message condition names no
channel; with a channel named, ``<that channel>_<verb>`` always counts."""

_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "at_least": operator.ge,
    "at_most": operator.le,
    "exactly": operator.eq,
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
_SQL_TESTS: dict[str, type[exp.Binary]] = {
    "at_least": exp.GTE,
    "at_most": exp.LTE,
    "exactly": exp.EQ,
    "eq": exp.EQ,
    "ne": exp.NEQ,
    "lt": exp.LT,
    "lte": exp.LTE,
    "gt": exp.GT,
    "gte": exp.GTE,
}


@dataclass(frozen=True)
class Aggregate:
    table: str
    filters: list[exp.Expr]
    value: exp.Expr
    test: Callable[[exp.Expr], exp.Expr]
    empty_passes: bool
    # Event names the rows can have (None: any), so a shared scan can skip the others.
    names: list[str] | None = None
    # When ``value`` counts distinct keys: (key, extra row condition), for the plan.
    distinct: tuple[exp.Expr, exp.Expr | None] | None = None
    # The value of a customer without matching rows (test(empty) == empty_passes); None when
    # it cannot stand for "no rows" (consent), which then counts the rows too.
    empty_value: exp.Expr | None = None


def col(name: str) -> exp.Column:
    return exp.column(name)


def member_predicate(agg: Aggregate, ctx: CompileContext) -> exp.Expr:
    """The test on the customer's aggregate; a customer without matching rows has the empty
    value (0 for counts and sums, NULL for times), or, for consent, ``empty_passes``."""
    value = ctx.plan.aggregate(agg.table, agg.filters, agg.value, agg.names, agg.distinct)
    if agg.empty_value is not None:
        return two_valued(agg.test(exp.func("COALESCE", value, agg.empty_value)))
    rows = ctx.plan.aggregate(agg.table, agg.filters, exp.Count(this=exp.Star()), agg.names)
    empty = exp.func("COALESCE", rows, exp.Literal.number(0)).eq(exp.Literal.number(0))
    passes = exp.Boolean(this=agg.empty_passes)
    return exp.Case(ifs=[exp.If(this=empty, true=passes)], default=two_valued(agg.test(value)))


def count_test(op: str, target: float | int | list[float | int]) -> Callable[[exp.Expr], exp.Expr]:
    def test(value: exp.Expr) -> exp.Expr:
        if op == "between":
            assert isinstance(target, list)
            low, high = (number_literal(v) for v in target)
            return exp.Between(this=value, low=low, high=high)
        assert not isinstance(target, list)
        return _SQL_TESTS[op](this=value, expression=number_literal(target))

    return test


def zero_passes(op: str, target: float | int | list[float | int]) -> bool:
    """Whether a customer with no matching rows (count / spend 0) meets ``op target``."""
    if op == "between":
        assert isinstance(target, list)
        return bool(target[0] <= 0 <= target[1])
    return bool(_TESTS[op](0, target))


def property_filters(where: list[PropertyFilter], ctx: CompileContext) -> list[exp.Expr]:
    props = col("properties")
    return [
        compare(
            exp.JSONExtractScalar(this=props, expression=exp.Literal.string(json_path(f.property))),
            "json",
            f.op,
            f.value,
            ctx.as_of,
        )
        for f in where
    ]


def _event_rows(
    node: EventCondition | NotPerformedCondition | EventTimeCondition, ctx: CompileContext
) -> list[exp.Expr]:
    filters: list[exp.Expr] = [col("name").eq(exp.Literal.string(node.name))]
    if node.channel is not None:
        filters.append(col("channel").eq(exp.Literal.string(node.channel)))
    window = None if isinstance(node, EventTimeCondition) else node.window
    filters += window_conditions(col("occurred_at"), window, ctx.as_of)
    return filters + property_filters(node.where, ctx)


def event_aggregate(node: EventCondition, ctx: CompileContext) -> Aggregate:
    return Aggregate(
        table="events",
        filters=_event_rows(node, ctx),
        value=exp.Count(this=exp.Star()),
        test=count_test(node.op, node.times),
        empty_passes=zero_passes(node.op, node.times),
        names=[node.name],
        empty_value=exp.Literal.number(0),
    )


def not_performed_aggregate(node: NotPerformedCondition, ctx: CompileContext) -> Aggregate:
    return Aggregate(
        table="events",
        filters=_event_rows(node, ctx),
        value=exp.Count(this=exp.Star()),
        test=count_test("exactly", 0),
        empty_passes=True,
        names=[node.name],
        empty_value=exp.Literal.number(0),
    )


def event_time_aggregate(node: EventTimeCondition, ctx: CompileContext) -> Aggregate:
    moment = col("occurred_at")
    extreme = exp.Min(this=moment) if node.which == "first" else exp.Max(this=moment)
    return Aggregate(
        table="events",
        filters=_event_rows(node, ctx),
        value=extreme,
        test=lambda v: cutoff_predicate(v, node.op, node.date, node.days_ago, ctx.as_of),
        empty_passes=False,
        names=[node.name],
        empty_value=exp.null(),
    )


def _purchase_rows(
    node: PurchaseCondition | PurchaseTimeCondition, ctx: CompileContext
) -> list[exp.Expr]:
    window = node.window if isinstance(node, PurchaseCondition) else None
    filters = window_conditions(col("occurred_at"), window, ctx.as_of)
    if node.category:
        filters.append(col("category").isin(*(exp.Literal.string(c) for c in node.category)))
    if node.product:
        filters.append(col("product_id").isin(*(exp.Literal.string(p) for p in node.product)))
    return filters


def not_return() -> exp.Expr:
    # Same rule as the value stage: a line is a purchase unless flagged as a return.
    return exp.not_(exp.func("COALESCE", col("is_return"), exp.false()))


def purchase_aggregate(node: PurchaseCondition, ctx: CompileContext) -> Aggregate:
    value: exp.Expr
    if node.measure == "count":
        order = exp.If(this=not_return(), true=col("transaction_id"))
        value = exp.Count(this=exp.Distinct(expressions=[order]))
        distinct: tuple[exp.Expr, exp.Expr | None] | None = (col("transaction_id"), not_return())
    else:
        distinct = None
        column = "amount" if node.measure == "spend" else "quantity"
        total = exp.cast(exp.Sum(this=col(column)), "DOUBLE")
        value = exp.func("COALESCE", total, number_literal(0.0))
    return Aggregate(
        table="transactions",
        filters=_purchase_rows(node, ctx),
        value=value,
        test=count_test(node.op, node.value),
        empty_passes=zero_passes(node.op, node.value),
        distinct=distinct,
        empty_value=exp.Literal.number(0),
    )


def purchase_time_aggregate(node: PurchaseTimeCondition, ctx: CompileContext) -> Aggregate:
    moment = col("occurred_at")
    extreme = exp.Min(this=moment) if node.which == "first" else exp.Max(this=moment)
    return Aggregate(
        table="transactions",
        filters=[*_purchase_rows(node, ctx), not_return()],
        value=extreme,
        test=lambda v: cutoff_predicate(v, node.op, node.date, node.days_ago, ctx.as_of),
        empty_passes=False,
        empty_value=exp.null(),
    )


def engagement_names(action: str, channel: str | None) -> tuple[list[str], list[str]]:
    """(generic names that need ``events.channel``, channel-prefixed names) for an action."""
    verbs = ENGAGEMENT_VERBS[action]
    channels = [channel] if channel is not None else list(KNOWN_CHANNELS)
    generic = [f"message_{v}" for v in verbs]
    prefixed = [f"{c}_{v}" for c in channels for v in verbs]
    return generic, prefixed


def message_aggregate(node: MessageCondition, ctx: CompileContext) -> Aggregate:
    generic, prefixed = engagement_names(node.action, node.channel)
    name = col("name")
    generic_match: exp.Expr = name.isin(*(exp.Literal.string(n) for n in generic))
    if node.channel is not None:
        generic_match = exp.and_(generic_match, col("channel").eq(exp.Literal.string(node.channel)))
    matches = exp.or_(
        exp.paren(generic_match), name.isin(*(exp.Literal.string(n) for n in prefixed))
    )
    message_id = exp.JSONExtractScalar(
        this=col("properties"), expression=exp.Literal.string(json_path("message_id"))
    )
    key = exp.func("COALESCE", message_id, col("event_id"))
    return Aggregate(
        table="events",
        filters=[
            exp.paren(matches),
            *window_conditions(col("occurred_at"), node.window, ctx.as_of),
        ],
        value=exp.Count(this=exp.Distinct(expressions=[key])),
        test=count_test(node.op, node.times),
        empty_passes=zero_passes(node.op, node.times),
        names=generic + prefixed,
        distinct=(key.copy(), None),
        empty_value=exp.Literal.number(0),
    )


def consent_aggregate(node: ConsentCondition, ctx: CompileContext) -> Aggregate:
    """Reachable iff the latest decision for (channel or ``all``, purpose) is a grant.

    A denial at the same instant as a grant wins (the safe reading of a tie). Customers with no
    decision follow the workspace policy: reachable under ``opt_out``, not under ``opt_in``.
    """

    def latest(status: str) -> exp.Expr:
        return exp.Max(
            this=exp.If(this=col("status").eq(exp.Literal.string(status)), true=col("occurred_at"))
        )

    never = timestamp_literal(dt.datetime(1, 1, 1))
    granted = exp.func(
        "COALESCE", latest("granted") > exp.func("COALESCE", latest("denied"), never), exp.false()
    )
    channels = [exp.Literal.string(node.channel), exp.Literal.string("all")]
    return Aggregate(
        table="consents",
        filters=[
            col("channel").isin(*channels),
            col("purpose").eq(exp.Literal.string(node.purpose)),
            col("occurred_at") <= timestamp_literal(ctx.as_of),
        ],
        value=granted,
        test=lambda v: v,
        empty_passes=ctx.consent_policy == "opt_out",
    )
