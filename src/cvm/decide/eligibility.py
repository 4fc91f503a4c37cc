"""Who may get which offer: one row per customer with everything a decision needs.

`feature_query` builds a single SELECT over ``customer_360 AS c`` (the segments' compiler
alias) with, per customer:

- profile fields (time zone, CLV, order value, a segment label for the allocation summary);
- ``e_<i>``: offer *i*'s eligibility rule, compiled by the segments' compiler
  (`cvm.segments.compile.compile_condition`) — decisioning has no rule language of its own;
- ``u_<i>``: offer *i*'s uplift score ``profiles.uplift[key]`` (NULL when absent);
- ``a_<channel>``: an address to send to (e-mail, phone);
- ``r_<j>``: consent for (channel, purpose) pair *j* (`cvm.decide.policy_sql`);
- ``n_<j>``: messages counting towards frequency cap *j*;
- ``cooldown`` and ``global_control``.

The batch run reads it for everyone; the real-time decider loads it once into memory and keeps
it fresh (`cvm.decide.realtime`), so both decide on the same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot.expressions as exp

from cvm.decide.config import DecideSettings
from cvm.decide.contact_policy import OUTBOUND_CHANNELS
from cvm.decide.control_groups import global_control_sql
from cvm.decide.offers import Offer
from cvm.decide.policy_sql import consent_latest, cooldown_customers, history_counts, reachable
from cvm.profiles.contract import CUSTOMER_360_VIEW
from cvm.segments.compile import compile_condition, customer_column
from cvm.segments.context import C360_ALIAS, CompileContext
from cvm.segments.fields import json_path
from cvm.segments.predicates import two_valued

ADDRESS_COLUMNS: dict[str, str] = {"email": "email", "sms": "phone", "phone": "phone"}
"""Outbound channels that need an address on the customer row (others are app/device based)."""
SEGMENT_LABEL = "rfm_segment"


@dataclass(frozen=True)
class FeatureLayout:
    """Which column holds what, for the offers and policy the query was built for."""

    offers: tuple[Offer, ...]
    reach: tuple[tuple[str, str], ...]  # (channel, purpose) per r_<j>
    n_caps: int

    def reach_index(self, channel: str, purpose: str) -> int | None:
        try:
            return self.reach.index((channel, purpose))
        except ValueError:
            return None


def layout_for(offers: Sequence[Offer], settings: DecideSettings) -> FeatureLayout:
    reach = sorted(
        {(ch, o.purpose) for o in offers for ch in o.channels if ch in OUTBOUND_CHANNELS}
    )
    return FeatureLayout(tuple(offers), tuple(reach), len(settings.policy.caps))


def uplift_value(key: str) -> exp.Expr:
    """``TRY_CAST(c.uplift ->> '$."key"' AS DOUBLE)``: NULL when the key or the JSON is absent."""
    extracted = exp.JSONExtractScalar(
        this=customer_column("uplift"), expression=exp.Literal.string(json_path(key))
    )
    return exp.TryCast(this=extracted, to=exp.DataType.build("DOUBLE"))


def _joined(column: str, alias: str) -> exp.Expr:
    return exp.column(column, table=alias)


def feature_query(
    layout: FeatureLayout,
    settings: DecideSettings,
    ctx: CompileContext,
    *,
    consent_policy: str,
    day: dt.date,
) -> exp.Select:
    """The per-customer decision features at ``ctx.as_of`` (see the module docstring)."""
    as_of = ctx.as_of
    cid = customer_column("customer_id")
    columns: list[exp.Expr] = [
        cid.as_("customer_id"),
        customer_column("time_zone").as_("time_zone"),
        exp.cast(customer_column("clv"), "DOUBLE").as_("clv"),
        exp.cast(customer_column("avg_order_value"), "DOUBLE").as_("avg_order_value"),
        exp.func("COALESCE", customer_column(SEGMENT_LABEL), exp.Literal.string("unknown")).as_(
            "segment"
        ),
    ]
    for i, offer in enumerate(layout.offers):
        rule = (
            exp.true()
            if offer.eligibility is None
            else two_valued(compile_condition(offer.eligibility, ctx))
        )
        columns.append(exp.paren(rule).as_(f"e_{i}"))
        columns.append(uplift_value(offer.uplift_key).as_(f"u_{i}"))
    for channel, column in sorted(ADDRESS_COLUMNS.items()):
        present = exp.not_(exp.Is(this=customer_column(column), expression=exp.null()))
        columns.append(present.as_(f"a_{channel}"))
    opt_out = consent_policy == "opt_out"
    for j in range(len(layout.reach)):
        columns.append(reachable("k", j, opt_out).as_(f"r_{j}"))
    for name in [f"n_{j}" for j in range(layout.n_caps)] + ["n_week"]:
        columns.append(exp.func("COALESCE", _joined(name, "h"), exp.Literal.number(0)).as_(name))
    cooldown = cooldown_customers(settings.policy.cooldowns, as_of)
    columns.append(
        (
            exp.not_(exp.Is(this=_joined("customer_id", "cd"), expression=exp.null()))
            if cooldown
            else exp.false()
        ).as_("cooldown")
    )
    gc = global_control_sql(cid.copy(), settings.control.global_, day, ctx.dialect)
    columns.append(exp.paren(gc).as_("global_control"))

    query = exp.select(*columns).from_(exp.to_table(CUSTOMER_360_VIEW).as_(C360_ALIAS))

    def join(sub: exp.Select, alias: str) -> None:
        nonlocal query
        if ctx.customer_ids is not None:
            sub = sub.where(exp.and_(*ctx.restriction(exp.column("customer_id"))))
        query = query.join(
            sub.subquery(alias),
            on=_joined("customer_id", alias).eq(cid.copy()),
            join_type="left",
        )

    if layout.reach:
        join(consent_latest(layout.reach, as_of), "k")
    # caps and contact pressure both read the history
    join(history_counts(settings.policy.caps, as_of), "h")
    if cooldown is not None:
        join(cooldown, "cd")
    restriction = ctx.restriction(cid.copy())
    if restriction:
        query = query.where(exp.and_(*restriction))
    return query.order_by(cid.copy())
