"""One real-time decision from one customer's feature row: the rules of `RealtimeDecider`.

Kept apart from the decider's loading and threading so the rules read top to bottom: which
offers may be considered, what each is worth, which one wins, and which control arm the
customer is in.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from cvm.core.hashing import stable_bucket
from cvm.decide.contact_policy import OUTBOUND_CHANNELS, check_contact
from cvm.decide.control_groups import offer_salt
from cvm.decide.eligibility import ADDRESS_COLUMNS
from cvm.decide.offers import Offer, active_offers
from cvm.decide.scoring import expected_cost, lever_factors, offer_values

if TYPE_CHECKING:
    from cvm.decide.realtime import RealtimeDecider, RealtimeDecision


def remaining_caps(
    decider: RealtimeDecider,
    values: dict[str, Any],
    recent: list[tuple[dt.datetime, str, str]],
    now: dt.datetime,
) -> list[int]:
    """Messages still allowed per cap: snapshot counts plus this process's own decisions."""
    out = []
    for j, cap in enumerate(decider.settings.policy.caps):
        used = float(values.get(f"n_{j}", 0.0) or 0.0)
        window = dt.timedelta(days=cap.days)
        used += sum(
            1
            for at, ch, purpose in recent
            if cap.covers(ch) and purpose in cap.purposes and now - window < at < now + window
        )
        out.append(int(cap.max - used))
    return out


def _value(offer: Offer, values: dict[str, Any]) -> float:
    clv = np.array([values.get("clv", math.nan)], dtype=float)
    aov = np.array([values.get("avg_order_value", math.nan)], dtype=float)
    return float(offer_values(offer, clv, aov)[0])


def choose(
    decider: RealtimeDecider,
    customer_id: str,
    row: int,
    values: dict[str, Any],
    recent: list[tuple[dt.datetime, str, str]],
    channel: str,
    context: str | None,
    now: dt.datetime,
) -> RealtimeDecision:
    from cvm.decide.realtime import RealtimeDecision

    settings = decider.settings
    layout = decider.layout
    remaining = remaining_caps(decider, values, recent, now)
    considered: list[dict[str, Any]] = []
    best: tuple[float, Offer, float, dt.datetime | None] | None = None
    index = {o.id: i for i, o in enumerate(layout.offers)}
    for offer in active_offers(decider.offers, now.date()):
        if channel not in offer.channels or (offer.contexts and context not in offer.contexts):
            continue
        i = index[offer.id]
        note: dict[str, Any] = {"offer": offer.id}
        considered.append(note)
        if not values.get(f"e_{i}", False):
            note["reason"] = "not eligible"
            continue
        if (
            offer.volume.max is not None
            and decider.volume(now.date(), offer.id) >= offer.volume.max
        ):
            note["reason"] = "daily volume reached"
            continue
        consented = True
        if channel in OUTBOUND_CHANNELS:
            j = layout.reach_index(channel, offer.purpose)
            consented = bool(j is not None and values.get(f"r_{j}", False))
            if channel in ADDRESS_COLUMNS and not values.get(f"a_{channel}", False):
                consented = False
        verdict = check_contact(
            channel=channel,
            purpose=offer.purpose,
            consented=consented,
            remaining=remaining,
            caps=settings.policy.caps,
            cooldown_reason="in a cool-down" if values.get("cooldown") else None,
            now_utc=now,
            time_zone=values.get("time_zone"),
            policy=settings.policy,
            fallback_zone=decider.timezone,
        )
        if not verdict.allowed:
            note["reason"] = verdict.reason
            continue
        raw = values.get(f"u_{i}", math.nan)
        uplift = offer.uplift.prior if raw is None or math.isnan(float(raw)) else float(raw)
        profit = uplift * _value(offer, values) - expected_cost(offer, channel)
        levers = lever_factors(offer, channel, settings)
        score = profit * float(np.prod(list(levers.values()))) if levers else profit
        note.update(score=round(score, 6), expected_profit=round(profit, 6))
        if score <= 0:
            note["reason"] = "not profitable"
            continue
        if best is None or score > best[0]:
            best = (score, offer, profit, verdict.send_after)
    decision_id = uuid.uuid4().hex
    g_share = settings.control.global_.share
    is_global = bool(values.get("global_control", False))
    if best is None:
        reason = "no eligible, allowed and profitable offer"
        prob = g_share if is_global else 1.0 - g_share
        return RealtimeDecision(decision_id, customer_id, channel, context, None, None, None, None,
                                False, is_global, prob, None, reason, considered)  # fmt: skip
    score, offer, profit, send_after = best
    share = offer.control_share if offer.control_share is not None else settings.control.offer_share
    if is_global:
        return RealtimeDecision(decision_id, customer_id, channel, context, None, offer.id, score,
                                profit, False, True, g_share, None,
                                "global control: not contacted (would-be offer logged)", considered)  # fmt: skip
    held = (
        share > 0 and stable_bucket(offer_salt(offer.id, offer.control_salt), customer_id) < share
    )
    if held:
        return RealtimeDecision(decision_id, customer_id, channel, context, None, offer.id, score,
                                profit, True, False, (1 - g_share) * share, None,
                                "offer control: held out", considered)  # fmt: skip
    return RealtimeDecision(decision_id, customer_id, channel, context, offer, offer.id, score,
                            profit, False, False, (1 - g_share) * (1 - share), send_after,
                            "highest expected incremental profit", considered)  # fmt: skip
