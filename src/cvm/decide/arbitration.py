"""Arbitration: choose at most k offers per customer to maximise expected incremental profit.

For every eligible (customer i, offer o, channel c) pair with score ``s > 0`` (expected
incremental profit × business levers, `cvm.decide.scoring`), choose ``x ∈ {0, 1}`` to

    maximise   Σ s·x
    subject to Σ_{o,c} x_ioc ≤ k_i                  (k offers per customer, fewer when a cap
                                                     across channels leaves fewer)
               Σ_{o, c∈G} x_ioc ≤ r_iG              (frequency caps with r_iG < k_i left)
               Σ_c x_ioc ≤ 1                        (one channel per offer and customer)
               Σ cost·x ≤ B                         (budget: contact + expected incentives)
               Σ_{i,o} x_ioc ≤ C_c                  (channel capacity)
               min_o ≤ Σ_{i,c} x_ioc ≤ max_o        (offer volumes)

Pairs with ``s ≤ 0`` are never variables, so no non-positive score is ever assigned. Minimum
volumes are hard constraints of the exact solver; when positive-score pairs cannot meet them
together with the other rows, the solver says why (`Allocation.minimums_infeasible`) and meets
them as far as it can (a shortfall is reported, never papered over with unprofitable
assignments). Two solvers share this `Problem`/`Allocation`
interface: `cvm.decide.lp_solver` (exact LP/MILP with HiGHS) and `cvm.decide.greedy_solver`
(Lagrangian dual prices, then greedy). Both work on the canonical order (customer, offer,
channel), so the same input in any row order gives the same assignment.

This module also holds the feasibility checks both share; `cvm.decide.rounds` holds the
vectorised greedy rounds that fill capacity while keeping every constraint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SolverName = Literal["auto", "lp", "greedy"]
EPS = 1e-9


@dataclass
class Problem:
    """One arbitration instance; arrays are per pair unless named per customer/offer/channel."""

    customer: IntArray
    offer: IntArray
    channel: IntArray
    score: FloatArray
    cost: FloatArray
    n_customers: int
    offer_names: list[str]
    channel_names: list[str]
    k: int = 1
    customer_limit: IntArray | None = None  # per customer, ≤ k
    group_member: BoolArray | None = None  # [offer, channel, group]: pair counts in cap group
    group_remaining: IntArray | None = None  # [customer, group]
    budget: float = np.inf
    channel_capacity: FloatArray | None = None  # per channel, inf = none
    offer_max: FloatArray | None = None
    offer_min: FloatArray | None = None

    def __post_init__(self) -> None:
        n_o, n_c = len(self.offer_names), len(self.channel_names)
        if self.channel_capacity is None:
            self.channel_capacity = np.full(n_c, np.inf)
        if self.offer_max is None:
            self.offer_max = np.full(n_o, np.inf)
        if self.offer_min is None:
            self.offer_min = np.zeros(n_o)
        # a minimum above the maximum can only be met up to the maximum
        self.offer_min = np.minimum(self.offer_min, self.offer_max)
        if self.customer_limit is None:
            self.customer_limit = np.full(self.n_customers, self.k, dtype=np.int64)

    @property
    def n_pairs(self) -> int:
        return len(self.score)

    @property
    def n_offers(self) -> int:
        return len(self.offer_names)

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def has_groups(self) -> bool:
        return self.group_member is not None and self.group_remaining is not None

    def canonical(self) -> tuple[Problem, IntArray]:
        """The pairs sorted by (customer, offer, channel) and the permutation applied."""
        order = np.lexsort((self.channel, self.offer, self.customer))
        take = {
            n: getattr(self, n)[order] for n in ("customer", "offer", "channel", "score", "cost")
        }
        return replace(self, **take), order

    def subset(self, keep: BoolArray) -> Problem:
        take = {
            n: getattr(self, n)[keep] for n in ("customer", "offer", "channel", "score", "cost")
        }
        return replace(self, **take)


@dataclass
class Allocation:
    """The chosen pairs (a mask in the caller's order) and what bound them."""

    chosen: BoolArray
    objective: float
    bound: float | None
    solver: str
    seconds: float
    duals: dict[str, float] = field(default_factory=dict)
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)
    min_shortfall: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # why the minimum volumes could not be hard constraints (empty: they were)
    minimums_infeasible: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        """Relative distance to the upper bound (0 = provably optimal)."""
        if self.bound is None or self.bound <= 0:
            return None
        return max(0.0, (self.bound - self.objective) / self.bound)

    def binding(self, tol: float = 1e-6) -> list[str]:
        """Constraints at their limit or with a positive dual price."""
        out = []
        for name, (used, limit) in self.usage.items():
            at_limit = np.isfinite(limit) and used >= limit * (1 - tol) - 1e-6
            if at_limit or self.duals.get(name, 0.0) > tol:
                out.append(name)
        return out


