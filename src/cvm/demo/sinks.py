"""Write the demo company out: Parquet files beside the data, or the warehouse tables.

Both sinks take the company chunk by chunk, so a million customers stream through with one
chunk in memory. Files: ``<folder>/<table>.parquet`` per canonical table, plus
``<folder>/truth/<name>.parquet`` and ``<folder>/truth/params.json``. Warehouse: the canonical
tables with lineage columns (``_source = 'demo'``), the truth tables as ``truth_<name>`` and
the parameters as one-row ``truth_params``; one `ingest_runs` row per table reconciles counts.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot.expressions as exp

from cvm.core.errors import ConflictError
from cvm.core.timewindows import utc_now as _now
from cvm.demo.arrow_columns import TIMESTAMP_TYPE, contract_schema
from cvm.demo.company import TABLES, Company, DemoGenerator
from cvm.engine.base import Engine, WriteMode, count_rows
from cvm.engine.warehouse import INGEST_RUNS, ensure_warehouse

TRUTH_PREFIX = "truth_"


class ParquetSink:
    """Appends chunks to one Parquet file per table (zstd, one row group per chunk)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "truth").mkdir(parents=True, exist_ok=True)
        self._writers: dict[Path, pq.ParquetWriter] = {}

    def _write(self, path: Path, table: pa.Table) -> None:
        writer = self._writers.get(path)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            self._writers[path] = writer
        if table.num_rows:
            writer.write_table(table)

    def write(self, part: Company) -> None:
        for name, table in part.tables.items():
            self._write(self.folder / f"{name}.parquet", table)
        for name, table in part.truth.items():
            self._write(self.folder / "truth" / f"{name}.parquet", table)

    def close(self, params: dict[str, Any]) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        (self.folder / "truth" / "params.json").write_text(
            json.dumps(params, indent=2, default=str), encoding="utf-8"
        )


