"""Repairs after the main assignment, shared by both solvers: minimum volumes (fill, swap with
budget release, eject), a local search for small instances, and `finish`, which runs them and
summarises the allocation.
"""

from __future__ import annotations

import time

import numpy as np

from cvm.decide.arbitration import (
    EPS,
    Allocation,
    BoolArray,
    FloatArray,
    Problem,
    customer_starts,
    usage,
)
from cvm.decide.rounds import assign_rounds

POLISH_MAX_PAIRS = 20_000
POOL = 40


def meet_minimums(problem: Problem, chosen: BoolArray) -> dict[str, int]:
    """Raise offers below their minimum volume with their best remaining positive pairs,
    then by swapping customers away from offers above their own minimum; returns shortfalls."""
    assert problem.offer_min is not None and problem.offer_max is not None
    counts = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
    shortfall: dict[str, int] = {}
    for o in np.flatnonzero(counts < problem.offer_min):
        target = problem.offer_max.copy()
        target[o] = min(problem.offer_max[o], problem.offer_min[o])
        only = np.where(problem.offer == o, problem.score, 0.0)
        assign_rounds(problem, only, chosen, offer_max=target)
        have = int((chosen & (problem.offer == o)).sum())
        simple = problem.k == 1 and not problem.has_groups
        if have < problem.offer_min[o] and simple:
            have += _swap_into(problem, chosen, int(o), int(problem.offer_min[o]) - have)
        if have < problem.offer_min[o] and simple:
            have += _eject_for(problem, chosen, int(o), int(problem.offer_min[o]) - have)
        if have < problem.offer_min[o]:
            shortfall[problem.offer_names[o]] = int(problem.offer_min[o]) - have
    return shortfall


def _swap_into(problem: Problem, chosen: BoolArray, o: int, need: int) -> int:
    """Move customers from other offers (still above their minimum) to offer ``o``."""
    assert problem.offer_min is not None and problem.channel_capacity is not None
    counts = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
    current = {int(problem.customer[i]): int(i) for i in np.flatnonzero(chosen)}
    cands = np.flatnonzero(~chosen & (problem.offer == o) & (problem.score > 0))
    cands = np.array([i for i in cands if int(problem.customer[i]) in current], dtype=np.int64)
    if len(cands) == 0:
        return 0
    losses = np.array(
        [problem.score[current[int(problem.customer[i])]] - problem.score[i] for i in cands]
    )
    ch_used = np.bincount(problem.channel[chosen], minlength=problem.n_channels).astype(float)
    spent = float(problem.cost[chosen].sum())
    moved = 0
    for i in cands[np.lexsort((cands, losses))]:
        if moved >= need:
            break
        held = current.get(int(problem.customer[i]))
        if held is None:
            continue
        old = held
        p = int(problem.offer[old])
        if p == o or counts[p] - 1 < problem.offer_min[p]:
            continue
        new_spent = spent - problem.cost[old] + problem.cost[i]
        ch_after = ch_used.copy()
        ch_after[problem.channel[old]] -= 1
        ch_after[problem.channel[i]] += 1
        if ch_after[problem.channel[i]] > problem.channel_capacity[problem.channel[i]] + EPS:
            continue
        drops = np.zeros(0, dtype=np.int64)
        if new_spent > problem.budget + EPS:
            # free the missing budget by dropping pairs of other offers (above their minimum)
            # that lose the least score per unit of budget
            deficit = new_spent - problem.budget
            pool = chosen & (problem.offer != o)
            pool &= counts[problem.offer] - 1 >= problem.offer_min[problem.offer]
            pool[old] = False
            ids = np.flatnonzero(pool)
            ids = ids[np.lexsort((ids, problem.score[ids] / np.maximum(problem.cost[ids], EPS)))]
            enough = np.searchsorted(np.cumsum(problem.cost[ids]), deficit - EPS) + 1
            if enough > len(ids):
                continue
            drops = ids[:enough]
            if (
                np.bincount(problem.offer[drops], minlength=problem.n_offers)
                > np.maximum(counts - problem.offer_min, 0)
            ).any():
                continue
        chosen[old], chosen[i] = False, True
        for d in drops:
            chosen[d] = False
            counts[problem.offer[d]] -= 1
            ch_after[problem.channel[d]] -= 1
            new_spent -= float(problem.cost[d])
            current.pop(int(problem.customer[d]), None)
        current[int(problem.customer[i])] = int(i)
        counts[p] -= 1
        counts[o] += 1
        ch_used, spent = ch_after, new_spent
        moved += 1
    return moved


