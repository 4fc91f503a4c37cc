"""Members vs comparable non-members: recover a planted effect despite self-selection."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from cvm.loyalty.incrementality import cohort_windows, estimate_att, member_incrementality
from cvm.workspace import Workspace

EFFECT_PER_MONTH = 20.0  # a member buys one extra 20.00 order every month after joining
POST_MONTHS = 6


def simulate(ws: Workspace, n: int = 3000, seed: int = 11) -> float:
    """Four kinds of buyers (1-4 orders a month, every month), the frequent ones far likelier
    to join: selection on behaviour the pre-period shows, which is what matching can remove
    (joining on something unobserved it cannot; see docs/loyalty.md). Order values are
    random. Returns the naive gap in post-period spend between members and the rest."""
    rng = np.random.default_rng(seed)
    rate = rng.integers(1, 5, n)  # orders per month
    counts = np.repeat(rate[:, None], 36, axis=1)  # 2022-01 .. 2024-12
    join_month = rng.integers(12, 24, n)  # 2023-01 .. 2023-12
    joins = rng.random(n) < np.array([0.0, 0.05, 0.2, 0.4, 0.6])[rate]
    rows: dict[str, list] = {
        "transaction_id": [],
        "customer_id": [],
        "occurred_at": [],
        "amount": [],
    }
    post = np.zeros(n)
    for i in range(n):
        for month in range(36):
            orders = int(counts[i, month])
            extra = int(joins[i] and month > join_month[i])
            for k in range(orders + extra):
                day = dt.datetime(2022 + month // 12, month % 12 + 1, 1 + int(rng.integers(0, 28)))
                rows["transaction_id"].append(f"T{i}-{month}-{k}")
                rows["customer_id"].append(f"c{i}")
                rows["occurred_at"].append(day)
                value = EFFECT_PER_MONTH if k >= orders else round(float(rng.gamma(4, 12.5)), 2)
                rows["amount"].append(value)
                if join_month[i] < month <= join_month[i] + POST_MONTHS:
                    post[i] += value
    ws.engine.write_arrow(
        "transactions",
        pa.table(
            {
                **{k: rows[k] for k in ("transaction_id", "customer_id", "occurred_at")},
                "line_id": ["1"] * len(rows["amount"]),
                "amount": pa.array(rows["amount"], pa.float64()).cast(pa.decimal128(18, 4)),
            }
        ),
    )
    members = np.flatnonzero(joins)
    ws.engine.write_arrow(
        "loyalty_accounts",
        pa.table(
            {
                "customer_id": [f"c{i}" for i in members],
                "enrolled_at": pa.array(
                    [dt.datetime(2023, int(join_month[i]) - 11, 15) for i in members],
                    pa.timestamp("us"),
                ),
            }
        ),
    )
    return float(post[joins].mean() - post[~joins].mean())


def test_matching_recovers_the_planted_effect(ws: Workspace) -> None:
    naive = simulate(ws)
    result = member_incrementality(ws.engine, dt.datetime(2025, 1, 1), POST_MONTHS)
    assert result is not None
    truth = EFFECT_PER_MONTH * POST_MONTHS  # 120 per member over 6 months
    assert naive > 2 * truth  # selection alone would make members look far better
    assert result.low < truth < result.high
    assert abs(result.att - truth) < 0.1 * truth
    assert result.members_matched > 0.9 * (result.members_matched + result.members_unmatched)
    assert result.cohorts == 12  # 2023 cohorts: their 6-month post-period ends by 2025-01-01


def test_cohort_windows_leave_out_the_enrolment_month() -> None:
    table = cohort_windows(dt.datetime(2024, 1, 20), dt.datetime(2024, 9, 1), post_months=6)
    rows = table.to_pylist()
    assert [r["cohort"] for r in rows] == [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)]
    assert rows[0]["pre_start"] == dt.datetime(2023, 1, 1)
    assert (rows[0]["post_start"], rows[0]["post_end"]) == (
        dt.datetime(2024, 2, 1),
        dt.datetime(2024, 8, 1),
    )


def test_estimator_weights_strata_by_members() -> None:
    stats = pd.DataFrame(
        {
            "cohort": ["m"] * 5,
            "stratum": ["a", "a", "b", "b", "c"],
            "treated": [True, False, True, False, True],
            "n": [30, 10, 10, 40, 5],
            "mean": [100.0, 90.0, 50.0, 20.0, 999.0],
            "var": [4.0, 9.0, 1.0, 16.0, 0.0],
        }
    )
    out = estimate_att(stats, 6)
    assert out is not None
    assert out.att == (30 * 10 + 10 * 30) / 40  # stratum c has no comparables: unmatched
    assert out.members_unmatched == 5 and out.members_matched == 40
    var = (0.75**2) * (4 / 30 + 9 / 10) + (0.25**2) * (1 / 10 + 16 / 40)
    assert abs((out.high - out.att) - 1.96 * var**0.5) < 1e-9
