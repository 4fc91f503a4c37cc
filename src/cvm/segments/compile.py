"""The one compiler: a rule tree → a sqlglot ``SELECT customer_id FROM customer_360 WHERE …``.

Every node becomes a two-valued predicate over one row of ``customer_360 AS c``: profile-like
leaves read ``c.<column>``; behaviour leaves (`cvm.segments.behaviour`) read a per-customer
aggregate that `cvm.segments.plan` computes, with every other aggregate on the same table, in
one grouped scan left-joined to ``c``; ``all`` / ``any`` / ``not`` become AND / OR / NOT.
`compile_flags` compiles many trees into one query (one true/false column each), which is how
a refresh evaluates 50 segments reading ``events`` once. Values enter as sqlglot literals only. The ``match`` in `compile_condition` ends in ``assert_never``: a new
node kind fails type checking (mypy) until it is handled here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import assert_never

import sqlglot.expressions as exp

from cvm.core.hashing import bucket_sql
from cvm.profiles.contract import CUSTOMER_360_VIEW
from cvm.segments import behaviour
from cvm.segments.context import C360_ALIAS, CompileContext, ConsentPolicy, utc_naive
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
    PurchaseCondition,
    PurchaseTimeCondition,
    RandomBucket,
    SegmentRef,
    TopCondition,
)
from cvm.segments.fields import TRAIT_PREFIX, FieldCatalog, default_catalog, json_path
from cvm.segments.predicates import (
    compare,
    haversine_km,
    negate,
    number_literal,
    two_valued,
)


def customer_column(name: str) -> exp.Column:
    return exp.column(name, table=C360_ALIAS, quoted=True)


def profile_operand(field: str, catalog: FieldCatalog) -> exp.Expr:
    """The column, or the JSON trait ``traits.KEY`` as text."""
    if field.startswith(TRAIT_PREFIX) and field not in catalog.types:
        path = exp.Literal.string(json_path(field[len(TRAIT_PREFIX) :]))
        return exp.JSONExtractScalar(this=customer_column("traits"), expression=path)
    return customer_column(field)


def compile_condition(
    node: Node, ctx: CompileContext, catalog: FieldCatalog | None = None
) -> exp.Expr:
    """A two-valued predicate over ``customer_360 AS c`` that is true for members."""
    catalog = catalog or default_catalog()
    match node:
        case ProfileCondition():
            typ = catalog.type_of(node.field) or "text"
            operand = profile_operand(node.field, catalog)
            return compare(operand, typ, node.op, node.value, ctx.as_of)
        case TopCondition():
            return top_predicate(node, ctx)
        case EventCondition():
            return behaviour.member_predicate(behaviour.event_aggregate(node, ctx), ctx)
        case NotPerformedCondition():
            agg = behaviour.not_performed_aggregate(node, ctx)
            return behaviour.member_predicate(agg, ctx)
        case EventTimeCondition():
            agg = behaviour.event_time_aggregate(node, ctx)
            return behaviour.member_predicate(agg, ctx)
        case PurchaseCondition():
            agg = behaviour.purchase_aggregate(node, ctx)
            return behaviour.member_predicate(agg, ctx)
        case PurchaseTimeCondition():
            agg = behaviour.purchase_time_aggregate(node, ctx)
            return behaviour.member_predicate(agg, ctx)
        case MessageCondition():
            agg = behaviour.message_aggregate(node, ctx)
            return behaviour.member_predicate(agg, ctx)
        case ConsentCondition():
            agg = behaviour.consent_aggregate(node, ctx)
            return behaviour.member_predicate(agg, ctx)
        case LocationCondition():
            return location_predicate(node)
        case NearCondition():
            return near_predicate(node)
        case RandomBucket():
            return random_predicate(node, ctx.dialect)
        case SegmentRef():
            inner = ctx.entering(node.name)
            return compile_condition(ctx.referenced(node.name), inner, catalog)
        case AllOf():
            parts = [exp.paren(compile_condition(c, ctx, catalog)) for c in node.conditions]
            return exp.and_(*parts, copy=False) if parts else exp.true()
        case AnyOf():
            parts = [exp.paren(compile_condition(c, ctx, catalog)) for c in node.conditions]
            return exp.or_(*parts, copy=False) if parts else exp.false()
        case Not():
            return negate(compile_condition(node.condition, ctx, catalog))
        case _:
            assert_never(node)


def top_predicate(node: TopCondition, ctx: CompileContext) -> exp.Expr:
    """Rank (ties share the lowest rank) ≤ ⌈share · n⌉ among customers with a value.

    The share is cast to DECIMAL so ``0.01 · 1000`` is exactly 10 (in binary floating point
    it is 10.000000000000002, whose ceiling would admit an 11th customer).
    """
    rank, ranked = ctx.plan.rank(node.field)
    share = exp.cast(exp.Literal.string(repr(float(node.share))), "DECIMAL(18,9)")
    return two_valued(rank <= exp.Ceil(this=exp.Mul(this=share, expression=ranked)))


def location_predicate(node: LocationCondition) -> exp.Expr:
    """Case-insensitive match of every given list (``country: [DE, AT]`` and ``city: …``)."""
    parts: list[exp.Expr] = []
    for column, wanted in (("country", node.country), ("region", node.region), ("city", node.city)):
        if wanted:
            values = [exp.Lower(this=exp.Literal.string(w)) for w in wanted]
            parts.append(exp.Lower(this=customer_column(column)).isin(*values))
    return two_valued(exp.and_(*parts)) if parts else exp.true()


def near_predicate(node: NearCondition) -> exp.Expr:
    distance = haversine_km(
        customer_column("latitude"), customer_column("longitude"), node.latitude, node.longitude
    )
    return two_valued(distance <= number_literal(float(node.radius_km)))


def random_predicate(node: RandomBucket, dialect: str) -> exp.Expr:
    """``offset ≤ bucket < offset + share``, the bucket of `cvm.core.hashing.bucket_sql`."""
    bucket = bucket_sql(node.salt, customer_column("customer_id"), dialect)
    low = number_literal(float(node.offset))
    high = number_literal(float(node.offset + node.share))
    return exp.and_(exp.paren(bucket) >= low, exp.paren(bucket.copy()) < high)


def _from_customers(ctx: CompileContext, *columns: exp.Expr) -> exp.Select:
    """``SELECT columns FROM customer_360 AS c LEFT JOIN <the plan's aggregates and ranks>``."""
    query = exp.select(*columns).from_(exp.to_table(CUSTOMER_360_VIEW).as_(C360_ALIAS))
    restriction = ctx.restriction(exp.column("customer_id"))
    for subquery, alias in ctx.plan.joins(dict(ctx.tables), restriction, CUSTOMER_360_VIEW):
        on = exp.column("customer_id", table=alias).eq(customer_column("customer_id"))
        query = query.join(subquery, on=on, join_type="left", copy=False)
    return query


