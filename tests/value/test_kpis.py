from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cvm.value.cohorts import cohort_matrix
from cvm.value.kpis import kpis_over_time, revenue_concentration
from tests.value.test_rfm import _engine_with

AS_OF = dt.date(2024, 12, 31)
WINDOW = 60


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in rng.integers(0, 400, n)],
            "occurred_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 366 * 24, n), unit="h"),
            "amount": rng.gamma(2.0, 25.0, n).round(2),
        }
    )


@pytest.fixture(scope="module")
def engine(tx: pd.DataFrame):  # type: ignore[no-untyped-def]
    return _engine_with(tx)


def test_monthly_kpis_match_pandas(engine, tx: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    got = kpis_over_time(engine, AS_OF, churn_window_days=WINDOW).to_pandas()
    assert len(got) == 12
    tx = tx.assign(day=tx["occurred_at"].dt.normalize(), month=tx["occurred_at"].dt.to_period("M"))
    days = tx.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    active_sets = {}
    for i, row in got.iterrows():
        start = pd.Timestamp(row["month"])
        end = start + pd.offsets.MonthEnd(0)
        in_month = days[(days["day"] >= start) & (days["day"] <= end)]
        assert row["revenue"] == pytest.approx(in_month["amount"].sum(), rel=1e-9)
        assert row["orders"] == len(in_month)
        assert row["paying_customers"] == in_month["customer_id"].nunique()
        window = days[(days["day"] <= end) & (days["day"] > end - pd.Timedelta(days=WINDOW))]
        active = set(window["customer_id"])
        active_sets[i] = active
        assert row["active_customers"] == len(active)
        assert row["arpu"] == pytest.approx(row["revenue"] / len(active))
        if i > 0:
            prev = active_sets[i - 1]
            assert row["retention_rate"] == pytest.approx(len(prev & active) / len(prev))
            assert row["churn_rate"] == pytest.approx(1 - len(prev & active) / len(prev))


def test_revenue_concentration_matches_pandas(engine, tx: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    shares, curve = revenue_concentration(engine, AS_OF)
    rev = tx.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    n = len(rev)
    for label, frac in (("top_1pct", 0.01), ("top_10pct", 0.10), ("top_20pct", 0.20)):
        k = max(1, int(n * frac))
        assert shares[label] == pytest.approx(rev.iloc[:k].sum() / rev.sum(), rel=1e-9)
    assert curve.column("revenue_share").to_pylist()[-1] == pytest.approx(1.0)
    assert shares["top_1pct"] < shares["top_10pct"] < shares["top_20pct"]


def test_cohort_matrix_matches_pandas(engine, tx: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    got = cohort_matrix(engine, AS_OF).to_pandas()
    tx = tx.assign(month=tx["occurred_at"].dt.to_period("M"))
    cohort = tx.groupby("customer_id")["month"].min().rename("cohort")
    tx = tx.join(cohort, on="customer_id")
    tx["offset"] = (tx["month"] - tx["cohort"]).apply(lambda d: d.n)
    expected = (
        tx.groupby(["cohort", "offset"])
        .agg(active=("customer_id", "nunique"), revenue=("amount", "sum"))
        .reset_index()
    )
    sizes = cohort.value_counts()
    assert len(got) == len(expected)
    got = got.sort_values(["cohort_month", "month_offset"]).reset_index(drop=True)
    expected = expected.sort_values(["cohort", "offset"]).reset_index(drop=True)
    assert (got["month_offset"].to_numpy() == expected["offset"].to_numpy()).all()
    assert (got["active"].to_numpy() == expected["active"].to_numpy()).all()
    np.testing.assert_allclose(got["revenue"], expected["revenue"], rtol=1e-9)
    first = got[got["month_offset"] == 0]
    assert (first["retention"] == 1.0).all()
    assert sorted(first["cohort_size"].tolist()) == sorted(sizes.tolist())


def test_kpis_by_segment_groups_customer_360_and_refuses_unknown_dimensions() -> None:
    import pyarrow as pa

    from cvm.core.errors import UserInputError
    from cvm.profiles.views import ensure_profile_tables
    from cvm.value.kpis import kpis_by_segment

    df = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "occurred_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "amount": [10.0, 20.0, 30.0],
        }
    )
    engine = _engine_with(df)
    ensure_profile_tables(engine)
    engine.write_arrow(
        "customers", pa.table({"customer_id": ["a", "b", "c"], "country": ["RU", "GB", None]})
    )
    got = {
        r["segment"]: r
        for r in kpis_by_segment(engine, "country", dt.date(2024, 3, 31)).to_pylist()
    }
    assert got["RU"]["revenue"] == 40.0 and got["RU"]["repeat_purchase_rate"] == 1.0
    assert got["GB"]["revenue"] == 20.0 and got["GB"]["avg_order_value"] == 20.0
    assert got["(none)"]["customers"] == 1 and got["(none)"]["revenue"] == 0
    with pytest.raises(UserInputError, match="cannot break KPIs down"):
        kpis_by_segment(engine, "email; drop table x", dt.date(2024, 3, 31))
