"""estimate_lift on simulated campaigns with known truth, its control designs, ROI, the
treatment-only rule, and its refusals of bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from cvm.core.errors import UserInputError
from cvm.measure.lift import estimate_lift


def _campaign(seed: int = 0, n: int = 30_000) -> pd.DataFrame:
    """Control 4% response, arm A 5%, arm B 4% (no effect); buyers spend ~$50, margin 40%."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "A", "B"], size=n, p=[0.2, 0.4, 0.4])
    rate = np.select([arm == "A"], [0.05], 0.04)
    converted = (rng.random(n) < rate).astype(int)
    revenue = converted * rng.gamma(5.0, 10.0, n)
    opens = np.where(arm == "control", 0, (rng.random(n) < 0.3).astype(int))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "arm": arm,
            "converted": converted,
            "revenue": revenue,
            "margin": 0.4 * revenue,
            "opens": opens,
            "channel": rng.choice(["email", "sms"], size=n),
            "cost": np.where(arm == "control", 0.0, 0.05),
        }
    )


def test_known_lift_is_recovered_and_null_arm_is_not_significant() -> None:
    rep = estimate_lift(_campaign(), control_arm="control", margin="margin", cost="cost")
    a, b = rep.arm("A").metric("converted"), rep.arm("B").metric("converted")
    assert a.absolute_low < 0.01 < a.absolute_high
    assert a.p_adjusted < 0.01
    assert b.absolute_low < 0.0 < b.absolute_high and b.p_adjusted > 0.05
    rev = rep.arm("A").metric("revenue")
    assert rev.absolute_low < 0.5 < rev.absolute_high  # truth: 1 pp x $50


def test_roi_definition() -> None:
    df = _campaign()
    rep = estimate_lift(df, control_arm="control", margin="margin", cost="cost")
    a = rep.arm("A")
    trt, ctl = df[df["arm"] == "A"], df[df["arm"] == "control"]
    inc_margin = (trt["margin"].mean() - ctl["margin"].mean()) * len(trt)
    cost = 0.05 * len(trt)
    assert a.metric("margin").incremental == pytest.approx(inc_margin)
    assert a.cost == pytest.approx(cost)
    assert a.roi == pytest.approx((inc_margin - cost) / cost)
    m = a.metric("margin")
    assert a.roi_low == pytest.approx((m.incremental_low - cost) / cost)
    assert a.roi_high == pytest.approx((m.incremental_high - cost) / cost)
    # the same with one cost per contact and margin as a rate of revenue
    same = estimate_lift(
        df.drop(columns="margin"), control_arm="control", margin_rate=0.4, cost_per_contact=0.05
    ).arm("A")
    assert same.roi == pytest.approx(a.roi)
    # scaled to a larger audience: incremental and cost scale, ROI does not
    big = estimate_lift(
        df, control_arm="control", margin="margin", cost="cost", treated_population={"A": 1e6}
    ).arm("A")
    assert big.metric("converted").incremental == pytest.approx(
        big.metric("converted").absolute_lift * 1e6
    )
    assert big.roi == pytest.approx(a.roi)
    no_margin = estimate_lift(df, control_arm="control", cost="cost").arm("A")
    assert no_margin.roi is None  # revenue is not a return


def test_treatment_only_metrics_are_never_compared() -> None:
    df = _campaign()
    rep = estimate_lift(df, control_arm="control", treatment_only=["opens"])
    a = rep.arm("A")
    assert [m.metric for m in a.metrics] == ["converted", "revenue"]
    assert a.treatment_only["opens"] == pytest.approx(df.loc[df["arm"] == "A", "opens"].mean())
    frame = rep.to_frame()
    assert "treatment_only_opens" in frame.columns
    assert not any("opens" in str(v) for v in frame["metric"])
    assert rep.warnings == []
    with pytest.raises(UserInputError, match="cannot be both compared and treatment-only"):
        estimate_lift(df, control_arm="control", treatment_only=["converted"])


def test_contacted_control_is_flagged() -> None:
    df = _campaign()
    df.loc[df.index[df["arm"] == "control"][:5], "opens"] = 1
    rep = estimate_lift(df, control_arm="control", treatment_only=["opens"])
    assert any("5 control customer(s) have non-zero 'opens'" in w for w in rep.warnings)


