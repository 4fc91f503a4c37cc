"""measure_campaign_frame: a simulated campaign with known truth, breakdowns by a treatment
attribute and a pre-assignment attribute, CUPED with and without pre-period proof, ROI, the
treatment-only rule and the stored row shape."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvm.core.errors import UserInputError
from cvm.measure.campaign_results import measure_campaign_frame
from cvm.measure.cuped import Covariate

ASSIGNED = dt.datetime(2025, 3, 1, 10)
LATER = dt.datetime(2025, 6, 1)


def _frame(seed: int = 0, n: int = 40_000, own_holdout: bool = False) -> pd.DataFrame:
    """20% control. Segment 'lapsed' has uplift 4 pp on a 5% base, 'active' 0 on 20%.
    Revenue = 50 per buyer + noise correlated with the pre-period spend."""
    rng = np.random.default_rng(seed)
    control = rng.random(n) < 0.2
    segment = rng.choice(["active", "lapsed"], size=n)
    base = np.where(segment == "active", 0.20, 0.05)
    uplift = np.where(segment == "lapsed", 0.04, 0.0)
    converted = (rng.random(n) < base + np.where(control, 0.0, uplift)).astype(int)
    pre = rng.gamma(2.0, 50.0, n)
    revenue = converted * 50.0 + 0.2 * pre + rng.normal(0, 5, n)
    channel = np.where(control, None, rng.choice(["email", "sms"], size=n))
    offer = np.where(control & ~own_holdout, None, "voucher")
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "arm": np.where(control & ~own_holdout, "control", "voucher"),
            "is_control": control,
            "assigned_at": ASSIGNED,
            "assignment_probability": np.where(control, 0.2, 0.8),
            "channel": channel,
            "offer_id": offer,
            "segment": segment,
            "converted": converted,
            "revenue": revenue,
            "margin": 0.4 * revenue,
            "cost": np.where(control, 0.0, 0.1),
            "opened": np.where(control, 0, (rng.random(n) < 0.3).astype(int)),
            "pre_revenue": pre,
            "pre_orders": rng.poisson(2, n).astype(float),
            "pre_period_end": ASSIGNED,
        }
    )


def test_overall_and_segment_lift_recover_the_truth() -> None:
    df = _frame()
    m = measure_campaign_frame(df, campaign_id="c", window_days=14, as_of=LATER, by=["segment"])
    conv = m.overall[0].metric("converted")
    assert conv.absolute_low < 0.02 < conv.absolute_high  # average uplift 0.5 * 4 pp
    cells = {c.breakdown_value: c.metric("converted") for c in m.breakdowns}
    assert cells["lapsed"].absolute_low < 0.04 < cells["lapsed"].absolute_high
    assert cells["lapsed"].p_adjusted < 0.001
    assert cells["active"].absolute_low < 0 < cells["active"].absolute_high
    # the segment cell compares lapsed treated with lapsed control only
    t = df[(df.segment == "lapsed") & ~df.is_control]
    c = df[(df.segment == "lapsed") & df.is_control]
    assert cells["lapsed"].treatment_value == pytest.approx(t.converted.mean())
    assert cells["lapsed"].control_value == pytest.approx(c.converted.mean())
    assert m.window_complete and m.cost_known


def test_holm_across_cells_of_one_breakdown() -> None:
    m = measure_campaign_frame(
        _frame(), campaign_id="c", window_days=14, as_of=LATER, by=["segment"]
    )
    p = [c.metric("converted").p_value for c in m.breakdowns]
    adjusted = [c.metric("converted").p_adjusted for c in m.breakdowns]
    lo, hi = sorted(range(2), key=lambda i: p[i])
    assert adjusted[lo] == pytest.approx(min(1.0, 2 * p[lo]))
    assert adjusted[hi] == pytest.approx(max(adjusted[lo], p[hi]))


def test_uncontacted_control_without_channel_is_compared_whole_with_a_warning() -> None:
    df = _frame()
    m = measure_campaign_frame(df, campaign_id="c", window_days=14, as_of=LATER, by=["channel"])
    assert {c.breakdown_value for c in m.breakdowns} == {"email", "sms"}
    for cell in m.breakdowns:
        assert cell.n_control == int(df.is_control.sum())
    assert any("control has no 'channel'" in w for w in m.warnings)


def test_own_holdouts_are_recognised() -> None:
    m = measure_campaign_frame(
        _frame(own_holdout=True), campaign_id="c", window_days=14, as_of=LATER
    )
    assert m.overall[0].control_group == "voucher (holdout)"


def test_cuped_shrinks_the_revenue_interval_and_leaves_conversion_exact() -> None:
    df = _frame()
    plain = measure_campaign_frame(df, campaign_id="c", window_days=14, as_of=LATER)
    cuped = measure_campaign_frame(df, campaign_id="c", window_days=14, as_of=LATER, cuped=True)
    width = [
        r.overall[0].metric("revenue").absolute_high - r.overall[0].metric("revenue").absolute_low
        for r in (plain, cuped)
    ]
    assert width[1] < 0.9 * width[0]
    assert cuped.cuped["revenue"] > 0.1
    rho = stats.pearsonr(df.pre_revenue, df.revenue).statistic
    assert cuped.cuped["revenue"] == pytest.approx(rho**2, abs=0.05)  # 1 - rho^2 (Deng eq. 5)
    assert cuped.overall[0].metric("revenue").interval_method.startswith("cuped")
    assert cuped.overall[0].metric("converted") == plain.overall[0].metric("converted")


def test_cuped_refuses_a_covariate_measured_after_assignment() -> None:
    df = _frame().assign(spend_after=lambda d: d.revenue * 2, after_at=LATER)
    with pytest.raises(UserInputError, match="spend_after"):
        measure_campaign_frame(
            df,
            campaign_id="c",
            window_days=14,
            as_of=LATER,
            cuped=True,
            covariates=[Covariate("spend_after", measured_at="after_at")],
        )


def test_roi_treatment_only_and_rows() -> None:
    df = _frame()
    m = measure_campaign_frame(df, campaign_id="c", window_days=14, as_of=LATER)
    arm = m.overall[0]
    t, c = df[~df.is_control], df[df.is_control]
    inc_margin = (t.margin.mean() - c.margin.mean()) * len(t)
    assert arm.roi == pytest.approx((inc_margin - 0.1 * len(t)) / (0.1 * len(t)))
    assert "opened" not in [x.metric for x in arm.metrics]
    assert arm.treatment_only["opened"] == pytest.approx(t.opened.mean())
    rows = pd.DataFrame(m.rows())
    assert set(rows.metric) == {"converted", "revenue", "margin", "opened"}
    opened = rows[rows.metric == "opened"].iloc[0]
    assert opened.kind == "treatment_only" and np.isnan(opened.absolute_lift)
    assert (rows.breakdown_column == "all").all()


def test_sample_ratio_mismatch_and_partial_window_warn() -> None:
    df = _frame()
    keep = ~(df.is_control & (np.arange(len(df)) % 3 == 0))  # lose a third of the control
    m = measure_campaign_frame(
        df[keep], campaign_id="c", window_days=14, as_of=ASSIGNED + dt.timedelta(days=3)
    )
    assert any("sample ratio mismatch" in w for w in m.warnings)
    assert not m.window_complete and any("interim" in w for w in m.warnings)


def test_refusals() -> None:
    df = _frame()
    with pytest.raises(UserInputError, match="no control group"):
        measure_campaign_frame(df[~df.is_control], campaign_id="c", window_days=14, as_of=LATER)
    with pytest.raises(UserInputError, match="break down"):
        measure_campaign_frame(df, campaign_id="c", window_days=14, as_of=LATER, by=["nope"])
