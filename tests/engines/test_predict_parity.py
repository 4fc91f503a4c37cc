"""Predict inputs and models at scale on every engine: features, churn labels, the campaign
outcome join, stable buckets, and a BG/NBD fitted on compact statistics and scored per
partition (``SparkEngine.map_batches`` → ``mapInArrow``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot.expressions as exp

from cvm.core.hashing import bucket_sql, stable_bucket
from cvm.engine.sql import bind
from cvm.predict.features import build_features, choose_spec, churn_labels
from cvm.predict.training import _ASSIGNMENTS, ATTRIBUTION_DAYS
from cvm.value.clv.bg_nbd import BetaGeoModel
from cvm.value.summaries import summarize_transactions
from tests.engines.compare import assert_same_table
from tests.engines.conftest import Pair


def _cutoff(end: dt.date) -> dt.datetime:
    return dt.datetime.combine(end - dt.timedelta(days=180), dt.time())


def test_features(demo: Pair, observation_end: dt.date) -> None:
    cutoff = _cutoff(observation_end)
    spec = choose_spec(demo.baseline, cutoff)
    assert choose_spec(demo.engine, cutoff) == spec
    got = build_features(demo.engine, cutoff, spec)
    want = build_features(demo.baseline, cutoff, spec)
    assert len(want.columns) > 15
    # pandas dtypes may differ (Spark counts are int32 where DuckDB's are int64): compare values
    assert_same_table(got.reset_index(), want.reset_index(), ["customer_id"])


def test_churn_labels(demo: Pair, observation_end: dt.date) -> None:
    cutoff = _cutoff(observation_end)
    got = churn_labels(demo.engine, cutoff, 90)
    want = churn_labels(demo.baseline, cutoff, 90)
    assert 0 < want.sum() < len(want)
    pd.testing.assert_series_equal(got, want, check_dtype=False)


def test_campaign_outcome_join(demo: Pair) -> None:
    """The uplift training join (assignments × attributed transactions)."""
    campaign = demo.baseline.fetch_scalar("SELECT min(campaign_id) FROM campaign_assignments")
    assert isinstance(campaign, str)
    query = bind(_ASSIGNMENTS, campaign=campaign, days=ATTRIBUTION_DAYS)
    got, want = demo.engine.fetch_arrow(query), demo.baseline.fetch_arrow(query)
    assert_same_table(got, want, ["customer_id"])
    assert sum(want.column("converted").to_pylist()) > 0


def test_stable_buckets(demo: Pair) -> None:
    """`bucket_sql` in the engine's spelling equals Python's `stable_bucket` for every id."""
    bucket = bucket_sql("exp-7", exp.column("customer_id"), demo.engine.dialect)
    query = exp.select("customer_id", bucket.as_("bucket")).from_("customers")
    rows = demo.engine.fetch_rows(query)
    assert len(rows) == 800
    for customer_id, value in rows:
        assert value == stable_bucket("exp-7", str(customer_id))


def _compact_statistics(engine: Pair, end: dt.date) -> pd.DataFrame:
    """Identical (frequency, recency, T) rows collapse to one weighted row, on the engine."""
    summary = summarize_transactions(engine.engine, end)
    engine.engine.register_arrow("__summary", summary)
    try:
        grouped = engine.engine.fetch_arrow(
            "SELECT frequency, recency, T, count(*) AS weights FROM __summary GROUP BY 1, 2, 3"
        )
    finally:
        engine.engine.unregister("__summary")
    return grouped.to_pandas().sort_values(["frequency", "recency", "T"]).reset_index(drop=True)


def test_bgnbd_fit_on_compact_statistics(demo: Pair, observation_end: dt.date) -> None:
    compact = _compact_statistics(demo, observation_end)
    full = summarize_transactions(demo.baseline, observation_end).to_pandas()
    assert len(compact) < len(full)  # the compaction is real
    on_engine = BetaGeoModel().fit(compact)
    in_memory = BetaGeoModel().fit(full[["frequency", "recency", "T"]])
    for name, value in in_memory.params_.items():
        assert on_engine.params_[name] == pytest.approx(value, rel=1e-6)


SCORES = pa.schema(
    [
        ("customer_id", pa.string()),
        ("probability_alive", pa.float64()),
        ("expected_purchases", pa.float64()),
    ]
)


def _scorer(model_json: str):  # type: ignore[no-untyped-def]
    """A per-partition scorer; the model travels as its JSON state, never pickled state."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = BetaGeoModel.from_json(model_json)
        for batch in batches:
            frame = batch.to_pandas()
            yield pa.RecordBatch.from_pandas(
                pd.DataFrame(
                    {
                        "customer_id": frame["customer_id"],
                        "probability_alive": np.asarray(model.probability_alive(frame)),
                        "expected_purchases": np.asarray(model.expected_purchases(frame, 52.0)),
                    }
                ),
                schema=SCORES,
                preserve_index=False,
            )

    return score


@pytest.mark.spark
@pytest.mark.parametrize("demo", ["spark"], indirect=True)  # Spark's per-partition path only
def test_bgnbd_scoring_through_map_in_arrow(demo: Pair, observation_end: dt.date) -> None:
    from cvm.engine.spark_engine import SparkEngine

    assert isinstance(demo.engine, SparkEngine)
    import sys

    from pyspark import cloudpickle

    # The scorer is defined in this test module, which the Python workers cannot import.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    summary = summarize_transactions(demo.baseline, observation_end)
    model = BetaGeoModel().fit(summary.to_pandas()[["frequency", "recency", "T"]])
    frame = summary.to_pandas()
    want = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "probability_alive": np.asarray(model.probability_alive(frame)),
            "expected_purchases": np.asarray(model.expected_purchases(frame, 52.0)),
        }
    )
    demo.engine.register_arrow("__summary", summary)
    try:
        query = "SELECT customer_id, frequency, recency, T FROM __summary"
        got = demo.engine.map_batches(query, _scorer(model.to_json()), SCORES)
    finally:
        demo.engine.unregister("__summary")
    assert_same_table(got, pa.Table.from_pandas(want, preserve_index=False), ["customer_id"])
