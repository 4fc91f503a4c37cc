"""Random arbitration instances with a known structure, for tests and the benchmark.

Scores are drawn as expected incremental profit: uplift × value − cost, with uplift from a
Beta distribution, value log-normal and costs per channel, so the share of positive pairs,
the spread of scores and the tightness of each constraint look like a real retail base.
"""

from __future__ import annotations

import numpy as np

from cvm.decide.arbitration import Problem

CHANNELS = ("email", "sms", "push")
CONTACT_COST = np.array([0.002, 0.05, 0.001])
CHANNEL_REACH = np.array([0.8, 0.5, 0.4])


def synthetic_problem(
    n_customers: int,
    n_offers: int = 10,
    n_channels: int = 3,
    *,
    seed: int = 0,
    eligibility: float = 0.6,
    k: int = 1,
    budget_share: float | None = 0.5,
    capacity_share: float | None = 0.3,
    offer_max_share: float | None = 0.2,
    offer_min_share: float = 0.0,
) -> Problem:
    """An instance with ``n_customers`` and up to offers × channels pairs each.

    ``*_share`` set each limit to that share of what the unconstrained optimum would use, so
    the constraint binds; None leaves it out.
    """
    rng = np.random.default_rng(seed)
    n_channels = min(n_channels, len(CHANNELS))
    elig = rng.random((n_customers, n_offers)) < eligibility
    reach = rng.random((n_customers, n_channels)) < CHANNEL_REACH[:n_channels]
    cust, off, ch = np.nonzero(elig[:, :, None] & reach[:, None, :])
    base_uplift = rng.beta(1.2, 30.0, size=n_offers)
    uplift = base_uplift[off] * rng.lognormal(0.0, 0.6, size=len(cust))
    value = rng.lognormal(3.0, 0.8, size=n_customers)[cust] * rng.uniform(0.5, 1.5, n_offers)[off]
    incentive = rng.uniform(0.0, 3.0, n_offers)[off] * rng.uniform(0.05, 0.3, n_offers)[off]
    channel_effect = np.array([1.0, 1.4, 0.8])[:n_channels][ch]
    cost = CONTACT_COST[:n_channels][ch] + incentive
    score = uplift * channel_effect * value - cost
    keep = score > 0
    cust, off, ch, score, cost = cust[keep], off[keep], ch[keep], score[keep], cost[keep]
    problem = Problem(
        customer=cust.astype(np.int64),
        offer=off.astype(np.int64),
        channel=ch.astype(np.int64),
        score=score,
        cost=cost,
        n_customers=n_customers,
        offer_names=[f"offer_{j:02d}" for j in range(n_offers)],
        channel_names=list(CHANNELS[:n_channels]),
        k=k,
    )
    # What the unconstrained optimum (best pair per customer) would use, to size the limits.
    order = np.lexsort((-score, cust))
    first = order[np.r_[True, cust[order][1:] != cust[order][:-1]]] if len(order) else order
    if budget_share is not None:
        problem.budget = float(cost[first].sum() * budget_share * k)
    if capacity_share is not None:
        use = np.bincount(ch[first], minlength=n_channels).astype(float)
        problem.channel_capacity = np.floor(np.maximum(use * capacity_share * k, 1.0))
    if offer_max_share is not None:
        use = np.bincount(off[first], minlength=n_offers).astype(float)
        problem.offer_max = np.floor(np.maximum(use * offer_max_share * k * 2.0, 1.0))
    if offer_min_share > 0:
        assert problem.offer_max is not None
        low = np.floor(np.full(n_offers, len(first) * offer_min_share / n_offers))
        problem.offer_min = np.minimum(low, problem.offer_max)
    return problem
