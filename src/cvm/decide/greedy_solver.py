"""The large-scale solver: Lagrangian dual prices on the coupling constraints, then greedy.

Relaxing the coupling rows of `cvm.decide.arbitration` (budget, channel capacities, offer
volumes) with prices μ ≥ 0 leaves one small problem per customer: take the (up to k) pairs of
largest *adjusted* score

    a = s − μ_B·cost − μ_c[channel] − μ_max[offer] + μ_min[offer]

when positive (Everett 1963, "Generalized Lagrange multiplier method for solving problems of
optimum allocation of resources", Oper. Res. 11; Fisher 1981, "The Lagrangian relaxation
method for solving integer programming problems", Mgmt. Sci. 27, eq. 2). For any μ ≥ 0 the
dual function

    L(μ) = Σ_i max_{S_i} Σ_{p∈S_i} a_p + μ_B·B + Σ μ_c·C_c + Σ μ_max·max_o − Σ μ_min·min_o

bounds the optimum from above (with k = 1 it equals the LP bound at the best μ), so every run
reports a certified gap without solving the LP.

Prices are found in two steps: (1) the exact LP on a deterministic sample of customers of
about ``SAMPLE_PAIRS`` (30k) pairs with every right-hand side scaled by the sample share (the
sample's duals estimate the full duals; Agrawal, Wang & Ye 2014, "A dynamic near-optimal
algorithm for online linear programming", Oper. Res. 62, sec. 3) — below that size the sample
is the whole problem, so the start is the exact LP dual; (2) projected subgradient steps on
the full problem with the Polyak step ``t = θ (L(μ) − LB) / ‖g‖²`` (Polyak 1969; Fisher 1981,
eq. 9), θ halved after five steps without progress, keeping the μ of the lowest L. The assignment is then greedy by adjusted
score in vectorised rounds that never break a constraint (`assign_rounds`) — after giving
the offers with a minimum volume their pairs of least regret first
(`cvm.decide.minimums.reserve_minimums`) — followed by the repair of what minimums are still
short and a fill of left-over capacity by raw score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from cvm.decide.arbitration import (
    Allocation,
    BoolArray,
    FloatArray,
    IntArray,
    Problem,
    customer_starts,
    segment_argmax,
    segment_ids,
)
from cvm.decide.minimums import explain_infeasible_minimums, min_shortfall, reserve_minimums
from cvm.decide.repair import finish
from cvm.decide.rounds import assign_rounds

SAMPLE_PAIRS = 30_000
SMALL = 5_000


@dataclass
class Coupling:
    """The relaxed rows: names, right-hand sides, and which offer/channel each refers to."""

    names: list[str]
    rhs: FloatArray
    kind: list[str]  # budget | channel | max | min
    index: list[int]

    @classmethod
    def of(cls, problem: Problem) -> Coupling:
        assert problem.channel_capacity is not None and problem.offer_max is not None
        assert problem.offer_min is not None
        rows: list[tuple[str, float, str, int]] = []
        if np.isfinite(problem.budget):
            rows.append(("budget", float(problem.budget), "budget", 0))
        for j in np.flatnonzero(np.isfinite(problem.channel_capacity)):
            cap = float(problem.channel_capacity[j])
            rows.append((f"channel {problem.channel_names[j]}", cap, "channel", int(j)))
        for j in np.flatnonzero(np.isfinite(problem.offer_max)):
            top = float(problem.offer_max[j])
            rows.append((f"offer {problem.offer_names[j]} max", top, "max", int(j)))
        for j in np.flatnonzero(problem.offer_min > 0):
            low = float(problem.offer_min[j])
            rows.append((f"offer {problem.offer_names[j]} min", low, "min", int(j)))
        names = [r[0] for r in rows]
        rhs = [r[1] for r in rows]
        kind = [r[2] for r in rows]
        index = [r[3] for r in rows]
        return cls(names, np.asarray(rhs, dtype=float), kind, index)

    def adjusted(self, problem: Problem, mu: FloatArray) -> FloatArray:
        a = problem.score.copy()
        by_channel = np.zeros(problem.n_channels)
        by_offer = np.zeros(problem.n_offers)
        for m, kind, j in zip(mu, self.kind, self.index, strict=True):
            if kind == "budget":
                a -= m * problem.cost
            elif kind == "channel":
                by_channel[j] += m
            elif kind == "max":
                by_offer[j] += m
            else:
                by_offer[j] -= m
        return a - by_channel[problem.channel] - by_offer[problem.offer]

    def used(self, problem: Problem, chosen: BoolArray) -> FloatArray:
        ch = np.bincount(problem.channel[chosen], minlength=problem.n_channels)
        of = np.bincount(problem.offer[chosen], minlength=problem.n_offers)
        out = np.empty(len(self.names))
        for r, (kind, j) in enumerate(zip(self.kind, self.index, strict=True)):
            out[r] = (
                problem.cost[chosen].sum()
                if kind == "budget"
                else ch[j]
                if kind == "channel"
                else of[j]
            )
        return out

    def subgradient(self, problem: Problem, chosen: BoolArray) -> FloatArray:
        """∂L/∂μ scaled to rhs 1: positive when a ≤ row is over its limit (or a min under)."""
        used = self.used(problem, chosen)
        sign = np.array([-1.0 if k == "min" else 1.0 for k in self.kind])
        return sign * (used - self.rhs) / np.maximum(self.rhs, 1e-9)


class _Inner:
    """The per-customer subproblem for given prices (pairs in canonical order)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.starts = customer_starts(problem.customer)
        self.seg = segment_ids(self.starts, problem.n_pairs)
        assert problem.customer_limit is not None
        self.simple = problem.k == 1 and not problem.has_groups
        self.open = problem.customer_limit[problem.customer] > 0
        self.free = replace(
            problem,
            budget=np.inf,
            channel_capacity=np.full(problem.n_channels, np.inf),
            offer_max=np.full(problem.n_offers, np.inf),
        )

    def choose(self, a: FloatArray) -> BoolArray:
        chosen = np.zeros(self.problem.n_pairs, dtype=bool)
        if self.simple:
            chosen[segment_argmax(np.where(self.open, a, -np.inf), self.starts, self.seg)] = True
            return chosen
        return assign_rounds(self.free, np.where(a > 0, a, 0.0), chosen)


