"""Which segments can change only when new data arrives (event-driven) and which also change
as time passes (scheduled).

A segment is **event-driven** when it tests behaviour (events, messages, purchases) and no
condition can become true by the clock alone: counts of "at least N" over the last D days, "last
performed after N days ago", fixed dates. A customer enters such a segment only when something
happens to them, so `membership.refresh_event_driven` re-evaluates just those customers as
events arrive. It is **scheduled** when any condition can become true with time only — absence
("not performed in 30 days", "at most N"), "last purchase before N days ago", windows that
reach back ("more than 270 days ago"), relative date comparisons — or when it tests profiles
only (they change when the value stage runs). Scheduled segments are refreshed by the periodic
`membership.refresh_memberships`, which also records the exits of event-driven segments as their
windows slide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, assert_never

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
    Window,
    walk,
)

Schedule = Literal["event_driven", "scheduled"]
Resolve = Callable[[str], Node]
_RISING = {"at_least", "gt", "gte"}
_FALLING = {"at_most", "lt", "lte"}
BEHAVIOUR_KINDS = {"event", "not_performed", "event_time", "message", "purchase", "purchase_time"}


def _window_moves(window: Window | None) -> tuple[bool, bool]:
    """(count may rise, count may fall) as ``as_of`` advances with no new rows."""
    if window is None:
        return False, False
    rises = window.min_days_ago is not None  # old rows enter the window
    falls = window.days is not None or window.max_days_ago is not None  # rows leave it
    return rises, falls


def _count_turns_true(op: str, window: Window | None, negated: bool) -> bool:
    rises, falls = _window_moves(window)
    if negated:
        rises, falls = falls, rises
    if op in _RISING:
        return rises
    if op in _FALLING:
        return falls
    return rises or falls  # exactly / eq / ne / between can be reached from either side


def turns_true_with_time(node: Node, resolve: Resolve, negated: bool = False) -> bool:
    """Whether the clock alone can make this node (or its negation) true for a customer."""
    match node:
        case EventCondition() | MessageCondition():
            return _count_turns_true(node.op, node.window, negated)
        case NotPerformedCondition():
            return _count_turns_true("at_most", node.window, negated)
        case PurchaseCondition():
            if node.measure != "count":
                # returns inside the window make spend non-monotone: call it time-dependent
                return any(_window_moves(node.window))
            return _count_turns_true(node.op, node.window, negated)
        case EventTimeCondition() | PurchaseTimeCondition():
            if node.days_ago is None:
                return False
            # "before N days ago" turns true as the cut-off passes the last time;
            # "after N days ago" turns false, so its negation turns true.
            return (node.op == "before") != negated
        case ProfileCondition():
            if node.op == "older_than_days":
                return not negated
            if node.op == "within_days":
                return negated
            return False
        case (
            TopCondition()
            | LocationCondition()
            | NearCondition()
            | ConsentCondition()
            | RandomBucket()
        ):
            return False
        case SegmentRef():
            return turns_true_with_time(resolve(node.name), resolve, negated)
        case AllOf() | AnyOf():
            return any(turns_true_with_time(c, resolve, negated) for c in node.conditions)
        case Not():
            return turns_true_with_time(node.condition, resolve, not negated)
        case _:
            assert_never(node)


def uses_behaviour(node: Node, resolve: Resolve) -> bool:
    for _, item in walk(node):
        if item.kind in BEHAVIOUR_KINDS:
            return True
        if isinstance(item, SegmentRef) and uses_behaviour(resolve(item.name), resolve):
            return True
    return False


def classify(node: Node, resolve: Resolve) -> Schedule:
    """``event_driven`` or ``scheduled`` (see the module docstring)."""
    if uses_behaviour(node, resolve) and not turns_true_with_time(node, resolve):
        return "event_driven"
    return "scheduled"
