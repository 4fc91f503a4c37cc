"""Predicted vs realised uplift by decile, and marketing vs global control per month, on
simulations with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvm.core.errors import UserInputError
from cvm.measure.deciles import uplift_by_decile
from cvm.measure.program import estimate_program_lift


def test_a_good_model_ranks_and_a_random_one_does_not() -> None:
    rng = np.random.default_rng(3)
    n = 60_000
    tau = rng.uniform(0.0, 0.10, n)  # true individual uplift
    treated = rng.random(n) < 0.5
    y = (rng.random(n) < 0.05 + treated * tau).astype(int)
    good = uplift_by_decile(tau + rng.normal(0, 0.01, n), treated, y)
    table = good.table
    assert list(table["decile"]) == list(range(1, 11))
    assert table["customers"].sum() == n and table["customers"].nunique() == 1
    assert good.rank_correlation > 0.8 and good.top_minus_bottom > 0.05
    # each decile's interval covers the decile's true mean uplift (checked on most deciles)
    order = np.argsort(-(tau + rng.normal(0, 0.01, n)))
    assert (table["realised_low"] < table["predicted"] + 0.02).all()
    covered = (table["realised_low"] <= table["predicted"]) & (
        table["predicted"] <= table["realised_high"]
    )
    assert covered.sum() >= 8
    random = uplift_by_decile(rng.random(n), treated, y)
    assert abs(random.top_minus_bottom) < 0.03
    del order


def test_decile_refusals() -> None:
    with pytest.raises(UserInputError, match="both treated and control"):
        uplift_by_decile(np.arange(40.0), np.ones(40, bool), np.zeros(40))
    with pytest.raises(UserInputError, match="no predicted"):
        uplift_by_decile([np.nan] * 40, [True, False] * 20, np.zeros(40))


def _program(seed: int = 1) -> pd.DataFrame:
    """10% global control; marketing adds 2 pp conversion from March."""
    rng = np.random.default_rng(seed)
    n = 40_000
    control = rng.random(n) < 0.10
    rows = []
    for k, month in enumerate(["2025-01", "2025-02", "2025-03", "2025-04"]):
        effect = (k >= 2) & ~control
        conv = (rng.random(n) < 0.10 + 0.02 * effect).astype(int)
        revenue = conv * rng.gamma(4.0, 10.0, n) + 3.0 * effect * conv / 0.12
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "month": month,
                    "global_control": control,
                    "converted": conv,
                    "revenue": revenue,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_program_lift_per_month_and_overall() -> None:
    report = estimate_program_lift(_program())
    months = {m.breakdown_value: m.metric("converted") for m in report.months}
    assert set(months) == {"2025-01", "2025-02", "2025-03", "2025-04"}
    for early in ("2025-01", "2025-02"):
        assert months[early].absolute_low < 0 < months[early].absolute_high
    for late in ("2025-03", "2025-04"):
        assert months[late].absolute_low < 0.02 < months[late].absolute_high
        assert months[late].p_value < 0.05  # power ~98% at this size
    assert report.overall is not None
    assert report.overall.n_treatment + report.overall.n_control == 40_000
    assert report.control_share == pytest.approx(0.10, abs=0.005)
    assert report.overall.metric("converted").absolute_low > 0
    frame = report.to_frame()
    assert set(frame["period"]) == {"2025-01", "2025-02", "2025-03", "2025-04", "all"}


def test_program_drops_customers_who_changed_group_from_the_overall() -> None:
    df = _program()
    df.loc[(df.customer_id == "c0") & (df.month == "2025-04"), "global_control"] = ~df.loc[
        (df.customer_id == "c0") & (df.month == "2025-04"), "global_control"
    ]
    report = estimate_program_lift(df)
    assert report.overall is not None
    assert report.overall.n_treatment + report.overall.n_control == 39_999
    assert any("changed group" in w for w in report.warnings)
