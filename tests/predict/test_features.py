"""Features as of a cutoff: correct against pandas, and blind to anything after the cutoff."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from cvm.demo import generate_company, load_company_into
from cvm.predict.features import build_features, choose_spec, churn_labels
from cvm.workspace import init_workspace

CUTOFF = dt.datetime(2024, 7, 1)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path_factory.mktemp("feat") / "ws")
    load_company_into(ws.engine, generate_company(n_customers=1500, seed=3))
    yield ws
    ws.close()


def test_features_match_pandas(ws) -> None:  # type: ignore[no-untyped-def]
    spec = choose_spec(ws.engine, CUTOFF)
    feats = build_features(ws.engine, CUTOFF, spec)
    tx = ws.engine.fetch_arrow(
        "SELECT customer_id, occurred_at, CAST(amount AS DOUBLE) AS amount, is_return FROM transactions"
    ).to_pandas()
    tx = tx[(tx["occurred_at"] < CUTOFF) & ~tx["is_return"]]
    days = (
        tx.groupby(["customer_id", tx["occurred_at"].dt.normalize()])["amount"].sum().reset_index()
    )
    g = days.groupby("customer_id").agg(
        orders=("amount", "size"), revenue=("amount", "sum"), last=("occurred_at", "max")
    )
    got = feats.loc[g.index]
    assert (got["orders"] == g["orders"]).all()
    assert got["revenue"].to_numpy() == pytest.approx(g["revenue"].to_numpy())
    assert (got["recency_days"] == (pd.Timestamp(CUTOFF) - g["last"]).dt.days).all()
    recent = (
        days[days["occurred_at"] >= pd.Timestamp(CUTOFF) - pd.Timedelta(days=90)]
        .groupby("customer_id")
        .size()
    )
    assert (got["orders_90d"] == recent.reindex(g.index).fillna(0).astype(int)).all()
    shares = [c for c in feats.columns if c.startswith("category_share_")]
    assert shares and (feats[shares].sum(axis=1).dropna() <= 1 + 1e-9).all()


def test_nothing_after_the_cutoff_leaks_into_features(ws) -> None:  # type: ignore[no-untyped-def]
    spec = choose_spec(ws.engine, CUTOFF)
    before = build_features(ws.engine, CUTOFF, spec)
    cid = before.index[0]
    later = CUTOFF + dt.timedelta(seconds=1)
    ws.engine.write_arrow(
        "transactions",
        pa.table(
            {
                "transaction_id": ["FUTURE-1"],
                "line_id": ["1"],
                "customer_id": [cid],
                "occurred_at": [later],
                "amount": pa.array([Decimal("9999")], type=pa.decimal128(18, 4)),
                "is_return": [False],
                "category": [spec.categories[0]],
                "channel": [spec.channels[0]],
            }
        ),
    )
    ws.engine.write_arrow(
        "events",
        pa.table(
            {
                "event_id": ["FUTURE-E"],
                "customer_id": [cid],
                "type": ["track"],
                "name": [spec.event_names[0]],
                "occurred_at": [later],
            }
        ),
    )
    after = build_features(ws.engine, CUTOFF, spec)
    pd.testing.assert_frame_equal(before, after)
    # ... while the same rows do show up once the cutoff passes them
    moved = build_features(ws.engine, later + dt.timedelta(seconds=1), spec)
    assert moved.loc[cid, "revenue"] >= before.loc[cid, "revenue"] + 9999


def test_churn_labels_use_only_the_window_after(ws) -> None:  # type: ignore[no-untyped-def]
    y = churn_labels(ws.engine, CUTOFF, 90)
    tx = ws.engine.fetch_arrow(
        "SELECT customer_id, occurred_at FROM transactions WHERE NOT is_return"
    ).to_pandas()
    active = tx[
        (tx["occurred_at"] < CUTOFF) & (tx["occurred_at"] >= CUTOFF - dt.timedelta(days=90))
    ]["customer_id"].unique()
    bought_after = set(
        tx[(tx["occurred_at"] >= CUTOFF) & (tx["occurred_at"] < CUTOFF + dt.timedelta(days=90))][
            "customer_id"
        ]
    )
    assert set(y.index) == set(active)
    expected = pd.Series([0 if c in bought_after else 1 for c in y.index], index=y.index)
    assert (y == expected).all()
