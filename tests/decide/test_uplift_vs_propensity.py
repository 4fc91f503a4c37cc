"""Planted truth: ranking by uplift beats ranking by purchase propensity in realised profit.

Customers come in the four uplift types of Radcliffe & Surry (2011): sure things (buy anyway),
persuadables (buy only when contacted), lost causes (never buy) and sleeping dogs (contact puts
them off). The propensity ranking (score = P(buy | treated) × value − cost) goes for the sure
things; the uplift ranking (score = uplift × value − cost, `cvm.decide.scoring`) for the
persuadables. Outcomes are then drawn from the true potential outcomes with a seed and the
realised incremental profit of each targeting compared.
"""

from __future__ import annotations

import numpy as np

from cvm.decide.arbitration import Problem, solve

VALUE, CONTACT, INCENTIVE = 40.0, 0.5, 5.0  # order margin, cost per contact, voucher cost
TYPES = {  # share, P(buy | not contacted), uplift
    "sure thing": (0.25, 0.60, 0.00),
    "persuadable": (0.20, 0.05, 0.20),
    "lost cause": (0.40, 0.02, 0.00),
    "sleeping dog": (0.15, 0.35, -0.10),
}


def _population(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shares = np.array([t[0] for t in TYPES.values()])
    kind = rng.choice(len(TYPES), size=n, p=shares)
    p0 = np.array([t[1] for t in TYPES.values()])[kind]
    uplift = np.array([t[2] for t in TYPES.values()])[kind]
    return p0, uplift


def _target(score: np.ndarray, budget_customers: int) -> np.ndarray:
    """The arbitration solver with one offer and a volume cap (non-positive scores dropped)."""
    n = len(score)
    keep = score > 0
    problem = Problem(
        customer=np.flatnonzero(keep).astype(np.int64),
        offer=np.zeros(int(keep.sum()), np.int64),
        channel=np.zeros(int(keep.sum()), np.int64),
        score=score[keep],
        cost=np.full(int(keep.sum()), CONTACT),
        n_customers=n,
        offer_names=["voucher"],
        channel_names=["email"],
        offer_max=np.array([float(budget_customers)]),
    )
    chosen = np.zeros(n, dtype=bool)
    chosen[problem.customer[solve(problem, "greedy").chosen]] = True
    return chosen


def _realised_profit(treated: np.ndarray, p0: np.ndarray, uplift: np.ndarray, seed: int) -> float:
    """Incremental profit against not contacting: value·(Y1 − Y0) − contact − incentive·Y1."""
    rng = np.random.default_rng(seed)
    u = rng.random(len(p0))  # one uniform per customer couples Y0 and Y1
    y0 = u < p0
    y1 = u < np.clip(p0 + uplift, 0, 1)
    gain = VALUE * (y1.astype(float) - y0) - CONTACT - INCENTIVE * y1
    return float(gain[treated].sum())


def test_uplift_ranking_beats_propensity_ranking() -> None:
    rng = np.random.default_rng(2024)
    n = 10_000
    p0, uplift = _population(n, rng)
    # model estimates: the truth plus noise, as a fitted model would give
    uplift_hat = uplift + rng.normal(0, 0.02, n)
    propensity_hat = np.clip(p0 + uplift + rng.normal(0, 0.02, n), 0, 1)
    redeem = np.clip(p0 + uplift, 0, 1)  # redeemers are the treated buyers
    by_uplift = _target(uplift_hat * VALUE - (CONTACT + INCENTIVE * redeem), 1_500)
    by_propensity = _target(propensity_hat * VALUE - (CONTACT + INCENTIVE * redeem), 1_500)
    profits = [
        (_realised_profit(by_uplift, p0, uplift, s), _realised_profit(by_propensity, p0, uplift, s))
        for s in range(5)
    ]
    for up, prop in profits:
        assert up > 0 > prop  # sure things cost vouchers and sleeping dogs lose sales
        assert up > prop + 5_000
    # the uplift ranking reaches the persuadables, the propensity ranking the sure things
    persuadable = uplift > 0.1
    assert persuadable[by_uplift].mean() > 0.9
    assert persuadable[by_propensity].mean() < 0.3