def compile_segment(
    node: Node, ctx: CompileContext, catalog: FieldCatalog | None = None
) -> exp.Select:
    """``SELECT c.customer_id FROM customer_360 AS c … WHERE <rule>`` (one row per member)."""
    ctx = ctx.fresh()
    predicate = compile_condition(node, ctx, catalog)
    where = [predicate, *ctx.restriction(customer_column("customer_id"))]
    query = _from_customers(ctx, customer_column("customer_id"))
    return query.where(exp.and_(*where, copy=False), copy=False)


def compile_flags(
    nodes: dict[str, Node], ctx: CompileContext, catalog: FieldCatalog | None = None
) -> tuple[exp.Select, dict[str, str]]:
    """One row per customer with a true/false column per node: many segments in one query,
    sharing every scan. Returns the query and node key → column name (``f0``, ``f1``, …)."""
    ctx = ctx.fresh()
    names = {key: f"f{i}" for i, key in enumerate(nodes)}
    flags = [compile_condition(n, ctx, catalog).as_(names[k]) for k, n in nodes.items()]
    query = _from_customers(ctx, customer_column("customer_id"), *flags)
    restriction = ctx.restriction(customer_column("customer_id"))
    return (query.where(exp.and_(*restriction), copy=False) if restriction else query), names


def make_context(
    as_of: dt.datetime | None = None,
    *,
    dialect: str = "duckdb",
    consent_policy: ConsentPolicy = "opt_in",
    resolve: Callable[[str], Node] | None = None,
    customer_ids: list[str] | tuple[str, ...] | None = None,
) -> CompileContext:
    return CompileContext(
        as_of=utc_naive(as_of),
        dialect=dialect,
        consent_policy=consent_policy,
        resolve=resolve,
        customer_ids=tuple(customer_ids) if customer_ids is not None else None,
    )
