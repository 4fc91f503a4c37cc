"""Who a campaign run sends to, on which channel, and when.

One warehouse query gathers the candidates (segment members or the day's decisions) with the
profile fields the templates read, the consent in force per channel (the decide stage's SQL:
latest decision for the channel or ``all``, denial wins a tie, workspace policy otherwise),
the messages counting towards each frequency cap, and cool-downs. Then, per customer and in
this order: the global control group (`cvm.decide.control_groups`) and the campaign's own
holdout (``bucket("campaign:<id>:<salt>", customer) < control_share``, `cvm.core.hashing`) are
held out; a cool-down excludes; the first channel in the campaign's fallback order with an
address, consent, no suppression and room under every cap is chosen; the budget keeps the most
valuable (CLV) first (candidates arrive in that order). The send time is the schedule's moment (in the customer's own time zone
when the schedule is local) moved out of quiet hours (`cvm.decide.contact_policy`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot.expressions as exp

from cvm.campaigns.campaign import (
    AtSchedule,
    Campaign,
    DecisionsAudience,
    RecurringSchedule,
    SegmentAudience,
)
from cvm.channels.registry import ADDRESS_FIELD, CONSENT_CHANNEL
from cvm.core.hashing import stable_buckets
from cvm.decide.config import DecideSettings
from cvm.decide.contact_policy import next_allowed_send_time, zone
from cvm.decide.control_groups import global_control_mask
from cvm.decide.policy_sql import consent_latest, cooldown_customers, history_counts, reachable
from cvm.engine.base import Engine
from cvm.segments.predicates import date_literal

ALWAYS = ("customer_id", "email", "phone", "traits", "time_zone", "language", "clv")


@dataclass
class Recipient:
    customer_id: str
    channel: str
    address: str
    language: str | None
    time_zone: str | None
    not_before: dt.datetime
    profile: dict[str, Any]
    offer_id: str | None = None
    event: dict[str, Any] | None = None
    step: str = ""
    trigger_at: dt.datetime | None = None


@dataclass
class Selection:
    recipients: list[Recipient] = field(default_factory=list)
    # (customer_id, arm, channel, status, reason)
    others: list[tuple[str, str, str | None, str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"queued": len(self.recipients)}
        for _, arm, _, status, reason in self.others:
            label = arm if status == "held_out" else reason.split(":")[0]
            out[label] = out.get(label, 0) + 1
        return out


def holdout_salt(campaign: Campaign) -> str:
    return f"campaign:{campaign.id}:{campaign.control_salt}"


def traits_of(profile: dict[str, Any]) -> dict[str, Any]:
    raw = profile.get("traits")
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def address_of(profile: dict[str, Any], channel: str) -> str | None:
    source = ADDRESS_FIELD[channel]
    if source.startswith("traits."):
        value = traits_of(profile).get(source.removeprefix("traits."))
    else:
        value = profile.get(source)
    text = str(value).strip() if value is not None else ""
    return text or None


def candidate_query(
    campaign: Campaign,
    columns: Sequence[str],
    members: exp.Select,
    settings: DecideSettings,
    as_of: dt.datetime,
) -> exp.Select:
    """Profile columns ⋈ members ⋈ consent flags ⋈ cap counts ⋈ cool-down flag."""
    pairs = sorted({(CONSENT_CHANNEL[c], campaign.purpose) for c in campaign.channels})
    cid = exp.column("customer_id", table="c")
    selected: list[exp.Expr] = [exp.column(c, table="c").as_(c) for c in columns]
    selected += [exp.column(c, table="m").as_(c) for c in ("offer_id", "decided_channel")]
    for i, _ in enumerate(pairs):
        selected.append(reachable("k", i, opt_out=False).as_(f"granted_{i}"))
        selected.append(
            exp.Is(this=exp.column(f"g_{i}", table="k"), expression=exp.null())
            .and_(exp.Is(this=exp.column(f"d_{i}", table="k"), expression=exp.null()))
            .as_(f"undecided_{i}")
        )
    caps = settings.policy.caps
    selected += [exp.column(f"n_{i}", table="h").as_(f"n_{i}") for i in range(len(caps))]
    query = (
        exp.select(*selected)
        .from_(exp.to_table("customer_360").as_("c"))
        .join(members.subquery("m"), on=exp.column("customer_id", table="m").eq(cid))
        .join(
            consent_latest(pairs, as_of).subquery("k"),
            on=exp.column("customer_id", table="k").eq(cid),
            join_type="left",
        )
    )
    if caps:
        query = query.join(
            history_counts(caps, as_of).subquery("h"),
            on=exp.column("customer_id", table="h").eq(cid),
            join_type="left",
        )
    cool = cooldown_customers(settings.policy.cooldowns, as_of)
    if cool is not None and campaign.purpose == "marketing":
        query = query.join(
            cool.subquery("cd"), on=exp.column("customer_id", table="cd").eq(cid), join_type="left"
        ).select(
            exp.not_(exp.Is(this=exp.column("customer_id", table="cd"), expression=exp.null())).as_(
                "cooling"
            )
        )
    return query


def members_query(engine: Engine, campaign: Campaign, as_of: dt.datetime, store: Any) -> exp.Select:
    """``customer_id, offer_id, decided_channel`` of the run's audience."""
    audience = campaign.audience
    if isinstance(audience, SegmentAudience):
        from cvm.segments.compile import compile_segment

        compiled = compile_segment(
            store.resolve(audience.segment), store.context(as_of).entering(audience.segment)
        )
        members = compiled.subquery("seg")
        return exp.select(
            exp.column("customer_id", table="seg"),
            exp.cast(exp.Literal.string(campaign.offer or ""), "VARCHAR").as_("offer_id"),
            exp.cast(exp.null(), "VARCHAR").as_("decided_channel"),
        ).from_(members)
    assert isinstance(audience, DecisionsAudience)
    offer = audience.offer or campaign.offer
    day = as_of.date()
    latest = (
        exp.select(exp.column("run_id"))
        .from_("decision_runs")
        .where(exp.column("decision_date").eq(date_literal(day)))
        .order_by(exp.Ordered(this=exp.column("created_at"), desc=True))
        .limit(1)
    )
    where = [
        exp.column("decision_date").eq(date_literal(day)),
        exp.column("contact").eq(exp.true()),
        exp.column("run_id").eq(latest.subquery()),
    ]
    if offer:
        where.append(exp.column("offer_id").eq(exp.Literal.string(offer)))
    return (
        exp.select("customer_id", "offer_id", exp.column("channel").as_("decided_channel"))
        .from_("decisions")
        .where(exp.and_(*where))
    )