def _eject_for(problem: Problem, chosen: BoolArray, o: int, need: int) -> int:
    """Give offer ``o`` pairs of unassigned customers by dropping the lowest-score pair (of an
    offer above its own minimum) whose budget or channel place they need."""
    assert problem.offer_min is not None and problem.channel_capacity is not None
    assert problem.customer_limit is not None
    taken = np.bincount(problem.customer[chosen], minlength=problem.n_customers)
    cands = np.flatnonzero(
        ~chosen & (problem.offer == o) & (problem.score > 0)
        & (taken[problem.customer] < problem.customer_limit[problem.customer])
    )  # fmt: skip
    cands = cands[np.lexsort((cands, -problem.score[cands]))]
    added = 0
    for q in cands:
        if added >= need:
            break
        if (
            chosen[np.flatnonzero(problem.customer == problem.customer[q])].sum()
            >= problem.customer_limit[problem.customer[q]]
        ):
            continue
        counts = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
        ch_left = problem.channel_capacity - np.bincount(
            problem.channel[chosen], minlength=problem.n_channels
        )
        b_left = problem.budget - float(problem.cost[chosen].sum())
        hq = problem.channel[q]
        pool = (
            chosen
            & (problem.offer != o)
            & (counts[problem.offer] - 1 >= problem.offer_min[problem.offer])
        )
        if ch_left[hq] < 1 - EPS:
            pool &= problem.channel == hq
        pool &= problem.cost + b_left >= problem.cost[q] - EPS
        ids = np.flatnonzero(pool)
        if len(ids) == 0:
            continue
        r = ids[np.lexsort((ids, problem.score[ids]))][0]
        chosen[r], chosen[q] = False, True
        added += 1
    return added


def finish(
    problem: Problem,
    chosen: BoolArray,
    *,
    solver: str,
    started: float,
    bound: float | None,
    duals: dict[str, float],
    notes: list[str],
    minimums_infeasible: list[str] | None = None,
) -> Allocation:
    """Meet minimum volumes, then fill what capacity is left by raw score, and summarise."""
    shortfall = meet_minimums(problem, chosen)
    assign_rounds(problem, problem.score, chosen)
    if problem.n_pairs <= POLISH_MAX_PAIRS and not shortfall:
        improve(problem, chosen)
        assign_rounds(problem, problem.score, chosen)
    counts = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
    assert problem.offer_min is not None
    shortfall = {
        problem.offer_names[o]: int(problem.offer_min[o] - counts[o])
        for o in np.flatnonzero(counts < problem.offer_min)
    }
    return Allocation(
        chosen=chosen,
        objective=float(problem.score[chosen].sum()),
        bound=bound,
        solver=solver,
        seconds=time.perf_counter() - started,
        duals=duals,
        usage=usage(problem, chosen),
        min_shortfall=shortfall,
        notes=notes,
        minimums_infeasible=list(minimums_infeasible or []),
    )


