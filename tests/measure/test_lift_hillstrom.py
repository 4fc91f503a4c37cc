"""estimate_lift on the real Hillstrom (2008) e-mail experiment, 64,000 customers.

Published group figures (MineThatData challenge; verified from the file with a plain
groupby below): visit Mens 18.28%, Womens 15.14%, No E-Mail 10.62%; conversion 1.25%,
0.88%, 0.57%; spend per customer $1.42, $1.08, $0.65.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from cvm.measure.lift import estimate_lift
from cvm.measure.results import LiftReport
from tests.conftest import shared_file

CONTROL = "No E-Mail"
PUBLISHED = {
    "visit": {"Mens E-Mail": 18.28, "Womens E-Mail": 15.14, CONTROL: 10.62},
    "conversion": {"Mens E-Mail": 1.25, "Womens E-Mail": 0.88, CONTROL: 0.57},
}
PUBLISHED_SPEND = {"Mens E-Mail": 1.42, "Womens E-Mail": 1.08, CONTROL: 0.65}


@pytest.fixture(scope="module")
def hillstrom() -> pd.DataFrame:
    df = pd.read_csv(shared_file("hillstrom.csv"))
    return df.reset_index(names="customer_id")


@pytest.fixture(scope="module")
def report(hillstrom: pd.DataFrame) -> LiftReport:
    return estimate_lift(
        hillstrom,
        arm="segment",
        control_arm=CONTROL,
        converted=["visit", "conversion"],
        revenue="spend",
        breakdown_by=["channel"],
    )


def test_published_figures_hold_in_the_file(hillstrom: pd.DataFrame) -> None:
    assert len(hillstrom) == 64_000
    by = hillstrom.groupby("segment")[["visit", "conversion", "spend"]].mean()
    for metric, figures in PUBLISHED.items():
        for seg, pct in figures.items():
            assert round(100 * by.loc[seg, metric], 2) == pct
    for seg, dollars in PUBLISHED_SPEND.items():
        assert round(by.loc[seg, "spend"], 2) == dollars


def test_estimate_lift_reproduces_group_rates(hillstrom: pd.DataFrame, report: LiftReport) -> None:
    by = hillstrom.groupby("segment")[["visit", "conversion", "spend"]].agg(["mean", "size"])
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        res = report.arm(arm)
        assert res.n_treatment == by.loc[arm, ("visit", "size")]
        assert res.n_control == by.loc[CONTROL, ("visit", "size")]
        for metric in ("visit", "conversion"):
            m = res.metric(metric)
            assert round(100 * m.treatment_value, 2) == PUBLISHED[metric][arm]
            assert round(100 * m.control_value, 2) == PUBLISHED[metric][CONTROL]
            assert m.treatment_value == pytest.approx(by.loc[arm, (metric, "mean")], abs=1e-15)
            assert m.control_value == pytest.approx(by.loc[CONTROL, (metric, "mean")], abs=1e-15)
        spend = res.metric("spend")
        assert round(spend.treatment_value, 2) == PUBLISHED_SPEND[arm]
        assert round(spend.control_value, 2) == PUBLISHED_SPEND[CONTROL]


def test_lifts_are_significant(report: LiftReport) -> None:
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        res = report.arm(arm)
        assert res.metric("visit").p_adjusted < 0.001
        assert res.metric("conversion").p_adjusted < 0.001
        assert res.metric("spend").p_adjusted < 0.01
        for m in res.metrics:
            assert m.absolute_low > 0 and m.relative_low > 0
    # the Mens e-mail beat the Womens e-mail on every outcome
    for metric in ("visit", "conversion", "spend"):
        assert (
            report.arm("Mens E-Mail").metric(metric).absolute_lift
            > report.arm("Womens E-Mail").metric(metric).absolute_lift
        )


def test_intervals_and_p_values_match_reference_implementations(
    hillstrom: pd.DataFrame, report: LiftReport
) -> None:
    ctl = hillstrom[hillstrom["segment"] == CONTROL]
    raw = {}
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        trt = hillstrom[hillstrom["segment"] == arm]
        visit = report.arm(arm).metric("visit")
        ref = confint_proportions_2indep(
            trt["visit"].sum(), len(trt), ctl["visit"].sum(), len(ctl), method="newcomb"
        )
        np.testing.assert_allclose((visit.absolute_low, visit.absolute_high), ref, atol=1e-12)
        spend = report.arm(arm).metric("spend")
        welch = stats.ttest_ind(trt["spend"], ctl["spend"], equal_var=False)
        ci = welch.confidence_interval(0.95)
        np.testing.assert_allclose((spend.absolute_low, spend.absolute_high), (ci.low, ci.high))
        assert spend.p_value == pytest.approx(welch.pvalue, rel=1e-9)
        raw[arm] = spend.p_value
    holm = multipletests(list(raw.values()), method="holm")[1]
    for (arm, _), adj in zip(raw.items(), holm, strict=True):
        assert report.arm(arm).metric("spend").p_adjusted == pytest.approx(adj, rel=1e-12)


def test_incremental_figures_scale_to_the_treated_population(report: LiftReport) -> None:
    mens = report.arm("Mens E-Mail")
    visit = mens.metric("visit")
    assert visit.incremental == pytest.approx(visit.absolute_lift * 21_307)
    assert round(visit.incremental) == 1632  # extra visitors from the Mens e-mail
    assert round(mens.metric("spend").incremental) == 16_403  # extra dollars


def test_breakdown_by_channel_matches_groupby(hillstrom: pd.DataFrame, report: LiftReport) -> None:
    by = hillstrom.groupby(["segment", "channel"])["visit"].mean()
    cells = [c for c in report.breakdowns if c.breakdown_column == "channel"]
    assert {c.breakdown_value for c in cells} == set(hillstrom["channel"])
    for c in cells:
        assert c.metric("visit").treatment_value == pytest.approx(by[(c.arm, c.breakdown_value)])
        assert c.metric("visit").control_value == pytest.approx(by[(CONTROL, c.breakdown_value)])
    total = sum(c.n_treatment for c in cells if c.arm == "Mens E-Mail")
    assert total == report.arm("Mens E-Mail").n_treatment


def test_bootstrap_agrees_with_welch_on_a_large_sample(hillstrom: pd.DataFrame) -> None:
    kwargs = {"arm": "segment", "control_arm": CONTROL, "converted": "visit", "revenue": "spend"}
    boot = estimate_lift(
        hillstrom[hillstrom["segment"] != "Womens E-Mail"],
        mean_interval="bootstrap",
        seed=2008,
        n_resamples=400,
        **kwargs,  # type: ignore[arg-type]
    )
    spend = boot.arm("Mens E-Mail").metric("spend")
    assert spend.interval_method.startswith("bootstrap-bca")
    assert spend.absolute_low == pytest.approx(0.485, abs=0.04)
    assert spend.absolute_high == pytest.approx(1.055, abs=0.04)
