"""What a decision run (or a simulated plan) will do: reach, spend, contact pressure, expected
incremental responders and value with intervals, allocation by segment, binding constraints.

Intervals (documented in docs/decisioning.md). The incremental responders of offer *o* are
``R_o = Σ_i u_i`` over its treated customers. Two sources of uncertainty are added:

* outcome noise: each treated customer's incremental response is a difference of Bernoulli
  outcomes; its variance is bounded here by the Bernoulli variance ``u(1 − u)`` of the
  uplift itself (a binomial approximation, Poisson-binomial summed over customers);
* model error: the uplift estimates of one offer share their error, so it does not average
  out — a relative standard error ``ρ_o`` moves ``R_o`` as a whole: ``var = (ρ_o R_o)²``.
  For model scores ``ρ_o`` is the offer's ``uplift.relative_error``; for the prior rate it is
  the Beta prior's coefficient of variation sqrt(b / (a (a + b + 1))) with a = r·n, b = (1−r)·n
  (`cvm.measure.feedback.BetaPrior`).

The interval is the normal approximation ``R ± 1.645 sd`` (90%); value likewise with weights.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cvm.decide.offers import Offer

if TYPE_CHECKING:
    from cvm.decide.batch import DecisionSet

Z90 = 1.645


def prior_relative_error(offer: Offer) -> float:
    rate = min(max(abs(offer.uplift.prior), 1e-6), 1 - 1e-6)
    a = rate * offer.uplift.prior_strength
    b = (1 - rate) * offer.uplift.prior_strength
    return math.sqrt(b / (a * (a + b + 1)))


def interval(
    uplift: np.ndarray,
    weight: np.ndarray,
    modelled: np.ndarray,
    offer_idx: np.ndarray,
    offers: list[Offer],
) -> tuple[float, float, float]:
    """(mean, low, high) of Σ uplift·weight (see the module docstring)."""
    u = np.clip(uplift, 0.0, 1.0)
    mean = float((uplift * weight).sum())
    var = float((u * (1 - u) * weight**2).sum())
    for o, offer in enumerate(offers):
        sel = offer_idx == o
        if not sel.any():
            continue
        part_m = float((uplift * weight)[sel & modelled].sum())
        part_p = float((uplift * weight)[sel & ~modelled].sum())
        var += (offer.uplift.relative_error * part_m) ** 2 + (
            prior_relative_error(offer) * part_p
        ) ** 2
    sd = math.sqrt(max(var, 0.0))
    return mean, mean - Z90 * sd, mean + Z90 * sd


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


def summarize(result: DecisionSet) -> dict[str, Any]:
    """A JSON-able summary of a run (the CLI, `decision_runs` and the simulation show it)."""
    rows = result.rows
    cands, alloc, offers = result.candidates, result.allocation, result.offers
    full = result.full_index
    contact = rows.column("contact").to_numpy(zero_copy_only=False).astype(bool)
    control = rows.column("control").to_numpy(zero_copy_only=False).astype(bool)
    is_global = rows.column("global_control").to_numpy(zero_copy_only=False).astype(bool)
    offer_ids = rows.column("offer_id").to_numpy(zero_copy_only=False).astype(object)
    channels = rows.column("channel").to_numpy(zero_copy_only=False).astype(object)
    cost = rows.column("cost").to_numpy(zero_copy_only=False)
    index = {o.id: i for i, o in enumerate(offers)}
    offer_idx = pd.Series(offer_ids, dtype=object).map(index).to_numpy(dtype=np.int64)
    uplift, value = cands.uplift[full], cands.value[full]
    modelled, profit = cands.modelled[full], cands.profit[full]
    treated = contact
    by_offer_channel: list[dict[str, Any]] = []
    for o in offers:
        for ch in sorted(set(channels[offer_ids == o.id])):
            sel = treated & (offer_ids == o.id) & (channels == ch)
            resp = interval(
                uplift[sel], np.ones(int(sel.sum())), modelled[sel], offer_idx[sel], offers
            )
            val = interval(uplift[sel], value[sel], modelled[sel], offer_idx[sel], offers)
            by_offer_channel.append(
                {
                    "offer": o.id,
                    "channel": ch,
                    "reach": int(sel.sum()),
                    "held_out": int(((offer_ids == o.id) & (channels == ch) & control).sum()),
                    "spend": _r(cost[sel].sum()),
                    "incremental_responders": _r(resp[0], 1),
                    "responders_90": [_r(resp[1], 1), _r(resp[2], 1)],
                    "incremental_value": _r(val[0]),
                    "value_90": [_r(val[1]), _r(val[2])],
                    "expected_profit": _r(profit[sel].sum()),
                }
            )
    resp = interval(
        uplift[treated], np.ones(int(treated.sum())), modelled[treated], offer_idx[treated], offers
    )
    val = interval(uplift[treated], value[treated], modelled[treated], offer_idx[treated], offers)
    n_customers = len(cands.customer_ids)
    contacted = np.unique(rows.column("customer_id").to_numpy(zero_copy_only=False)[treated])
    outbound = treated & ~np.isin(channels.astype(str), ("web", "app", "store", "call_center"))
    allocation: dict[str, dict[str, int]] = defaultdict(dict)
    cust_of_row = np.r_[
        cands.problem.customer[np.flatnonzero(alloc.chosen)], cands.shadow.customer[:0]
    ]
    segs = cands.segment[cust_of_row] if len(cust_of_row) else np.zeros(0, object)
    t_offers = offer_ids[: len(cust_of_row)]
    t_contact = contact[: len(cust_of_row)]
    counted = (
        pd.DataFrame({"o": t_offers[t_contact], "s": segs[t_contact]}, dtype=object)
        .groupby(["o", "s"], sort=False)
        .size()
    )
    for (oid, seg), count in counted.items():
        allocation[str(oid)][str(seg)] = int(count)
    constraints = [
        {
            "constraint": name,
            "used": _r(used),
            "limit": None if not np.isfinite(limit) else _r(limit),
            "slack": None if not np.isfinite(limit) else _r(limit - used),
            "dual": _r(alloc.duals.get(name, 0.0), 6),
            "binding": name in alloc.binding(),
        }
        for name, (used, limit) in alloc.usage.items()
        if np.isfinite(limit) or alloc.duals.get(name, 0.0) > 0
    ]
    base_pressure = float(cands.pressure.sum())
    return {
        "run_id": result.run_id,
        "date": result.day.isoformat(),
        "customers": n_customers,
        "global_control": int(cands.global_control.sum()),
        "pairs_scored": int(cands.problem.n_pairs + cands.shadow.n_pairs),
        "pairs_dropped": cands.dropped,
        "decisions": int(rows.num_rows),
        "contacted": int(treated.sum()),
        "offer_control": int(control.sum()),
        "global_control_logged": int(is_global.sum()),
        "spend": _r(cost[treated].sum()),
        "expected_profit": _r(profit[treated].sum()),
        "incremental_responders": _r(resp[0], 1),
        "responders_90": [_r(resp[1], 1), _r(resp[2], 1)],
        "incremental_value": _r(val[0]),
        "value_90": [_r(val[1]), _r(val[2])],
        "contact_pressure": {
            "messages_per_customer_week_before": _r(base_pressure / max(n_customers, 1), 4),
            "messages_per_customer_week_after": _r(
                (base_pressure + outbound.sum()) / max(n_customers, 1), 4
            ),
            "new_messages_per_contacted_customer": _r(treated.sum() / max(len(contacted), 1), 3),
        },
        "by_offer_channel": by_offer_channel,
        "allocation_by_segment": dict(allocation),
        "constraints": constraints,
        "binding": alloc.binding(),
        "solver": {
            "name": alloc.solver,
            "objective": _r(alloc.objective),
            "bound": None if alloc.bound is None else _r(alloc.bound),
            "gap": None if alloc.gap is None else round(alloc.gap, 6),
            "seconds": _r(alloc.seconds, 3),
            "min_volume_shortfall": alloc.min_shortfall,
            "minimums_infeasible": alloc.minimums_infeasible,
            "notes": alloc.notes,
        },
        "timings": {k: _r(v, 3) for k, v in result.timings.items()},
    }