def customer_starts(customer: IntArray) -> IntArray:
    """Index of each customer's first pair (pairs sorted by customer)."""
    if len(customer) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])


def segment_ids(starts: IntArray, n: int) -> IntArray:
    """Customer position (0..len(starts)-1) of every pair."""
    return np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))


def segment_argmax(values: FloatArray, starts: IntArray, seg: IntArray) -> IntArray:
    """Per customer, the first pair with the largest finite value > 0 (pairs sorted by customer).

    Linear time: the maximum by `np.maximum.reduceat`, then the first hit of each segment
    (hits come in index order, so a change of segment marks a first hit).
    """
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    best = np.maximum.reduceat(values, starts)
    hit = (values == best[seg]) & (values > 0) & np.isfinite(values)
    idx = np.flatnonzero(hit)
    s = seg[idx]
    first = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
    return idx[first]


def usage(problem: Problem, chosen: BoolArray) -> dict[str, tuple[float, float]]:
    """Used and limit of every coupling constraint (budget, channels, offer volumes)."""
    assert problem.channel_capacity is not None and problem.offer_max is not None
    assert problem.offer_min is not None
    out: dict[str, tuple[float, float]] = {
        "budget": (float(problem.cost[chosen].sum()), problem.budget)
    }
    ch = np.bincount(problem.channel[chosen], minlength=problem.n_channels)
    for j, name in enumerate(problem.channel_names):
        out[f"channel {name}"] = (float(ch[j]), float(problem.channel_capacity[j]))
    of = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
    for j, name in enumerate(problem.offer_names):
        out[f"offer {name} max"] = (float(of[j]), float(problem.offer_max[j]))
    return out


def violations(problem: Problem, chosen: BoolArray) -> list[str]:
    """Every constraint the chosen set always keeps that it breaks (empty = feasible).
    Minimum volumes are not listed: they can be infeasible (`cvm.decide.minimums`)."""
    out: list[str] = []
    if (problem.score[chosen] <= 0).any():
        out.append("a non-positive score is assigned")
    for name, (used, limit) in usage(problem, chosen).items():
        if used > limit + 1e-6 * max(1.0, abs(limit)):
            out.append(f"{name}: {used:g} > {limit:g}")
    assert problem.customer_limit is not None
    per = np.bincount(problem.customer[chosen], minlength=problem.n_customers)
    if (per > problem.customer_limit).any():
        out.append("a customer gets more offers than allowed")
    key = problem.customer[chosen] * problem.n_offers + problem.offer[chosen]
    if len(np.unique(key)) < len(key):
        out.append("a customer gets the same offer twice")
    if problem.has_groups:
        assert problem.group_member is not None and problem.group_remaining is not None
        member = problem.group_member[problem.offer[chosen], problem.channel[chosen]]
        for g in range(member.shape[1]):
            in_group = np.bincount(
                problem.customer[chosen][member[:, g]], minlength=problem.n_customers
            )
            if (in_group > problem.group_remaining[:, g]).any():
                out.append(f"frequency cap group {g} exceeded")
    return out


def solve(
    problem: Problem, solver: SolverName = "auto", exact_max_pairs: int = 1_000_000
) -> Allocation:
    """Solve in canonical order and map the answer back to the caller's order."""
    canonical, order = problem.canonical()
    chooser: Callable[[Problem], Allocation]
    if solver == "lp" or (solver == "auto" and canonical.n_pairs <= exact_max_pairs):
        from cvm.decide.lp_solver import solve_lp as chooser
    else:
        from cvm.decide.greedy_solver import solve_greedy as chooser
    result = chooser(canonical)
    back = np.zeros(problem.n_pairs, dtype=bool)
    back[order] = result.chosen
    result.chosen = back
    return result
