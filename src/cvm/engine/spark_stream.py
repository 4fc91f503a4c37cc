"""Stream a Spark result to the driver as Arrow record batches, one partition at a time.

``DataFrame.toArrow()`` collects the whole result on the driver (first in the JVM, then in
Python); ``toLocalIterator()`` is lazy but hands over one Python ``Row`` object per row, which
is slow and loses Arrow's types. Here the executors turn each partition into Arrow IPC frames
(``mapInArrow``: one binary cell per Arrow batch of at most
``spark.sql.execution.arrow.maxRecordsPerBatch`` rows), and the driver pulls those frames with
``toLocalIterator(prefetchPartitions=False)``, which runs one job per partition and keeps only
that partition on the driver. The frames are decoded and re-cut into batches of the size the
caller asked for, so the driver holds at most one partition's frames plus about two batches.
Partition order and the order inside a partition are kept, so an ``ORDER BY`` result streams
in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FRAME_COLUMN = "arrow_ipc"


def result_schema(df: DataFrame) -> pa.Schema:
    """The Arrow schema of ``df``'s result, from its Spark schema (no job runs)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema, timezone="UTC")


def partition_batches(df: DataFrame) -> Iterator[pa.RecordBatch]:
    """The result's Arrow batches in order, fetched one partition at a time."""

    # Defined here so cloudpickle ships it by value: executors need pyarrow, not cvm.
    def to_ipc_frames(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Executor side: every Arrow batch of the partition becomes one IPC-stream cell."""
        for batch in batches:
            if batch.num_rows == 0:
                continue
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as writer:
                writer.write_batch(batch)
            cell = pa.array([sink.getvalue().to_pybytes()], pa.binary())
            yield pa.RecordBatch.from_arrays([cell], names=[FRAME_COLUMN])

    framed = df.mapInArrow(to_ipc_frames, f"{FRAME_COLUMN} binary")
    for row in framed.toLocalIterator(prefetchPartitions=False):
        with pa.ipc.open_stream(pa.py_buffer(row[0])) as reader:
            yield from reader


def rebatch(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of batches into batches of exactly ``batch_size`` rows (the last one
    shorter), cast to ``schema``; never holds more than ``batch_size`` rows plus one input
    batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch.cast(schema) if batch.schema != schema else batch)
        held += batch.num_rows
        while held >= batch_size:
            table = pa.Table.from_batches(pending, schema=schema)
            yield _one_batch(table.slice(0, batch_size), schema)
            rest = table.slice(batch_size)
            pending = rest.to_batches() if rest.num_rows else []
            held = rest.num_rows
    if held:
        yield _one_batch(pa.Table.from_batches(pending, schema=schema), schema)


def _one_batch(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    combined = table.combine_chunks().to_batches()
    return combined[0] if combined else pa.RecordBatch.from_pylist([], schema=schema)


__all__ = ["partition_batches", "rebatch", "result_schema"]