def send_time(
    campaign: Campaign, as_of: dt.datetime, tz: str | None, fallback: str, day: dt.date | None
) -> dt.datetime:
    """The schedule's moment for one customer (naive UTC), never before ``as_of``."""
    schedule = campaign.schedule
    if isinstance(schedule, AtSchedule):
        wall = schedule.at.replace(tzinfo=None)
        moment = _local_to_utc(wall, tz, fallback) if schedule.local else wall
    elif isinstance(schedule, RecurringSchedule):
        wall = dt.datetime.combine(day or as_of.date(), schedule.time)
        moment = _local_to_utc(wall, tz, fallback) if schedule.local else wall
    else:
        moment = as_of
    return max(moment, as_of)


def _local_to_utc(wall: dt.datetime, tz: str | None, fallback: str) -> dt.datetime:
    aware = wall.replace(tzinfo=zone(tz, fallback))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def select_recipients(
    campaign: Campaign,
    rows: Iterable[dict[str, Any]],
    *,
    as_of: dt.datetime,
    settings: DecideSettings,
    policy_mode: str,
    suppressed: Callable[[str, list[str]], set[str]],
    fallback_zone: str,
    day: dt.date | None = None,
    budget: BudgetState | None = None,
) -> Selection:
    """Apply holdouts, cool-downs, channel fallback, caps, budget and timing (see above)."""
    rows = list(rows)
    out = Selection()
    if not rows:
        return out
    ids = [str(r["customer_id"]) for r in rows]
    marketing = campaign.purpose == "marketing"
    global_mask = (
        global_control_mask(ids, settings.control.global_, as_of.date())
        if marketing and campaign.global_control
        else [False] * len(ids)
    )
    holdout = (
        stable_buckets(holdout_salt(campaign), ids) < campaign.control_share
        if campaign.control_share > 0
        else [False] * len(ids)
    )
    pairs = sorted({(CONSENT_CHANNEL[c], campaign.purpose) for c in campaign.channels})
    pair_index = {p[0]: i for i, p in enumerate(pairs)}
    bad: dict[str, set[str]] = {}
    for channel in campaign.channels:
        addresses = [a for r in rows if (a := address_of(r, channel))]
        bad[channel] = suppressed(channel, addresses)
    caps = settings.policy.caps
    chosen: list[Recipient] = []
    for row, cid, in_global, held in zip(rows, ids, global_mask, holdout, strict=True):
        if in_global:
            out.others.append((cid, "global_control", None, "held_out", "global control group"))
            continue
        if held:
            out.others.append((cid, "control", None, "held_out", "campaign holdout"))
            continue
        if marketing and row.get("cooling"):
            out.others.append((cid, "treatment", None, "excluded", "cool-down"))
            continue
        order = list(campaign.channels)
        decided = row.get("decided_channel")
        if decided in order:
            order.remove(decided)
            order.insert(0, decided)
        problems: list[str] = []
        picked: tuple[str, str] | None = None
        for channel in order:
            addr = address_of(row, channel)
            consent_ch = CONSENT_CHANNEL[channel]
            i = pair_index[consent_ch]
            granted = bool(row.get(f"granted_{i}")) or (
                policy_mode == "opt_out" and bool(row.get(f"undecided_{i}"))
            )
            if addr is None:
                problems.append(f"{channel}: no address")
            elif not granted:
                problems.append(f"{channel}: no consent")
            elif addr.lower() in bad[channel]:
                problems.append(f"{channel}: suppressed")
            elif marketing and any(
                cap.covers(consent_ch) and campaign.purpose in cap.purposes
                and int(row.get(f"n_{j}") or 0) >= cap.max
                for j, cap in enumerate(caps)
            ):  # fmt: skip
                problems.append(f"{channel}: frequency cap")
            else:
                picked = (channel, addr)
                break
        if picked is None:
            reason = "unreachable: " + "; ".join(problems)
            out.others.append((cid, "treatment", None, "excluded", reason))
            continue
        chosen.append(
            Recipient(
                customer_id=cid, channel=picked[0], address=picked[1],
                language=row.get("language"), time_zone=row.get("time_zone"),
                not_before=as_of, profile=row, offer_id=row.get("offer_id") or campaign.offer,
            )
        )  # fmt: skip
    chosen = _within_budget(campaign, chosen, out, budget)
    _schedule(campaign, chosen, as_of, settings, fallback_zone, day)
    out.recipients = chosen
    return out


