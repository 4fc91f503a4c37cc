"""Minimum offer volumes as hard constraints: why a set of minimums cannot be met, and the
greedy's first phase that meets them before anything else takes the budget and capacity.

In the exact solver (`cvm.decide.lp_solver`) a minimum is the row ``Σ_{i,c} x_ioc ≥ min_o``.
Only when the LP/MILP with these rows is infeasible does it fall back to the soft form (a
penalised slack per offer, the shortfall reported) and the allocation says so with the
reasons found here. The Lagrangian greedy (`cvm.decide.greedy_solver`) first gives each offer
with a minimum its ``min_o`` pairs of smallest *regret* — the adjusted score the customer
gives up compared with his best alternative — and only then assigns the rest.
"""

from __future__ import annotations

import numpy as np

from cvm.decide.arbitration import BoolArray, FloatArray, IntArray, Problem
from cvm.decide.rounds import assign_rounds


def eligible_customers(problem: Problem) -> IntArray:
    """Per offer, the customers with a positive-score pair for it and a free slot."""
    assert problem.customer_limit is not None
    open_ = (problem.score > 0) & (problem.customer_limit[problem.customer] > 0)
    key = np.unique(problem.offer[open_] * problem.n_customers + problem.customer[open_])
    return np.bincount(key // max(problem.n_customers, 1), minlength=problem.n_offers).astype(
        np.int64
    )


def min_shortfall(problem: Problem, chosen: BoolArray) -> dict[str, int]:
    """Offers below their minimum volume (capped at the maximum) and by how many."""
    assert problem.offer_min is not None and problem.offer_max is not None
    low = np.minimum(problem.offer_min, problem.offer_max)
    counts = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
    return {problem.offer_names[o]: int(low[o] - counts[o]) for o in np.flatnonzero(counts < low)}


def _cheapest_cost(problem: Problem, o: int, need: int) -> float:
    """Least budget that ``need`` pairs of offer ``o`` on distinct customers can cost."""
    sel = np.flatnonzero((problem.offer == o) & (problem.score > 0))
    if len(sel) == 0 or need <= 0:
        return 0.0
    order = sel[np.lexsort((problem.cost[sel], problem.customer[sel]))]
    first = order[np.r_[True, problem.customer[order][1:] != problem.customer[order][:-1]]]
    return float(np.sort(problem.cost[first])[:need].sum())


def explain_infeasible_minimums(problem: Problem) -> list[str]:
    """Why the minimum volumes cannot all be met: each offer with fewer eligible customers
    than its minimum, the budget and the channel capacity the minimums need at the least;
    a generic sentence when no single reason shows (the rows only conflict together)."""
    assert problem.offer_min is not None and problem.channel_capacity is not None
    mins = np.flatnonzero(problem.offer_min > 0)
    if len(mins) == 0:
        return []
    eligible = eligible_customers(problem)
    out = [
        f"offer {problem.offer_names[o]}: minimum {int(problem.offer_min[o])} but only "
        f"{int(eligible[o])} eligible customer(s) with a positive expected profit"
        for o in mins
        if eligible[o] < problem.offer_min[o]
    ]
    need = {int(o): int(min(problem.offer_min[o], eligible[o])) for o in mins}
    cheapest = sum(_cheapest_cost(problem, o, n) for o, n in need.items())
    if cheapest > problem.budget + 1e-9:
        out.append(
            f"budget: the minimums need at least {cheapest:,.2f} "
            f"but the budget is {problem.budget:,.2f}"
        )
    contacts = sum(need.values())
    capacity = float(problem.channel_capacity.sum())
    if contacts > capacity:
        out.append(
            f"channel capacity: the minimums need {contacts} contacts, the channels hold {capacity:g}"
        )
    if not out:
        names = ", ".join(f"{problem.offer_names[o]} ({int(problem.offer_min[o])})" for o in mins)
        out.append(
            f"the minimums of {names} cannot all be met together with the budget, channel "
            "capacities and per-customer limits"
        )
    return out


def reserve_minimums(problem: Problem, adjusted: FloatArray, chosen: BoolArray) -> BoolArray:
    """Give each offer with a minimum its pairs of least regret, up to the minimum.

    The regret of pair p (offer o, customer i) is ``max(best other adjusted score of i, 0) −
    a_p``: what forcing i onto o costs at the current prices. Pairs are added by
    `assign_rounds` (so budget, capacities and per-customer limits hold), offers capped at
    their minimum; ``chosen`` is updated and returned.
    """
    assert problem.offer_min is not None and problem.offer_max is not None
    mins = problem.offer_min > 0
    if not mins.any() or problem.n_pairs == 0:
        return chosen
    positive = np.where(problem.score > 0, adjusted, -np.inf)
    # best and second best adjusted score per customer: a pair's alternative is the best
    # pair of its customer unless it is that pair itself
    best = np.full(problem.n_customers, -np.inf)
    np.maximum.at(best, problem.customer, positive)
    is_best = positive >= best[problem.customer]
    second = np.full(problem.n_customers, -np.inf)
    np.maximum.at(second, problem.customer, np.where(is_best, -np.inf, positive))
    alternative = np.where(is_best, second[problem.customer], best[problem.customer])
    regret = np.maximum(alternative, 0.0) - adjusted
    member = mins[problem.offer] & (problem.score > 0)
    if not member.any():
        return chosen
    # assign_rounds takes the largest priority first and needs it positive
    priority = np.where(member, regret[member].max() - regret + 1.0, 0.0)
    target = np.where(mins, np.minimum(problem.offer_min, problem.offer_max), 0.0)
    have = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
    target = np.maximum(target, np.minimum(have, target))
    return assign_rounds(problem, priority, chosen, offer_max=target)
