"""Expected incremental profit of every eligible (customer, offer, channel).

For customer *i*, offer *o*, channel *c*:

    profit = uplift_io · value_io − (contact_cost_oc + incentive_o · P(redeem | treated)_o)
    score  = profit · priority_o · lever_outcome(o) · lever_channel(c)

``uplift`` is the incremental probability of the offer's targeted outcome caused by the contact
(``profiles.uplift[key]`` from the uplift model, else the offer's prior); it is an estimate of
the conditional average treatment effect τ(x) = E[Y(1) − Y(0) | x] (Rubin 1974; Radcliffe &
Surry 2011, "Real-world uplift modelling with significance-based uplift trees", sec. 2).
Ranking by τ rather than by the response propensity E[Y(1) | x] is what makes a campaign
profitable: "sure things" respond anyway and only cost the incentive (Radcliffe & Surry, sec.
2.1). The incentive is paid by everyone who redeems, responders caused by the offer or not,
hence ``incentive · P(redeem | treated)`` is a cost of every contact.

``value`` follows the offer's value model: a fixed amount, margin × expected order value, or
margin × fraction × CLV. Business levers multiply the score (never the reported profit) and
are logged with every decision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cvm.decide.arbitration import Problem
from cvm.decide.config import DecideSettings
from cvm.decide.contact_policy import OUTBOUND_CHANNELS
from cvm.decide.eligibility import ADDRESS_COLUMNS, FeatureLayout
from cvm.decide.offers import ClvValue, FixedValue, Offer, OrderValue

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _float(table: pa.Table, name: str) -> FloatArray:
    # cast in Arrow: counts come back as DECIMAL (DuckDB's SUM), and NumPy would first make
    # a million Python Decimal objects of them
    column = table.column(name)
    if column.type != pa.float64():
        column = column.cast(pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _bool(table: pa.Table, name: str) -> BoolArray:
    col = table.column(name).fill_null(False)
    return col.to_numpy(zero_copy_only=False).astype(bool)


def offer_values(offer: Offer, clv: FloatArray, order_value: FloatArray) -> FloatArray:
    """Value of one incremental outcome per customer under the offer's value model."""
    model = offer.value
    if isinstance(model, FixedValue):
        return np.full(len(clv), model.amount)
    if isinstance(model, OrderValue):
        fallback = model.order_value or 0.0
        base = (
            np.where(np.isnan(order_value), fallback, order_value)
            if model.use_profile
            else np.full(len(clv), fallback)
        )
        return model.margin * np.maximum(base, 0.0)
    assert isinstance(model, ClvValue)
    return (
        model.margin
        * model.fraction
        * np.maximum(np.where(np.isnan(clv), model.default_clv, clv), 0.0)
    )


def expected_cost(offer: Offer, channel: str) -> float:
    return offer.channels[channel] + offer.incentive.cost * offer.incentive.redemption_probability


def lever_factors(offer: Offer, channel: str, settings: DecideSettings) -> dict[str, float]:
    """The levers applied to (offer, channel), by name (only those ≠ 1 are logged)."""
    levers = settings.arbitration.levers
    found = {
        "priority": offer.priority,
        f"outcome.{offer.outcome}": levers.outcome.get(offer.outcome, 1.0),
        f"channel.{channel}": levers.channel.get(channel, 1.0),
    }
    return {k: v for k, v in found.items() if v != 1.0}


@dataclass
class Candidates:
    """Scored pairs (full arrays) split into the treatable problem and the global control's.

    ``treat_index`` / ``shadow_index`` map the pairs of `problem` / `shadow` to the full arrays.
    """

    customer_ids: npt.NDArray[np.object_]
    segment: npt.NDArray[np.object_]
    time_zone: npt.NDArray[np.object_]
    global_control: BoolArray
    pressure: FloatArray  # marketing messages in the last 7 days, per customer
    problem: Problem
    treat_index: npt.NDArray[np.int64]
    shadow: Problem
    shadow_index: npt.NDArray[np.int64]
    uplift: FloatArray
    value: FloatArray
    profit: FloatArray
    lever: FloatArray
    modelled: BoolArray  # uplift from the model (True) or the offer's prior (False)
    levers_json: dict[tuple[int, int], str]
    dropped: dict[str, int] = field(default_factory=dict)


