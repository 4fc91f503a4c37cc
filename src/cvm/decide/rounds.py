"""Greedy rounds that add pairs without ever breaking a constraint, shared by both solvers of
`cvm.decide.arbitration` (the repairs that follow are in `cvm.decide.repair`).

Each round every customer with a free slot proposes its best valid pair; proposals are taken
in priority order while every coupling row still has room. Counting the rejected proposals of
a round as if they had been taken over-states use, so the accepted set is always feasible; what
it leaves unused is picked up by the next round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvm.decide.arbitration import (
    EPS,
    BoolArray,
    FloatArray,
    IntArray,
    Problem,
    customer_starts,
    segment_argmax,
    segment_ids,
)


@dataclass
class _State:
    """Remaining capacity while pairs are added."""

    slots: IntArray
    offer_left: FloatArray
    channel_left: FloatArray
    budget_left: float
    group_left: IntArray | None
    used_key: set[int]


def _state(problem: Problem, chosen: BoolArray, offer_max: FloatArray | None = None) -> _State:
    assert problem.customer_limit is not None and problem.channel_capacity is not None
    assert problem.offer_max is not None
    cap = problem.offer_max if offer_max is None else offer_max
    slots = problem.customer_limit - np.bincount(
        problem.customer[chosen], minlength=problem.n_customers
    )
    group_left = None
    if problem.has_groups:
        assert problem.group_member is not None and problem.group_remaining is not None
        group_left = problem.group_remaining.astype(np.int64).copy()
        member = problem.group_member[problem.offer[chosen], problem.channel[chosen]]
        for g in range(member.shape[1]):
            group_left[:, g] -= np.bincount(
                problem.customer[chosen][member[:, g]], minlength=problem.n_customers
            )
    keys = problem.customer[chosen] * problem.n_offers + problem.offer[chosen]
    return _State(
        slots=slots,
        offer_left=cap - np.bincount(problem.offer[chosen], minlength=problem.n_offers),
        channel_left=problem.channel_capacity
        - np.bincount(problem.channel[chosen], minlength=problem.n_channels),
        budget_left=problem.budget - float(problem.cost[chosen].sum()),
        group_left=group_left,
        used_key={int(k) for k in keys} if problem.k > 1 else set(),
    )


def _valid(problem: Problem, st: _State, chosen: BoolArray, idx: IntArray) -> BoolArray:
    """Which of the pairs ``idx`` can still be added (every test only ever turns false)."""
    cust, off, chn = problem.customer[idx], problem.offer[idx], problem.channel[idx]
    ok = ~chosen[idx] & (st.slots[cust] > 0)
    ok &= st.offer_left[off] >= 1 - EPS
    ok &= st.channel_left[chn] >= 1 - EPS
    ok &= problem.cost[idx] <= st.budget_left + EPS
    if st.group_left is not None:
        assert problem.group_member is not None
        member = problem.group_member[off, chn]
        ok &= ~(member & (st.group_left[cust] <= 0)).any(axis=1)
    if st.used_key:
        keys = cust * problem.n_offers + off
        ok &= ~np.isin(keys, np.fromiter(st.used_key, dtype=np.int64))
    return ok


def _accept(problem: Problem, st: _State, chosen: BoolArray, idx: IntArray) -> None:
    chosen[idx] = True
    st.slots -= np.bincount(problem.customer[idx], minlength=problem.n_customers)
    st.offer_left -= np.bincount(problem.offer[idx], minlength=problem.n_offers)
    st.channel_left -= np.bincount(problem.channel[idx], minlength=problem.n_channels)
    st.budget_left -= float(problem.cost[idx].sum())
    if st.group_left is not None:
        assert problem.group_member is not None
        member = problem.group_member[problem.offer[idx], problem.channel[idx]]
        for g in range(member.shape[1]):
            st.group_left[:, g] -= np.bincount(
                problem.customer[idx][member[:, g]], minlength=problem.n_customers
            )
    if problem.k > 1:
        st.used_key.update(
            int(k) for k in problem.customer[idx] * problem.n_offers + problem.offer[idx]
        )


def _prefix_feasible(problem: Problem, st: _State, order: IntArray) -> BoolArray:
    """Accept each proposal whose prefix (all earlier proposals counted, accepted or not) fits.

    Counting rejected proposals too over-states use, so the accepted set is always feasible;
    what it leaves unused is picked up by the next round.
    """

    def running(group: IntArray) -> IntArray:
        # 0-based count of earlier proposals in the same group
        ranks = np.empty(len(group), dtype=np.int64)
        sort = np.argsort(group, kind="stable")
        g = group[sort]
        starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
        counts = np.diff(np.r_[starts, len(g)])
        ranks[sort] = np.arange(len(g)) - np.repeat(starts, counts)
        return ranks

    off = problem.offer[order]
    chn = problem.channel[order]
    ok = running(off) + 1 <= st.offer_left[off] + EPS
    ok &= running(chn) + 1 <= st.channel_left[chn] + EPS
    ok &= np.cumsum(problem.cost[order]) <= st.budget_left + EPS
    return ok


def assign_rounds(
    problem: Problem,
    priority: FloatArray,
    chosen: BoolArray,
    *,
    offer_max: FloatArray | None = None,
    max_rounds: int = 200,
) -> BoolArray:
    """Add pairs by descending ``priority`` (> 0, score > 0) while every constraint holds.

    Each round every customer with a free slot proposes its best valid pair; proposals are
    accepted in priority order while capacities allow. Pairs that can no longer be added are
    dropped for good (capacity only shrinks), so late rounds are cheap; when a round takes
    almost nothing, the rest is done by one exact sequential pass. ``chosen`` is updated.
    """
    if problem.n_pairs == 0:
        return chosen
    st = _state(problem, chosen, offer_max)
    live = np.flatnonzero((priority > 0) & (problem.score > 0) & ~chosen)
    for _ in range(max_rounds):
        live = live[_valid(problem, st, chosen, live)]
        if len(live) == 0:
            break
        starts = customer_starts(problem.customer[live])
        local = segment_argmax(priority[live], starts, segment_ids(starts, len(live)))
        proposals = live[local]
        order = proposals[np.lexsort((proposals, -priority[proposals]))]
        # One proposal per customer per round, so per-customer limits hold by `_valid`.
        ok = _prefix_feasible(problem, st, order)
        _accept(problem, st, chosen, order[ok])
        if ok.sum() < max(1, 0.02 * len(order)) and len(live) <= SEQUENTIAL_MAX:
            _sequential(problem, st, chosen, live, priority)
            break
    return chosen


SEQUENTIAL_MAX = 300_000


def _sequential(
    problem: Problem, st: _State, chosen: BoolArray, live: IntArray, priority: FloatArray
) -> None:
    """The exact greedy: every remaining pair in priority order, taken if it still fits."""
    order = live[np.lexsort((live, -priority[live]))]
    member = problem.group_member if problem.has_groups else None
    for i in order.tolist():
        c, o, h = int(problem.customer[i]), int(problem.offer[i]), int(problem.channel[i])
        cost = float(problem.cost[i])
        if (
            chosen[i]
            or st.slots[c] <= 0
            or st.offer_left[o] < 1 - EPS
            or st.channel_left[h] < 1 - EPS
        ):
            continue
        if cost > st.budget_left + EPS:
            continue
        key = c * problem.n_offers + o
        if problem.k > 1 and key in st.used_key:
            continue
        if member is not None and st.group_left is not None:
            if (member[o, h] & (st.group_left[c] <= 0)).any():
                continue
            st.group_left[c] -= member[o, h].astype(np.int64)
        chosen[i] = True
        st.slots[c] -= 1
        st.offer_left[o] -= 1
        st.channel_left[h] -= 1
        st.budget_left -= cost
        if problem.k > 1:
            st.used_key.add(key)