def improve(problem: Problem, chosen: BoolArray, max_candidates: int = 1_000) -> BoolArray:
    """Local search for k = 1 on small instances: take an unchosen pair q when that gains,
    releasing its customer's current pair and, when a coupling row is full, moving one other
    customer r to a pair of its own that frees what q needs (or dropping r) at the smallest
    loss. Greedy and Lagrangian solutions leave such exchanges around tight rows (a budget is a
    knapsack); one pass over the best candidates removes most of what is left."""
    if problem.k != 1 or problem.has_groups or problem.n_pairs == 0:
        return chosen
    assert problem.channel_capacity is not None and problem.offer_max is not None
    assert problem.offer_min is not None and problem.customer_limit is not None
    off_used = np.bincount(problem.offer[chosen], minlength=problem.n_offers).astype(float)
    ch_used = np.bincount(problem.channel[chosen], minlength=problem.n_channels).astype(float)
    holder = {int(problem.customer[i]): int(i) for i in np.flatnonzero(chosen)}
    starts = customer_starts(problem.customer)
    ends = np.r_[starts[1:], problem.n_pairs]
    where = {
        int(problem.customer[s0]): (int(s0), int(e0)) for s0, e0 in zip(starts, ends, strict=True)
    }
    open_ = problem.customer_limit[problem.customer] > 0
    cands = np.flatnonzero(~chosen & (problem.score > 0) & open_)
    cands = cands[np.lexsort((cands, -problem.score[cands]))][:max_candidates]

    def fits(pair: int, o_left: FloatArray, h_left: FloatArray, b_left: float) -> bool:
        return bool(
            o_left[problem.offer[pair]] >= 1 - EPS
            and h_left[problem.channel[pair]] >= 1 - EPS
            and problem.cost[pair] <= b_left + EPS
        )

    for q in cands:
        c = int(problem.customer[q])
        p = holder.get(c)
        gain = problem.score[q] - (problem.score[p] if p is not None else 0.0)
        if chosen[q] or gain <= EPS:
            continue
        po = int(problem.offer[p]) if p is not None else -1
        if p is not None and po != problem.offer[q] and off_used[po] - 1 < problem.offer_min[po]:
            continue  # moving this customer would break its offer's minimum
        o_left = problem.offer_max - off_used
        h_left = problem.channel_capacity - ch_used
        b_left = problem.budget - float(problem.cost[chosen].sum())
        if p is not None:
            o_left[problem.offer[p]] += 1
            h_left[problem.channel[p]] += 1
            b_left += float(problem.cost[p])
        moves: list[tuple[int, int | None]] = []  # (pair to leave, pair to take instead)
        if not fits(int(q), o_left, h_left, b_left):
            best: tuple[float, int, int | None] | None = None
            pool = chosen.copy()
            pool[q] = False
            if p is not None:
                pool[p] = False
            if o_left[problem.offer[q]] < 1 - EPS:
                pool &= problem.offer == problem.offer[q]
            if h_left[problem.channel[q]] < 1 - EPS:
                pool &= problem.channel == problem.channel[q]
            ids = np.flatnonzero(pool)
            # the cheapest releases are among the lowest scores; look at a few only
            for r in ids[np.lexsort((ids, problem.score[ids]))][:POOL]:
                r = int(r)
                ro, rh = int(problem.offer[r]), int(problem.channel[r])
                o2, h2 = o_left.copy(), h_left.copy()
                o2[ro] += 1
                h2[rh] += 1
                b2 = b_left + float(problem.cost[r])
                if not fits(int(q), o2, h2, b2):
                    continue
                o2[problem.offer[q]] -= 1
                h2[problem.channel[q]] -= 1
                b2 -= float(problem.cost[q])
                s0, e0 = where[int(problem.customer[r])]
                alt: int | None = None
                for a in range(s0, e0):
                    if (
                        a != r
                        and fits(a, o2, h2, b2)
                        and (alt is None or problem.score[a] > problem.score[alt])
                    ):
                        alt = a
                keep_min = off_used[ro] - 1 >= problem.offer_min[ro] or (
                    alt is not None and problem.offer[alt] == ro
                )
                loss = problem.score[r] - (problem.score[alt] if alt is not None else 0.0)
                if keep_min and loss < gain - EPS and (best is None or loss < best[0]):
                    best = (float(loss), r, alt)
            if best is None:
                continue
            moves.append((best[1], best[2]))
        if p is not None:
            moves.insert(0, (p, None))
        moves.append((-1, int(q)))
        for leave, take in moves:
            if leave >= 0:
                chosen[leave] = False
                off_used[problem.offer[leave]] -= 1
                ch_used[problem.channel[leave]] -= 1
                holder.pop(int(problem.customer[leave]), None)
            if take is not None:
                chosen[take] = True
                off_used[problem.offer[take]] += 1
                ch_used[problem.channel[take]] += 1
                holder[int(problem.customer[take])] = int(take)
    return chosen