def test_holm_across_arms_matches_statsmodels() -> None:
    rep = estimate_lift(_campaign(1), control_arm="control")
    raw = [rep.arm(a).metric("revenue").p_value for a in ("A", "B")]
    ref = multipletests(raw, method="holm")[1]
    got = [rep.arm(a).metric("revenue").p_adjusted for a in ("A", "B")]
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_per_arm_holdouts_and_shared_control_flag() -> None:
    df = _campaign()
    df["offer"] = np.where(
        df["arm"] == "control", np.random.default_rng(0).choice(["A", "B"], len(df)), df["arm"]
    )
    df["holdout"] = (df["arm"] == "control").astype(int)
    own = estimate_lift(df, arm="offer", is_control="holdout")
    a = own.arm("A")
    assert a.control_group == "A (holdout)"
    assert a.n_control == int(((df["offer"] == "A") & (df["holdout"] == 1)).sum())
    shared = estimate_lift(df, arm="arm", is_control="holdout")
    assert shared.arm("A").n_control == int(df["holdout"].sum())
    assert shared.arm("A").control_group == "control"
    broken = df[~((df["offer"] == "B") & (df["holdout"] == 1))]
    with pytest.raises(UserInputError, match="arm\\(s\\) B have no control rows"):
        estimate_lift(broken, arm="offer", is_control="holdout")


def test_breakdown_cells_and_missing_levels() -> None:
    df = _campaign()
    df.loc[df.index[:40], "channel"] = None
    rep = estimate_lift(df, control_arm="control", breakdown_by=["channel"])
    levels = {c.breakdown_value for c in rep.breakdowns}
    assert levels == {"email", "sms", "<NA>"}
    for arm in ("A", "B"):
        assert (
            sum(c.n_treatment for c in rep.breakdowns if c.arm == arm) == rep.arm(arm).n_treatment
        )
    only_email_control = df[~((df["arm"] == "control") & (df["channel"] == "sms"))]
    rep2 = estimate_lift(only_email_control, control_arm="control", breakdown_by=["channel"])
    assert any("channel=sms in arm A: no control customers" in w for w in rep2.warnings)


def test_small_control_and_sample_ratio_mismatch_are_warned() -> None:
    df = _campaign()
    ctl = df.index[df["arm"] == "control"]
    small = df.drop(ctl[200:])
    rep = estimate_lift(small, control_arm="control", expected_control_share=0.2)
    assert any("too small to say anything" in w for w in rep.warnings)
    assert any("sample ratio mismatch" in w for w in rep.warnings)
    assert rep.arm("A").control_warning is not None
    ok = estimate_lift(df, control_arm="control", expected_control_share=0.2)
    assert not any("sample ratio mismatch" in w for w in ok.warnings)


def test_to_dict_is_strict_json_and_to_frame_is_long() -> None:
    df = _campaign(n=3000)
    df.loc[df["arm"] == "control", "converted"] = 0  # no control responders: rel. lift undefined
    df.loc[df["arm"] == "control", "revenue"] = 0.0
    rep = estimate_lift(df, control_arm="control", breakdown_by=["channel"])
    text = json.dumps(rep.to_dict(), allow_nan=False)
    assert '"relative_lift": null' in text
    frame = rep.to_frame()
    assert len(frame) == (2 + 2 * 2) * 2  # (2 arms + 2 arms x 2 channels) x 2 metrics
    assert len(rep.to_frame(include_breakdowns=False)) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(customer_id="same"), "duplicate customer"),
        (lambda d: d.assign(converted=d["converted"] * 2), "'converted' must be 0/1"),
        (lambda d: d.assign(revenue=d["revenue"].where(d.index != 7)), "'revenue' has 1 missing"),
        (lambda d: d.drop(columns="revenue"), "'revenue'.* not in the data"),
        (lambda d: d.assign(arm=d["arm"].where(d.index != 3)), "missing arm"),
    ],
)
def test_bad_input_is_named(change: object, message: str) -> None:
    df = change(_campaign(n=500))  # type: ignore[operator]
    with pytest.raises(UserInputError, match=message):
        estimate_lift(df, control_arm="control")


def test_argument_conflicts() -> None:
    df = _campaign(n=500)
    with pytest.raises(UserInputError, match="exactly one of"):
        estimate_lift(df)
    with pytest.raises(UserInputError, match="'nobody' does not occur"):
        estimate_lift(df, control_arm="nobody")
    with pytest.raises(UserInputError, match="explicit seed"):
        estimate_lift(df, control_arm="control", mean_interval="bootstrap")
    with pytest.raises(UserInputError, match="treated_population names arm\\(s\\) Z"):
        estimate_lift(df, control_arm="control", treated_population={"Z": 10})
    untracked = df.assign(opens=df["opens"].where(df["arm"] != "A"))
    with pytest.raises(UserInputError, match="'opens' has"):
        estimate_lift(untracked, control_arm="control", treatment_only=["opens"])
    control_nan = df.assign(opens=df["opens"].where(df["arm"] != "control"))
    estimate_lift(control_nan, control_arm="control", treatment_only=["opens"])
