"""`SparkEngine.fetch_batches` streams: Arrow batches of the asked size, in order, equal to
DuckDB's, with the driver holding a bounded part of the result at any moment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cvm.engine.duckdb_engine import DuckDBEngine
from cvm.engine.spark_stream import rebatch

ROWS = 60_000
BATCH = 7_000
QUERY = "SELECT id, amount, booked_at, label FROM big ORDER BY id"


def _big_table() -> pa.Table:
    ids = list(range(ROWS))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "amount": pa.array([Decimal(i % 997) / 4 for i in ids], pa.decimal128(18, 4)),
            "booked_at": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=i) for i in ids], pa.timestamp("us")
            ),
            # a NULL every 11th row: missing strings must stay NULL, not become 'NaN'
            "label": pa.array([None if i % 11 == 0 else f"c{i % 50}" for i in ids], pa.string()),
        }
    )


def test_rebatch_cuts_exact_sizes_and_keeps_order() -> None:
    schema = pa.schema([("x", pa.int64())])
    sizes = [3, 0, 10, 1, 7]
    start = 0
    parts = []
    for n in sizes:
        parts.append(
            pa.record_batch([pa.array(range(start, start + n), pa.int64())], schema=schema)
        )
        start += n
    out = list(rebatch(iter(parts), schema, 4))
    assert [b.num_rows for b in out] == [4, 4, 4, 4, 4, 1]
    assert pa.Table.from_batches(out).column("x").to_pylist() == list(range(21))
    with pytest.raises(ValueError, match="batch_size"):
        list(rebatch(iter(parts), schema, 0))


@pytest.mark.spark
def test_fetch_batches_streams_a_table_larger_than_a_batch(
    spark_session: Any, tmp_path: Path
) -> None:
    from cvm.engine.spark_engine import SparkEngine, new_database_name

    data = _big_table()
    spark = SparkEngine(
        lake_path=tmp_path / "lake", database=new_database_name(), session=spark_session
    )
    duck = DuckDBEngine()
    # Several Parquet files, so the result really comes from several partitions.
    for chunk in data.to_batches(max_chunksize=ROWS // 6):
        spark.write_arrow("big", pa.Table.from_batches([chunk]))
    duck.write_arrow("big", data)

    baseline = list(duck.fetch_batches(QUERY, batch_size=BATCH))
    before = pa.total_allocated_bytes()
    peak = 0
    got: list[pa.RecordBatch] = []
    for batch in spark.fetch_batches(QUERY, batch_size=BATCH):
        # What the stream holds besides the batches already handed out (kept here).
        got.append(batch)
        peak = max(peak, pa.total_allocated_bytes() - before - sum(b.nbytes for b in got))

    assert [b.num_rows for b in got] == [b.num_rows for b in baseline]
    assert len(got) == -(-ROWS // BATCH) > 1
    assert got[0].schema == baseline[0].schema
    assert pa.Table.from_batches(got).equals(pa.Table.from_batches(baseline))
    # Bounded: beyond the batches handed out, the stream held well under the whole result.
    assert peak < data.nbytes / 2, f"stream held {peak:,} bytes of a {data.nbytes:,}-byte result"
    duck.close()
