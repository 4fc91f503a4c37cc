"""Control groups: the same hash in SQL and Python, scheduled redraws, propensities, SMD."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.decide.config import GlobalControl
from cvm.decide.control_groups import (
    assignment_probability,
    balance_table,
    global_control_mask,
    global_control_sql,
    offer_control_mask,
    standardized_mean_difference,
)
from cvm.engine.duckdb_engine import DuckDBEngine

DAY = dt.date(2025, 3, 10)


def test_sql_and_python_agree() -> None:
    control = GlobalControl(salt="gc", share=0.2)
    ids = [f"cust-{i}" for i in range(2000)]
    engine = DuckDBEngine()
    engine.register_arrow("ids", pa.table({"customer_id": ids}))
    query = (
        exp.select(
            "customer_id",
            global_control_sql(exp.column("customer_id"), control, DAY, "duckdb").as_("g"),
        )
        .from_("ids")
        .order_by("customer_id")
    )
    sql = dict(engine.fetch_rows(query))
    py = dict(zip(ids, global_control_mask(ids, control, DAY), strict=True))
    assert sql == {k: bool(v) for k, v in py.items()}
    assert 0.17 < np.mean(list(py.values())) < 0.23


def test_scheduled_redraw_changes_membership_only_at_the_boundary() -> None:
    control = GlobalControl(
        salt="gc", share=0.3, drawn_on=dt.date(2025, 1, 1), redraw_every_days=90
    )
    ids = [str(i) for i in range(3000)]
    jan = global_control_mask(ids, control, dt.date(2025, 1, 5))
    mar = global_control_mask(ids, control, dt.date(2025, 3, 31))
    apr = global_control_mask(ids, control, dt.date(2025, 4, 2))
    assert (jan == mar).all()
    assert 0.3 < (jan != apr).mean() < 0.55  # an independent redraw: 2·0.3·0.7 = 0.42 change
    assert control.next_redraw(dt.date(2025, 3, 31)) == dt.date(2025, 4, 1)


def test_offer_control_share_and_propensities() -> None:
    ids = [str(i) for i in range(5000)]
    mask = offer_control_mask(ids, ["o"] * 5000, {"o": 0.1}, {"o": ""})
    assert 0.085 < mask.mean() < 0.115
    other = offer_control_mask(ids, ["p"] * 5000, {"p": 0.1}, {"p": ""})
    assert (mask != other).any()  # each offer draws its own group
    p = assignment_probability(
        0.05,
        np.array([0.1, 0.1, 0.1]),
        np.array([True, False, False]),
        np.array([False, True, False]),
    )
    assert np.allclose(p, [0.05, 0.95 * 0.1, 0.95 * 0.9])


def test_smd_matches_formula_and_flags() -> None:
    rng = np.random.default_rng(0)
    t, c = rng.normal(1.0, 2.0, 4000), rng.normal(0.0, 1.0, 3000)
    expected = (t.mean() - c.mean()) / np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2)
    assert np.isclose(standardized_mean_difference(t, c), expected)
    frame = pd.DataFrame(
        {
            "control": [False] * 4000 + [True] * 3000,
            "clv": np.r_[t, c],
            "orders": rng.normal(5, 1, 7000),
        }
    )
    table = balance_table(frame, "control", features=("clv", "orders"))
    # equal distributions: SMD's standard error is sqrt(1/4000 + 1/3000) ≈ 0.024 ≪ 0.1
    flags = dict(zip(table["feature"], table["flag"], strict=True))
    assert flags == {"clv": True, "orders": False}