def build_candidates(
    features: pa.Table,
    layout: FeatureLayout,
    settings: DecideSettings,
    channels: Sequence[str] | None = None,
) -> Candidates:
    """Score every (customer, offer, channel) the policy allows (see the module docstring)."""
    n = features.num_rows
    offers = list(layout.offers)
    flags: dict[str, BoolArray] = {}

    def flag(name: str) -> BoolArray:  # each column converted once, read by many pairs
        if name not in flags:
            flags[name] = _bool(features, name)
        return flags[name]

    channel_names = sorted(channels or {c for o in offers for c in o.channels})
    policy = settings.policy
    clv, aov = _float(features, "clv"), _float(features, "avg_order_value")
    cooldown = _bool(features, "cooldown")
    remaining = [policy.caps[j].max - _float(features, f"n_{j}") for j in range(layout.n_caps)]
    parts: dict[str, list[npt.NDArray[np.generic]]] = {
        k: [] for k in ("c", "o", "h", "u", "v", "cost", "lev", "m")
    }
    dropped = {
        "not eligible": 0,
        "no consent or address": 0,
        "frequency cap": 0,
        "cool-down": 0,
        "not profitable": 0,
    }
    levers_json: dict[tuple[int, int], str] = {}
    customers = np.arange(n, dtype=np.int64)
    for i, offer in enumerate(offers):
        eligible = _bool(features, f"e_{i}")
        raw = _float(features, f"u_{i}")
        uplift = np.where(np.isnan(raw), offer.uplift.prior, raw)
        value = offer_values(offer, clv, aov)
        marketing = offer.purpose == "marketing"
        for ch in offer.channels:
            if ch not in channel_names:
                continue
            h = channel_names.index(ch)
            ok = eligible.copy()
            dropped["not eligible"] += int((~ok).sum())
            if ch in OUTBOUND_CHANNELS:
                j = layout.reach_index(ch, offer.purpose)
                reach = flag(f"r_{j}").copy() if j is not None else np.zeros(n, bool)
                if ch in ADDRESS_COLUMNS:
                    reach &= flag(f"a_{ch}")
                dropped["no consent or address"] += int((ok & ~reach).sum())
                ok &= reach
            if marketing:
                capped = np.zeros(n, bool)
                for j, cap in enumerate(policy.caps):
                    if cap.covers(ch) and offer.purpose in cap.purposes:
                        capped |= remaining[j] <= 0
                dropped["frequency cap"] += int((ok & capped).sum())
                ok &= ~capped
                dropped["cool-down"] += int((ok & cooldown).sum())
                ok &= ~cooldown
            levers = lever_factors(offer, ch, settings)
            lever = float(np.prod(list(levers.values()))) if levers else 1.0
            levers_json[(i, h)] = json.dumps(levers, sort_keys=True)
            cost = expected_cost(offer, ch)
            profit = uplift * value - cost
            keep = ok & (profit * lever > 0)
            dropped["not profitable"] += int((ok & ~keep).sum())
            idx = customers[keep]
            parts["c"].append(idx)
            parts["o"].append(np.full(len(idx), i, np.int64))
            parts["h"].append(np.full(len(idx), h, np.int64))
            parts["u"].append(uplift[keep])
            parts["v"].append(value[keep])
            parts["cost"].append(np.full(len(idx), cost))
            parts["lev"].append(np.full(len(idx), lever))
            parts["m"].append(~np.isnan(raw[keep]))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
    cust = cat["c"].astype(np.int64)
    profit = cat["u"] * cat["v"] - cat["cost"]
    gc = _bool(features, "global_control")
    in_gc = gc[cust] if len(cust) else np.zeros(0, bool)
    problem = _problem(cust, cat, profit, n, offers, channel_names, settings, remaining, layout)
    return Candidates(
        customer_ids=features.column("customer_id").to_numpy(zero_copy_only=False).astype(object),
        segment=features.column("segment").to_numpy(zero_copy_only=False).astype(object),
        time_zone=features.column("time_zone").to_numpy(zero_copy_only=False).astype(object),
        global_control=gc,
        pressure=_float(features, "n_week"),
        problem=problem.subset(~in_gc),
        treat_index=np.flatnonzero(~in_gc),
        shadow=problem.subset(in_gc),
        shadow_index=np.flatnonzero(in_gc),
        uplift=cat["u"].astype(float),
        value=cat["v"].astype(float),
        profit=profit,
        lever=cat["lev"].astype(float),
        modelled=cat["m"].astype(bool),
        levers_json=levers_json,
        dropped=dropped,
    )


def _problem(
    cust: npt.NDArray[np.int64],
    cat: dict[str, npt.NDArray[np.generic]],
    profit: FloatArray,
    n: int,
    offers: list[Offer],
    channel_names: list[str],
    settings: DecideSettings,
    remaining: list[FloatArray],
    layout: FeatureLayout,
) -> Problem:
    arb = settings.arbitration
    k = arb.max_offers_per_customer
    capacity = np.array([float(arb.channel_capacity.get(c, np.inf)) for c in channel_names])
    problem = Problem(
        customer=cust,
        offer=cat["o"].astype(np.int64),
        channel=cat["h"].astype(np.int64),
        score=profit * cat["lev"].astype(float),
        cost=cat["cost"].astype(float),
        n_customers=n,
        offer_names=[o.id for o in offers],
        channel_names=channel_names,
        k=k,
        budget=float(arb.budget) if arb.budget is not None else np.inf,
        channel_capacity=capacity,
        offer_max=np.array(
            [float(o.volume.max) if o.volume.max is not None else np.inf for o in offers]
        ),
        offer_min=np.array([float(o.volume.min) for o in offers]),
    )
    if k > 1 and layout.n_caps:
        caps = settings.policy.caps
        member = np.zeros((len(offers), len(channel_names), len(caps)), dtype=bool)
        for i, offer in enumerate(offers):
            for h, ch in enumerate(channel_names):
                for g, cap in enumerate(caps):
                    member[i, h, g] = offer.purpose in cap.purposes and cap.covers(ch)
        problem.group_member = member
        problem.group_remaining = np.clip(np.stack(remaining, axis=1), 0, None).astype(np.int64)
    return problem