@dataclass
class BudgetState:
    """Messages and cost already committed; candidates arrive most valuable first."""

    messages: int = 0
    cost: float = 0.0

    @classmethod
    def from_spent(cls, campaign: Campaign, spent: dict[str, int]) -> BudgetState:
        costs = campaign.budget.costs
        return cls(sum(spent.values()), sum(n * costs.get(ch, 0.0) for ch, n in spent.items()))


def _within_budget(
    campaign: Campaign, chosen: list[Recipient], out: Selection, state: BudgetState | None
) -> list[Recipient]:
    budget = campaign.budget
    state = state or BudgetState()
    kept: list[Recipient] = []
    for r in chosen:
        price = budget.costs.get(r.channel, 0.0)
        over_count = budget.max_messages is not None and state.messages >= budget.max_messages
        over_cost = budget.max_cost is not None and state.cost + price > budget.max_cost
        if over_count or over_cost:
            out.others.append((r.customer_id, "treatment", r.channel, "excluded", "budget"))
            continue
        kept.append(r)
        state.messages += 1
        state.cost += price
    return kept


def _schedule(
    campaign: Campaign,
    chosen: list[Recipient],
    as_of: dt.datetime,
    settings: DecideSettings,
    fallback: str,
    day: dt.date | None,
) -> None:
    quiet = settings.policy.quiet_hours if campaign.purpose == "marketing" else None
    memo: dict[str | None, dt.datetime] = {}
    for r in chosen:
        tz = r.time_zone or None
        if tz not in memo:
            moment = send_time(campaign, as_of, tz, fallback, day)
            memo[tz] = next_allowed_send_time(moment, tz, quiet, fallback)
        r.not_before = memo[tz]