def dual_value(coupling: Coupling, a: FloatArray, chosen: BoolArray, mu: FloatArray) -> float:
    sign = np.array([-1.0 if k == "min" else 1.0 for k in coupling.kind])
    return float(a[chosen].sum() + (sign * mu * coupling.rhs).sum())


def _sample_duals(problem: Problem, coupling: Coupling) -> FloatArray:
    """Duals of the exact LP on a deterministic customer sample with scaled right-hand sides."""
    from cvm.decide.lp_solver import solve_lp

    # Up to SAMPLE_PAIRS pairs the "sample" is the whole problem: exact LP duals.
    share = min(1.0, SAMPLE_PAIRS / max(problem.n_pairs, 1))
    # Knuth's multiplicative hash of the canonical customer index: deterministic, spread out.
    hashed = (
        (problem.customer.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    ) / 2**32
    keep = hashed < share
    if share >= 1.0:
        keep[:] = True
    sub = problem.subset(keep)
    # pairs are in canonical order (sorted by customer): count customers by their first pair
    frac = len(customer_starts(sub.customer)) / max(len(customer_starts(problem.customer)), 1)
    assert problem.channel_capacity is not None and problem.offer_max is not None
    assert problem.offer_min is not None
    sub = replace(
        sub,
        budget=problem.budget * frac,
        channel_capacity=problem.channel_capacity * frac,
        offer_max=np.floor(problem.offer_max * frac)
        if np.isfinite(problem.offer_max).any()
        else problem.offer_max,
        offer_min=np.ceil(problem.offer_min * frac),
    )
    result = solve_lp(sub, milp_max_pairs=0)
    return np.array([result.duals.get(name, 0.0) for name in coupling.names])


def find_prices(
    problem: Problem, iterations: int = 25, theta: float = 2.0
) -> tuple[FloatArray, float, Coupling, BoolArray]:
    """Prices μ of the lowest dual value found, that value (an upper bound), and the best
    feasible greedy assignment met on the way (every iterate on small problems, else the
    first, which also sets the Polyak target)."""
    coupling = Coupling.of(problem)
    inner = _Inner(problem)
    empty = np.zeros(problem.n_pairs, dtype=bool)
    if not coupling.names:
        chosen = inner.choose(problem.score)
        return np.zeros(0), float(problem.score[chosen].sum()), coupling, chosen
    small = problem.n_pairs <= SMALL
    mu = _sample_duals(problem, coupling)
    best_mu, best_value = mu.copy(), np.inf
    best_primal, lower, best_rank = empty, -np.inf, -np.inf
    stall = 0
    for it in range(iterations):
        a = coupling.adjusted(problem, mu)
        chosen = inner.choose(a)
        value = dual_value(coupling, a, chosen, mu)
        if value < best_value:
            best_mu, best_value = mu.copy(), value
        if small or it == 0:
            primal = assign_with_minimums(problem, a)
            ranked = _primal_value(problem, primal)
            if ranked > best_rank:
                best_primal, best_rank = primal, ranked
            lower = max(lower, float(problem.score[primal].sum()))
        g = coupling.subgradient(problem, chosen) * np.maximum(coupling.rhs, 1e-9)
        norm = float((g**2).sum())
        if norm < 1e-12 or best_value - lower <= 1e-9 * max(1.0, abs(best_value)):
            break
        # Polyak step towards the best feasible value; θ halves after 5 steps without a
        # lower dual value (Held, Wolfe & Crowder 1974, "Validation of subgradient
        # optimization", Math. Prog. 6)
        stall = 0 if value <= best_value else stall + 1
        if stall >= 5:
            theta, stall = theta / 2, 0
        mu = np.maximum(0.0, mu + theta * (value - lower) / norm * g)
    return best_mu, float(best_value), coupling, best_primal


def solve_greedy(problem: Problem, iterations: int | None = None) -> Allocation:
    """Lagrangian prices, greedy by adjusted score, minimum-volume repair, fill (see above)."""
    started = time.perf_counter()
    if problem.n_pairs == 0:
        return finish(
            problem,
            np.zeros(0, bool),
            solver="greedy",
            started=started,
            bound=0.0,
            duals={},
            notes=[],
        )
    rounds = iterations or (60 if problem.n_pairs <= SMALL else 20)
    mu, bound, coupling, chosen = find_prices(problem, rounds)
    if len(mu):
        at_best = assign_with_minimums(problem, coupling.adjusted(problem, mu))
        if _primal_value(problem, at_best) > _primal_value(problem, chosen):
            chosen = at_best
    duals = dict(zip(coupling.names, (float(m) for m in mu), strict=True))
    exact_inner = problem.k == 1 and not problem.has_groups
    notes = [] if exact_inner else ["k > 1 or cap groups: the dual bound is approximate"]
    result = finish(
        problem,
        chosen,
        solver="greedy",
        started=started,
        bound=bound if exact_inner else None,
        duals=duals,
        notes=notes,
    )
    if result.min_shortfall:
        # the greedy cannot prove infeasibility; say what it can see
        result.minimums_infeasible = explain_infeasible_minimums(problem)
        notes.append("minimum volumes not all met by the greedy (shortfall reported)")
    return result


def assign_with_minimums(problem: Problem, adjusted: FloatArray) -> BoolArray:
    """Minimums first (pairs of least regret, `reserve_minimums`), then greedy by adjusted
    score on what is left, never breaking a constraint."""
    chosen = reserve_minimums(problem, adjusted, np.zeros(problem.n_pairs, dtype=bool))
    return assign_rounds(problem, adjusted, chosen)


def _primal_value(problem: Problem, chosen: BoolArray) -> float:
    """Score of an assignment, minus a large penalty per missing minimum unit, so that an
    assignment meeting more of the (hard) minimums always ranks first."""
    missing = sum(min_shortfall(problem, chosen).values())
    penalty = 1e3 * float(problem.score.max()) + 1.0
    return float(problem.score[chosen].sum()) - penalty * missing


def greedy_order(problem: Problem, a: FloatArray) -> IntArray:
    """Pairs by descending adjusted score, ties by canonical position (for inspection)."""
    return np.lexsort((np.arange(problem.n_pairs), -a))
