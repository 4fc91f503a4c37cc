"""The contact policy in SQL for a whole customer base (one scan per table, joined by id).

Same rules as `cvm.decide.contact_policy`, which the real-time decider applies in Python:

- consent: the latest decision for (channel or ``all``, purpose) up to ``as_of`` wins, a denial
  at the same instant as a grant wins, no decision → the workspace policy (the segments'
  ``consent`` condition reads the same way);
- caps: ``sent`` and ``scheduled`` messages of the cap's purposes on its channels within
  ``(s − W, s + W)`` of the send time ``s``;
- cool-downs: a listed event within the cool-down before ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlglot.expressions as exp

from cvm.decide.contact_policy import (
    COUNTED_STATUSES,
    OUTBOUND_CHANNELS,
    Cooldown,
    FrequencyCap,
)
from cvm.decide.tables import CONTACT_HISTORY
from cvm.segments.predicates import timestamp_literal


def _strings(values: Sequence[str]) -> list[exp.Expr]:
    return [exp.Literal.string(v) for v in values]


def _sum_if(condition: exp.Expr) -> exp.Expr:
    return exp.Sum(
        this=exp.If(this=condition, true=exp.Literal.number(1), false=exp.Literal.number(0))
    )


def cap_channels(cap: FrequencyCap) -> list[str]:
    return list(OUTBOUND_CHANNELS) if cap.channels == "all" else list(cap.channels)


def history_counts(caps: Sequence[FrequencyCap], send_at: dt.datetime) -> exp.Select:
    """``customer_id, n_0, n_1, …``: messages counting towards each cap for a send at ``send_at``."""
    at = exp.column("at", quoted=True)
    longest = max((c.days for c in caps), default=1.0)
    columns: list[exp.Expr] = [exp.column("customer_id")]
    for i, cap in enumerate(caps):
        window = dt.timedelta(days=cap.days)
        cond = exp.and_(
            exp.column("channel").isin(*_strings(cap_channels(cap))),
            exp.column("purpose").isin(*_strings(cap.purposes)),
            at > timestamp_literal(send_at - window),
            at < timestamp_literal(send_at + window),
        )
        columns.append(_sum_if(cond).as_(f"n_{i}"))
    # contact pressure: marketing messages in the 7 days before the send, any channel
    week = exp.and_(
        exp.column("purpose").eq(exp.Literal.string("marketing")),
        at > timestamp_literal(send_at - dt.timedelta(days=7)),
        at <= timestamp_literal(send_at),
    )
    columns.append(_sum_if(week).as_("n_week"))
    longest = max(longest, 7.0)
    span = dt.timedelta(days=longest)
    return (
        exp.select(*columns)
        .from_(exp.to_table(CONTACT_HISTORY.name))
        .where(
            exp.and_(
                exp.column("status").isin(*_strings(COUNTED_STATUSES)),
                at > timestamp_literal(send_at - span),
                at < timestamp_literal(send_at + span),
            )
        )
        .group_by(exp.column("customer_id"))
    )


def consent_latest(reach: Sequence[tuple[str, str]], as_of: dt.datetime) -> exp.Select:
    """``customer_id, g_0, d_0, …``: latest grant and denial time per (channel, purpose)."""
    columns: list[exp.Expr] = [exp.column("customer_id")]
    for i, (channel, purpose) in enumerate(reach):
        for prefix, status in (("g", "granted"), ("d", "denied")):
            cond = exp.and_(
                exp.column("status").eq(exp.Literal.string(status)),
                exp.column("channel").isin(*_strings([channel, "all"])),
                exp.column("purpose").eq(exp.Literal.string(purpose)),
            )
            columns.append(
                exp.Max(this=exp.If(this=cond, true=exp.column("occurred_at"))).as_(f"{prefix}_{i}")
            )
    return (
        exp.select(*columns)
        .from_(exp.to_table("consents"))
        .where(exp.column("occurred_at") <= timestamp_literal(as_of))
        .group_by(exp.column("customer_id"))
    )


def reachable(alias: str, i: int, opt_out: bool) -> exp.Expr:
    """Reachable on pair ``i`` from the `consent_latest` columns of table ``alias``."""
    granted = exp.column(f"g_{i}", table=alias)
    denied = exp.column(f"d_{i}", table=alias)
    never = timestamp_literal(dt.datetime(1, 1, 1))
    decided = exp.func(
        "COALESCE", granted > exp.func("COALESCE", denied.copy(), never), exp.false()
    )
    unknown = exp.and_(
        exp.Is(this=granted.copy(), expression=exp.null()),
        exp.Is(this=denied.copy(), expression=exp.null()),
    )
    return exp.If(this=unknown, true=exp.Boolean(this=opt_out), false=decided)


def cooldown_customers(cooldowns: Sequence[Cooldown], as_of: dt.datetime) -> exp.Select | None:
    """``customer_id`` of everyone in a cool-down at ``as_of`` (None: no cool-downs)."""
    if not cooldowns:
        return None
    at = exp.column("occurred_at")
    parts = [
        exp.and_(
            exp.column("name").isin(*_strings(rule.events)),
            at > timestamp_literal(as_of - dt.timedelta(days=rule.days)),
            at <= timestamp_literal(as_of),
        )
        for rule in cooldowns
    ]
    return (
        exp.select(exp.column("customer_id"))
        .distinct()
        .from_(exp.to_table("events"))
        .where(
            exp.and_(
                exp.not_(exp.Is(this=exp.column("customer_id"), expression=exp.null())),
                exp.or_(*parts),
            )
        )
    )
