"""Plain-words text for one leaf and one customer: the value found and what the rule needs.

``clv = 812.40 ≥ 500``; ``performed email_opened 0 times in the last 30 days, needs ≥ 1``.
The values come from the explainer (`cvm.segments.explain`), i.e. from the compiler's own
expressions; this module only words them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, assert_never

import sqlglot.expressions as exp

from cvm.core.hashing import stable_bucket
from cvm.segments import behaviour
from cvm.segments.compile import customer_column, profile_operand
from cvm.segments.definition import (
    ConsentCondition,
    EventCondition,
    EventTimeCondition,
    Leaf,
    LocationCondition,
    MessageCondition,
    NearCondition,
    NotPerformedCondition,
    ProfileCondition,
    PurchaseCondition,
    PurchaseTimeCondition,
    RandomBucket,
    SegmentRef,
    TopCondition,
    Window,
)
from cvm.segments.predicates import haversine_km

if TYPE_CHECKING:
    from cvm.segments.explain import Explainer

SYMBOLS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "at_least": "≥",
    "at_most": "≤",
    "exactly": "=",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
    "starts_with": "starts with",
}


def fmt(value: object) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def window_words(window: Window | None) -> str:
    if window is None:
        return "ever"
    if window.days is not None:
        return f"in the last {window.days} days"
    if window.min_days_ago is not None or window.max_days_ago is not None:
        low = window.min_days_ago or 0
        high = f"{window.max_days_ago}" if window.max_days_ago is not None else "∞"
        return f"{low}-{high} days ago"
    start = window.from_.isoformat() if window.from_ else "the start"
    end = window.to.isoformat() if window.to else "as_of"
    return f"from {start} to {end}"


def _test(op: str, target: object) -> str:
    if op == "between" and isinstance(target, list):
        return f"between {fmt(target[0])} and {fmt(target[1])}"
    return f"{SYMBOLS.get(op, op)} {fmt(target)}"


def _cutoff(op: str, date: dt.date | None, days_ago: int | None) -> str:
    return f"{op} {date.isoformat()}" if date else f"{op} {days_ago} days ago"


def _profile(node: ProfileCondition, ex: Explainer) -> str:
    (value,) = ex.scalar(profile_operand(node.field, ex.catalog))
    shown = f"{node.field} = {fmt(value)}"
    if node.op in ("is_set", "not_set"):
        return f"{shown}, needs {'set' if node.op == 'is_set' else 'not set'}"
    if node.op in ("within_days", "older_than_days"):
        words = "within the last" if node.op == "within_days" else "more than"
        return (
            f"{shown}, needs {words} {node.value} days{' ago' if node.op != 'within_days' else ''}"
        )
    return f"{shown} {_test(node.op, node.value)}"


def _top(node: TopCondition, ex: Explainer) -> str:
    value = exp.column(node.field, quoted=True)
    rank = (
        exp.select(
            exp.column("customer_id"),
            value.as_("v"),
            exp.Window(
                this=exp.Rank(),
                order=exp.Order(expressions=[exp.Ordered(this=value.copy(), desc=True)]),
                over="OVER",
            ).as_("r"),
            exp.Window(this=exp.Count(this=value.copy()), over="OVER").as_("n"),
        )
        .from_("customer_360")
        .where(exp.not_(exp.Is(this=value.copy(), expression=exp.null())))
    )
    query = (
        exp.select("v", "r", "n")
        .from_(rank.subquery("ranked"))
        .where(exp.column("customer_id").eq(exp.Literal.string(ex.customer_id)))
    )
    rows = ex.store.engine.fetch_rows(query)
    if not rows:
        return f"{node.field} is not set, needs top {node.share:.2%}"
    v, r, n = rows[0]
    return f"{node.field} = {fmt(v)} ranks {r} of {n}, needs top {node.share:.2%}"


def _events(node: EventCondition | NotPerformedCondition, ex: Explainer) -> str:
    if isinstance(node, EventCondition):
        count = ex.aggregate(behaviour.event_aggregate(node, ex.ctx))
        need = _test(node.op, node.times)
    else:
        count = ex.aggregate(behaviour.not_performed_aggregate(node, ex.ctx))
        need = "none"
    return f"performed {node.name} {count} times {window_words(node.window)}, needs {need}"


def _event_time(node: EventTimeCondition | PurchaseTimeCondition, ex: Explainer) -> str:
    if isinstance(node, EventTimeCondition):
        moment = ex.aggregate(behaviour.event_time_aggregate(node, ex.ctx))
        what = f"{node.which} {node.name}"
    else:
        moment = ex.aggregate(behaviour.purchase_time_aggregate(node, ex.ctx))
        what = f"{node.which} purchase" + (
            f" in {', '.join(node.category)}" if node.category else ""
        )
    if moment is None:
        return f"no {what} yet, needs {_cutoff(node.op, node.date, node.days_ago)}"
    return f"{what} at {fmt(moment)}, needs {_cutoff(node.op, node.date, node.days_ago)}"


def _purchase(node: PurchaseCondition, ex: Explainer) -> str:
    value = ex.aggregate(behaviour.purchase_aggregate(node, ex.ctx))
    scope = "".join(
        f" in {label} {', '.join(items)}"
        for label, items in (("category", node.category), ("product", node.product))
        if items
    )
    measure = {"count": "orders", "spend": "spend", "quantity": "units"}[node.measure]
    return f"{measure}{scope} {window_words(node.window)} = {fmt(value)}, needs {_test(node.op, node.value)}"


def _message(node: MessageCondition, ex: Explainer) -> str:
    count = ex.aggregate(behaviour.message_aggregate(node, ex.ctx))
    channel = f"{node.channel} " if node.channel else ""
    return f"{node.action} {count} {channel}messages {window_words(node.window)}, needs {_test(node.op, node.times)}"


def _consent(node: ConsentCondition, ex: Explainer) -> str:
    agg = behaviour.consent_aggregate(node, ex.ctx)
    latest = (
        exp.select("status", "channel", "occurred_at")
        .from_(ex.ctx.table("consents"))
        .where(
            exp.and_(
                exp.column("customer_id").eq(exp.Literal.string(ex.customer_id)),
                *agg.filters,
            )
        )
        .order_by(
            exp.column("occurred_at").desc(), exp.column("status").eq(exp.Literal.string("granted"))
        )
    )
    rows = ex.store.engine.fetch_rows(latest.limit(1))
    if not rows:
        outcome = "reachable" if ex.ctx.consent_policy == "opt_out" else "not reachable"
        return f"no {node.channel}/{node.purpose} consent recorded; policy {ex.ctx.consent_policy} → {outcome}"
    status, channel, moment = rows[0]
    return f"latest {node.purpose} consent on {channel}: {status} at {fmt(moment)}"


def describe_leaf(node: Leaf, ex: Explainer) -> str:
    match node:
        case ProfileCondition():
            return _profile(node, ex)
        case TopCondition():
            return _top(node, ex)
        case EventCondition() | NotPerformedCondition():
            return _events(node, ex)
        case EventTimeCondition() | PurchaseTimeCondition():
            return _event_time(node, ex)
        case PurchaseCondition():
            return _purchase(node, ex)
        case MessageCondition():
            return _message(node, ex)
        case ConsentCondition():
            return _consent(node, ex)
        case LocationCondition():
            found = ex.scalar(*(customer_column(c) for c in ("country", "region", "city")))
            wanted = {"country": node.country, "region": node.region, "city": node.city}
            needs = "; ".join(f"{k} in {fmt(v)}" for k, v in wanted.items() if v)
            return f"country {fmt(found[0])}, region {fmt(found[1])}, city {fmt(found[2])}; needs {needs}"
        case NearCondition():
            lat, lon = customer_column("latitude"), customer_column("longitude")
            (km,) = ex.scalar(haversine_km(lat, lon, node.latitude, node.longitude))
            where = f"({node.latitude}, {node.longitude})"
            if km is None:
                return f"no coordinates, needs within {node.radius_km:g} km of {where}"
            return f"{fmt(float(km))} km from {where}, needs ≤ {node.radius_km:g} km"  # type: ignore[arg-type]
        case RandomBucket():
            bucket = stable_bucket(node.salt, ex.customer_id)
            high = node.offset + node.share
            return f"bucket({node.salt!r}) = {bucket:.4f}, needs in [{node.offset:g}, {high:g})"
        case SegmentRef():
            return f"member of segment {node.name!r}"
        case _:
            assert_never(node)
