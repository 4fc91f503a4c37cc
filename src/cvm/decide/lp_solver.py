"""The exact solver: the arbitration problem of `cvm.decide.arbitration` as a linear program
solved by HiGHS (Huangfu & Hall 2018, "Parallelizing the dual revised simplex method",
Math. Prog. Comp. 10) through `scipy.optimize.linprog` / `milp`.

Why an LP is enough most of the time: with k = 1 the constraint matrix is one assignment row per
customer plus a handful of coupling rows (budget, channel capacities, offer volumes). A basic
optimal solution of the relaxation has at most as many fractional customers as there are
coupling rows (each fractional customer needs a basic variable of its own beyond its assignment
row), so the relaxation is near-integral. We therefore

1. solve the LP relaxation (its value is an upper bound and its row duals are the shadow prices
   of budget and capacities, reported as "which constraint binds");
2. if it is integral, it is optimal; otherwise, for up to ``milp_max_pairs`` pairs, solve the
   MILP (same rows, binary x) for the exact optimum; beyond that, round the fractional pairs
   down (every row is ≤ with non-negative coefficients, so rounding down keeps feasibility),
   then fill the freed capacity greedily. The loss is at most the scores of the few fractional
   customers and is reported as the gap to the LP bound.

Minimum volumes are hard rows ``Σ x_o ≥ min_o``. Only when the LP (or the MILP) with them is
infeasible do we fall back to the soft form — a slack per offer with a large penalty — and the
allocation lists why (`cvm.decide.minimums.explain_infeasible_minimums`) in
``minimums_infeasible``; the shortfall is reported.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from cvm.decide.arbitration import (
    Allocation,
    BoolArray,
    FloatArray,
    IntArray,
    Problem,
    customer_starts,
    usage,
)
from cvm.decide.minimums import explain_infeasible_minimums
from cvm.decide.repair import finish

MILP_MAX_PAIRS = 200_000
IPM_FROM_PAIRS = 20_000
FRACTIONAL = 1e-6


def _rows_for_sets(
    keys: IntArray, limit: IntArray | None = None
) -> tuple[IntArray, IntArray, FloatArray]:
    """Row ids for groups of pairs sharing a key (keys sorted), only groups with > limit pairs.

    Returns (pair index, row number starting at 0, rhs per row).
    """
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(keys)])
    rhs = np.ones(len(starts)) if limit is None else limit.astype(float)
    needed = sizes > rhs
    group = np.repeat(np.arange(len(starts)), sizes)
    keep = needed[group]
    renumber = np.cumsum(needed) - 1
    return np.flatnonzero(keep), renumber[group[keep]], rhs[needed]


def build_lp(
    problem: Problem, *, soft_minimums: bool = False
) -> tuple[sp.csr_matrix, FloatArray, list[str], FloatArray, FloatArray]:
    """(A_ub, b_ub, names of the coupling rows, objective c (minimise), upper bounds).

    With ``soft_minimums`` every minimum row gets a penalised slack column (always feasible)."""
    assert problem.customer_limit is not None and problem.channel_capacity is not None
    assert problem.offer_max is not None and problem.offer_min is not None
    n = problem.n_pairs
    mins = np.flatnonzero(problem.offer_min > 0)
    slacks = len(mins) if soft_minimums else 0
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    rhs: list[FloatArray] = []
    names: list[str] = []
    n_rows = 0

    def add(r: IntArray, c: IntArray, v: FloatArray, b: FloatArray) -> None:
        nonlocal n_rows
        rows.append(r + n_rows)
        cols.append(c)
        vals.append(v)
        rhs.append(b)
        n_rows += len(b)

    # k offers per customer (rows only for customers with more pairs than slots)
    limit = problem.customer_limit[problem.customer[customer_starts(problem.customer)]]
    idx, r, b = _rows_for_sets(problem.customer, limit)
    add(r, idx, np.ones(len(idx)), b)
    if problem.k > 1:
        key = problem.customer * problem.n_offers + problem.offer
        idx, r, b = _rows_for_sets(key)
        add(r, idx, np.ones(len(idx)), b)
    if problem.has_groups:
        assert problem.group_member is not None and problem.group_remaining is not None
        member = problem.group_member[problem.offer, problem.channel]
        for g in range(member.shape[1]):
            sel = np.flatnonzero(member[:, g])
            cust = problem.customer[sel]
            rem = problem.group_remaining[cust, g]
            tight = rem < problem.customer_limit[cust]
            sel, cust = sel[tight], cust[tight]
            first = customer_starts(cust)
            idx, r, b = _rows_for_sets(cust, problem.group_remaining[cust[first], g])
            add(r, sel[idx], np.ones(len(idx)), b)
    coupling_start = n_rows
    if np.isfinite(problem.budget):
        add(
            np.zeros(n, np.int64),
            np.arange(n),
            problem.cost.astype(float),
            np.array([problem.budget]),
        )
        names.append("budget")
    for j in np.flatnonzero(np.isfinite(problem.channel_capacity)):
        sel = np.flatnonzero(problem.channel == j)
        add(
            np.zeros(len(sel), np.int64),
            sel,
            np.ones(len(sel)),
            np.array([problem.channel_capacity[j]]),
        )
        names.append(f"channel {problem.channel_names[j]}")
    for j in np.flatnonzero(np.isfinite(problem.offer_max)):
        sel = np.flatnonzero(problem.offer == j)
        add(np.zeros(len(sel), np.int64), sel, np.ones(len(sel)), np.array([problem.offer_max[j]]))
        names.append(f"offer {problem.offer_names[j]} max")
    for s, j in enumerate(mins):
        sel = np.flatnonzero(problem.offer == j)
        c = np.r_[sel, n + s] if soft_minimums else sel
        add(np.zeros(len(c), np.int64), c, -np.ones(len(c)), np.array([-problem.offer_min[j]]))
        names.append(f"offer {problem.offer_names[j]} min")
    penalty = 1e3 * (float(problem.score.max()) if n else 1.0) + 1.0
    objective = np.r_[-problem.score, np.full(slacks, penalty)]
    upper = np.r_[
        np.where(problem.customer_limit[problem.customer] > 0, 1.0, 0.0), np.full(slacks, np.inf)
    ]
    a = sp.csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            (
                np.concatenate(rows) if rows else np.zeros(0, np.int64),
                np.concatenate(cols) if cols else np.zeros(0, np.int64),
            ),
        ),
        shape=(n_rows, n + slacks),
    )
    b_ub = np.concatenate(rhs) if rhs else np.zeros(0)
    names = [""] * coupling_start + names
    return a, b_ub, names, objective, upper


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS's MIP solver prints debug lines to the C-level stdout, which would corrupt the
    CLI's --json output; send file descriptor 1 to /dev/null while it runs."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (captured, redirected)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class _Infeasible(Exception):
    """The hard minimum rows cannot be met (LP or MILP infeasible)."""


def _solve_rows(
    problem: Problem, milp_max_pairs: int, soft_minimums: bool
) -> tuple[BoolArray, float, dict[str, float], list[str], str]:
    """One solve: (chosen, LP bound, duals, notes, solver); raises `_Infeasible`."""
    n = problem.n_pairs
    a, b, names, c, upper = build_lp(problem, soft_minimums=soft_minimums)
    res = linprog(
        c,
        A_ub=a if a.shape[0] else None,
        b_ub=b if a.shape[0] else None,
        bounds=np.c_[np.zeros(len(c)), upper],
        # interior point (then crossover to a vertex, so the near-integrality above holds) is
        # several times faster than the dual simplex on large assignment LPs
        method="highs-ipm" if n >= IPM_FROM_PAIRS else "highs",
    )
    if res.status == 2 and not soft_minimums:
        raise _Infeasible(res.message)
    if res.status != 0:
        raise RuntimeError(f"LP solver failed: {res.message}")
    x = res.x[:n]
    bound = float(problem.score @ x)
    duals: dict[str, float] = {}
    if a.shape[0] and res.ineqlin is not None:
        marg = -np.asarray(res.ineqlin.marginals)
        duals = {name: float(max(0.0, m)) for name, m in zip(names, marg, strict=True) if name}
    fractional = int(((x > FRACTIONAL) & (x < 1 - FRACTIONAL)).sum())
    notes = [f"LP relaxation: {fractional} fractional pair(s) of {n}"]
    solver = "lp"
    if fractional and n <= milp_max_pairs:
        integrality = np.r_[np.ones(n), np.zeros(len(c) - n)]
        with _quiet_stdout():
            mres = milp(
                c,
                constraints=LinearConstraint(a, -np.inf, b),
                integrality=integrality,
                bounds=Bounds(np.zeros(len(c)), upper),
                options={"mip_rel_gap": 1e-7, "time_limit": 120},
            )
        if mres.status == 2 and not soft_minimums:
            raise _Infeasible(mres.message)
        if mres.x is not None:
            chosen: BoolArray = mres.x[:n] > 0.5
            solver = "milp"
        else:
            chosen = x >= 1 - FRACTIONAL
            notes.append(f"MILP gave no solution ({mres.message}); rounded the LP down")
    else:
        chosen = x >= 1 - FRACTIONAL
        if fractional:
            notes.append("rounded the fractional pairs down, then filled greedily")
    return chosen, bound, duals, notes, solver


def solve_lp(problem: Problem, milp_max_pairs: int = MILP_MAX_PAIRS) -> Allocation:
    """LP relaxation → integral, MILP, or round down and fill (see the module docstring);
    hard minimum volumes, soft only when they are infeasible (then flagged)."""
    started = time.perf_counter()
    n = problem.n_pairs
    if n == 0:
        return finish(
            problem, np.zeros(0, bool), solver="lp", started=started, bound=0.0, duals={}, notes=[]
        )
    infeasible: list[str] = []
    try:
        chosen, bound, duals, notes, solver = _solve_rows(problem, milp_max_pairs, False)
    except _Infeasible:
        infeasible = explain_infeasible_minimums(problem)
        chosen, bound, duals, notes, solver = _solve_rows(problem, milp_max_pairs, True)
        notes.append("minimum volumes infeasible: solved with soft minimums (shortfall reported)")
    chosen = trim_to_feasible(problem, chosen)
    return finish(
        problem,
        chosen,
        solver=solver,
        started=started,
        bound=bound,
        duals=duals,
        notes=notes,
        minimums_infeasible=infeasible,
    )


def trim_to_feasible(problem: Problem, chosen: BoolArray) -> BoolArray:
    """Drop the lowest-score pairs of any coupling row a solver tolerance left over its limit."""
    assert problem.channel_capacity is not None and problem.offer_max is not None
    for name, (used, limit) in usage(problem, chosen).items():
        if used <= limit + 1e-9:
            continue
        if name == "budget":
            members = chosen.copy()
            weight = problem.cost
        elif name.startswith("channel "):
            members = chosen & (problem.channel == problem.channel_names.index(name[8:]))
            weight = np.ones(problem.n_pairs)
        else:
            members = chosen & (problem.offer == problem.offer_names.index(name[6:-4]))
            weight = np.ones(problem.n_pairs)
        idx = np.flatnonzero(members)
        idx = idx[np.lexsort((idx, problem.score[idx]))]
        excess = used - limit
        drop = idx[: int(np.searchsorted(np.cumsum(weight[idx]), excess - 1e-12) + 1)]
        chosen[drop] = False
    return chosen