class EngineSink:
    """Appends chunks to the warehouse's canonical tables and (re)creates the truth tables."""

    def __init__(self, engine: Engine, *, replace: bool = False, run_id: str | None = None) -> None:
        self.engine = engine
        self.run_id = run_id or f"demo-{uuid.uuid4().hex[:12]}"
        self.started_at = _now()
        ensure_warehouse(engine)
        occupied = [t for t in TABLES if int(engine.fetch_scalar(count_rows(t)) or 0) > 0]  # type: ignore[call-overload]
        if occupied and not replace:
            raise ConflictError(
                f"the warehouse already holds {', '.join(occupied)} rows; load the demo into a "
                "fresh workspace (cvm demo --force) or pass replace=True"
            )
        for name in occupied:
            engine.execute(exp.delete(exp.to_table(name, quoted=True)))
        self._truth_written: set[str] = set()
        self.rows = {name: 0 for name in TABLES}

    def _with_lineage(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        loaded = pa.scalar(_now(), TIMESTAMP_TYPE)
        return (
            table.append_column("_source", pa.repeat(pa.scalar("demo"), n))
            .append_column("_ingest_run", pa.repeat(pa.scalar(self.run_id), n))
            .append_column("_loaded_at", pa.repeat(loaded, n))
        )

    def write(self, part: Company) -> None:
        for name in TABLES:
            table = part.tables[name]
            if table.num_rows:
                self.rows[name] += self.engine.write_arrow(name, self._with_lineage(table))
        for name, table in part.truth.items():
            target = TRUTH_PREFIX + name
            mode: WriteMode = "append" if target in self._truth_written else "replace"
            self.engine.write_arrow(target, table, mode=mode)
            self._truth_written.add(target)

    def close(self, params: dict[str, Any]) -> None:
        payload = pa.table({"params": [json.dumps(params, default=str)]})
        self.engine.write_arrow(TRUTH_PREFIX + "params", payload, mode="replace")
        finished = _now()
        schema = contract_schema(INGEST_RUNS)
        rows = [
            {
                "ingest_run": self.run_id,
                "table_name": name,
                "source": "demo",
                "started_at": self.started_at,
                "finished_at": finished,
                "rows_read": count,
                "rows_accepted": count,
                "rows_quarantined": 0,
                "rows_inserted": count,
                "rows_updated": 0,
                "rows_unchanged": 0,
                "customers_created": 0,
            }
            for name, count in self.rows.items()
        ]
        self.engine.write_arrow(INGEST_RUNS.name, pa.Table.from_pylist(rows, schema=schema))


def _produce(
    parts: Iterable[Company],
    queue: Queue[Company | BaseException | None],
    stop: threading.Event,
    busy: dict[str, float],
) -> None:
    """Generate chunks into ``queue`` until done, failed, or told to stop."""
    try:
        iterator = iter(parts)
        while not stop.is_set():
            began = time.perf_counter()
            part = next(iterator, None)
            busy["generate"] += time.perf_counter() - began
            queue.put(part)
            if part is None:
                return
    except BaseException as err:  # handed to the consumer, which re-raises it
        queue.put(err)


def export_company(
    source: Company | DemoGenerator,
    *,
    folder: Path | None = None,
    engine: Engine | None = None,
    replace: bool = False,
    on_chunk: Callable[[Company], None] | None = None,
    busy: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write a company (or stream a generator's chunks) to Parquet and/or the warehouse.

    A generator is consumed once. Its next chunk is generated on a worker thread while the
    current one is written, and the Parquet write overlaps the warehouse write: numpy, Arrow
    and DuckDB release the GIL, so on two cores the stages run side by side, with at most
    three chunks in memory. ``busy``, when given, receives the seconds each stage worked
    (``generate``, ``warehouse``, ``parquet``). Returns the parameters written to
    ``truth/params.json``.
    """
    busy = busy if busy is not None else {}
    for stage in ("generate", "warehouse", "parquet"):
        busy.setdefault(stage, 0.0)
    engine_sink = EngineSink(engine, replace=replace) if engine is not None else None
    parquet_sink = ParquetSink(folder) if folder is not None else None
    parts: Iterable[Company] = source.chunks() if isinstance(source, DemoGenerator) else [source]
    queue: Queue[Company | BaseException | None] = Queue(maxsize=1)
    stop = threading.Event()
    producer = threading.Thread(target=_produce, args=(parts, queue, stop, busy), daemon=True)
    producer.start()

    def timed(stage: str, work: Callable[[], None]) -> None:
        began = time.perf_counter()
        work()
        busy[stage] += time.perf_counter() - began

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            while (part := queue.get()) is not None:
                if isinstance(part, BaseException):
                    raise part
                pending = None
                if parquet_sink is not None:
                    pending = pool.submit(timed, "parquet", partial(parquet_sink.write, part))
                if engine_sink is not None:
                    timed("warehouse", partial(engine_sink.write, part))
                if pending is not None:
                    pending.result()
                if on_chunk is not None:
                    on_chunk(part)
    finally:
        # On failure, unblock and retire the producer so no thread lingers holding a chunk.
        stop.set()
        while producer.is_alive():
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)
    params = source.params() if isinstance(source, DemoGenerator) else source.params
    if engine_sink is not None:
        timed("warehouse", partial(engine_sink.close, params))
    if parquet_sink is not None:
        timed("parquet", partial(parquet_sink.close, params))
    return params


def write_company(company: Company | DemoGenerator, folder: Path) -> Path:
    """Parquet copy of the company plus its truth under ``folder``; returns ``folder``."""
    export_company(company, folder=folder)
    return folder


def load_company_into(
    engine: Engine, company: Company | DemoGenerator, *, replace: bool = False
) -> dict[str, int]:
    """Load the canonical tables (with lineage) and the ``truth_*`` tables into ``engine``."""
    sink_rows: dict[str, int] = {}

    def count(part: Company) -> None:
        for name in TABLES:
            sink_rows[name] = sink_rows.get(name, 0) + part.tables[name].num_rows

    export_company(company, engine=engine, replace=replace, on_chunk=count)
    return sink_rows


__all__ = [
    "EngineSink",
    "ParquetSink",
    "export_company",
    "load_company_into",
    "write_company",
]
