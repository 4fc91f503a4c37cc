"""Value stage on every engine: summaries, RFM, KPIs, revenue concentration, cohorts."""

from __future__ import annotations

import datetime as dt

import pytest

from cvm.value.cohorts import cohort_matrix
from cvm.value.kpis import kpis_over_time, revenue_concentration
from cvm.value.rfm import compute_rfm
from cvm.value.summaries import summarize_transactions
from tests.engines.compare import assert_same_table
from tests.engines.conftest import Pair


@pytest.mark.parametrize("unit", ["week", "day"])
def test_summaries(demo: Pair, observation_end: dt.date, unit: str) -> None:
    got = summarize_transactions(demo.engine, observation_end, time_unit=unit)  # type: ignore[arg-type]
    want = summarize_transactions(demo.baseline, observation_end, time_unit=unit)  # type: ignore[arg-type]
    assert_same_table(got, want, ["customer_id"])
    assert got.num_rows > 500


def test_summaries_with_holdout(demo: Pair, observation_end: dt.date) -> None:
    calibration_end = observation_end - dt.timedelta(days=120)
    got = summarize_transactions(demo.engine, observation_end, calibration_end=calibration_end)
    want = summarize_transactions(demo.baseline, observation_end, calibration_end=calibration_end)
    assert_same_table(got, want, ["customer_id"])
    assert sum(got.column("frequency_holdout").to_pylist()) > 0


def test_rfm(demo: Pair, observation_end: dt.date) -> None:
    got = compute_rfm(demo.engine, observation_end)
    want = compute_rfm(demo.baseline, observation_end)
    assert_same_table(got, want, ["customer_id"])
    assert len(set(want.column("rfm_segment").to_pylist())) >= 5


def test_kpis_over_time(demo: Pair, observation_end: dt.date) -> None:
    got = kpis_over_time(demo.engine, observation_end)
    want = kpis_over_time(demo.baseline, observation_end)
    assert_same_table(got, want, [want.column_names[0]])


def test_revenue_concentration(demo: Pair, observation_end: dt.date) -> None:
    got_shares, got_curve = revenue_concentration(demo.engine, observation_end)
    want_shares, want_curve = revenue_concentration(demo.baseline, observation_end)
    assert got_shares == pytest.approx(want_shares, rel=1e-9)
    assert_same_table(got_curve, want_curve, [want_curve.column_names[0]])


def test_cohort_matrix(demo: Pair, observation_end: dt.date) -> None:
    got = cohort_matrix(demo.engine, observation_end)
    want = cohort_matrix(demo.baseline, observation_end)
    assert_same_table(got, want, want.column_names[:2])
