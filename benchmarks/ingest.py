"""Benchmark: `cvm ingest transactions` on a 10,000,000-row CSV, validation on, vs pandas.

    .venv/bin/python benchmarks/ingest.py --rows 10000000 --seed 42

1. Generates `benchmarks/data/transactions_<rows>_<seed>.csv` with DuckDB COPY (once; reused).
   Realistic salt: about 0.02% of rows carry a bad timestamp, 0.02% text in the amount,
   0.01% repeat an earlier key, and 1% are returns (negative quantity, accepted).
2. Ingests it into a fresh workspace exactly as the CLI does (`cvm.ingest.ingest`: parse,
   type, range/choice/required checks, duplicates, customer stubs, quarantine with line numbers,
   the merge and the run record, in one transaction), in a child process whose peak RSS is
   sampled from /proc every 20 ms (DuckDB's memory included).
3. In another child process, the reference: plain `pandas.read_csv` of the same file plus hand
   validation of the same rules (required values, numbers, timestamps, duplicate keys).
4. For context, the floor: DuckDB alone loading the file into a table with no validation.

Targets: >= 500,000 rows/s and peak RSS < 2 GB for cvm. Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MAPPING = {
    "table": "transactions",
    "columns": {
        "transaction_id": "order_id",
        "line_id": "line",
        "customer_id": "customer_id",
        "occurred_at": {"from": "occurred_at", "format": "%Y-%m-%d %H:%M:%S"},
        "amount": "amount",
        "currency": "currency",
        "quantity": "quantity",
        "product_id": "product_id",
        "channel": "channel",
    },
    "unknown_customer": "create",
}


def generate(path: Path, rows: int, seed: int) -> None:
    """Write the CSV with DuckDB (a benchmark-only import; the package reads via cvm.engine)."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    # hash(i, seed) is deterministic, so the same seed gives the same file on every run.
    query = """
    COPY (
      WITH base AS (
        SELECT i, hash(i, $seed) AS h FROM range($rows) t(i)
      )
      SELECT
        'O' || lpad(CAST(CASE WHEN h % 10000 = 7 AND i > 10 THEN (i - 10) // 2 ELSE i // 2 END AS VARCHAR), 9, '0') AS order_id,
        CAST(CASE WHEN h % 10000 = 7 AND i > 10 THEN (i - 10) % 2 + 1 ELSE i % 2 + 1 END AS VARCHAR) AS line,
        'C' || lpad(CAST((h >> 8) % 1000000 AS VARCHAR), 7, '0') AS customer_id,
        CASE WHEN h % 5000 = 11 THEN '2024-02-30 25:61:00'
             ELSE strftime(TIMESTAMP '2021-01-01' + to_seconds(CAST((h >> 16) % 94608000 AS BIGINT)), '%Y-%m-%d %H:%M:%S') END AS occurred_at,
        CASE WHEN h % 5000 = 13 THEN 'n/a'
             ELSE CAST(round(((h >> 24) % 50000) / 100.0 * CASE WHEN h % 100 = 5 THEN -1 ELSE 1 END, 2) AS VARCHAR) END AS amount,
        'USD' AS currency,
        CAST(CASE WHEN h % 100 = 5 THEN -1 ELSE 1 + (h >> 32) % 4 END AS VARCHAR) AS quantity,
        'P' || lpad(CAST((h >> 40) % 20000 AS VARCHAR), 5, '0') AS product_id,
        ['web', 'store', 'app'][1 + CAST((h >> 48) % 3 AS INTEGER)] AS channel
      FROM base ORDER BY i
    ) TO '__PATH__' (HEADER, DELIMITER ',')
    """
    con.execute(
        query.replace("__PATH__", str(path).replace("'", "''")), {"rows": rows, "seed": seed}
    )
    con.close()


class PeakRss:
    """Samples this process's resident memory (VmRSS) every 20 ms on a thread.

    Not ru_maxrss: Linux keeps it across fork and exec, so a child would report the parent's
    high-water mark (here, the DuckDB process that generated the file)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        status = Path("/proc/self/status")
        while not self._stop.wait(interval):
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_cvm(path: str, workdir: str, memory_limit: str, queue: Any) -> None:
    import pandas  # noqa: F401 - DuckDB imports it on first use; keep interpreter start-up out of the timing

    from cvm.ingest import ingest, parse_mapping
    from cvm.workspace import init_workspace

    ws = init_workspace(Path(workdir) / "ws", force=True)
    ws.settings.warehouse.memory_limit = memory_limit
    ws.settings.dump(ws.config_path)
    ws.close()
    from cvm.workspace import open_workspace

    steps = time_steps()
    with PeakRss() as rss, open_workspace(Path(workdir) / "ws") as ws:
        began = time.perf_counter()
        result = ingest(ws, "transactions", Path(path), mapping=parse_mapping(MAPPING))
        seconds = time.perf_counter() - began
        first_steps = dict(steps)
        began = time.perf_counter()
        again = ingest(ws, "transactions", Path(path), mapping=parse_mapping(MAPPING))
        reingest_seconds = time.perf_counter() - began
        checked = check_lines(ws, Path(path), result.run_id)
    queue.put(
        {
            "seconds": seconds,
            "peak_rss": rss.peak,
            "result": result.as_json(),
            "reingest_seconds": reingest_seconds,
            "reingest_inserted": again.inserted,
            "lines_checked": checked,
            "steps": first_steps,
            "load": os.getloadavg()[0],
        }
    )


STEPS = {
    "INSERT INTO __cvm_stage": "stage: read, parse, type, check",
    "INSERT INTO __cvm_late": "duplicates and unknown customers",
    "INSERT INTO customers": "customer stubs",
    "INSERT INTO transactions": "merge into transactions",
    "UPDATE transactions": "merge into transactions",
}


def time_steps() -> dict[str, float]:
    """Wall time per ingestion step, by wrapping the engine's statement methods."""
    from cvm.engine.duckdb_engine import DuckDBEngine

    totals: dict[str, float] = {}

    def wrap(method: Any) -> Any:
        def timed(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return method(self, statement, *args, **kwargs)
            finally:
                text = self.render(statement)
                step = next((v for k, v in STEPS.items() if text.startswith(k)), "other")
                totals[step] = totals.get(step, 0.0) + time.perf_counter() - began

        return timed

    for name in ("execute", "fetch_scalar", "fetch_rows", "fetch_arrow"):
        setattr(DuckDBEngine, name, wrap(getattr(DuckDBEngine, name)))
    return totals


def check_lines(ws: Any, path: Path, run_id: str) -> int:
    """Not timed: every quarantined row whose raw text was kept must be exactly the text on
    its reported line of the file (proves line numbers at scale, rows read in parallel)."""
    from cvm.ingest import show_quarantine

    refused = [
        r
        for r in show_quarantine(ws.engine, run_id, limit=1_000_000)
        if not r["raw"].startswith("{")
    ]
    wanted = {int(r["row_number"]): r["raw"] for r in refused}
    found: dict[int, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = line.rstrip("\n")
    mismatched = [n for n, raw in wanted.items() if found.get(n) != raw]
    if mismatched:
        raise AssertionError(f"quarantine lines do not match the file at {mismatched[:5]}")
    return len(wanted)


def run_pandas(path: str, queue: Any) -> None:
    import pandas as pd

    with PeakRss() as rss:
        began = time.perf_counter()
        df = pd.read_csv(path)
        required = ["order_id", "line", "customer_id", "occurred_at", "amount"]
        missing = df[required].isna().any(axis=1)
        amount = pd.to_numeric(df["amount"], errors="coerce")
        quantity = pd.to_numeric(df["quantity"], errors="coerce")
        when = pd.to_datetime(df["occurred_at"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        bad = (
            missing
            | (amount.isna() & df["amount"].notna())
            | (quantity.isna() & df["quantity"].notna())
        )
        bad |= when.isna() & df["occurred_at"].notna()
        duplicate = df[~bad].duplicated(["order_id", "line"], keep="first")
        quarantined = int(bad.sum() + duplicate.sum())
        seconds = time.perf_counter() - began
    queue.put(
        {
            "seconds": seconds,
            "peak_rss": rss.peak,
            "rows": len(df),
            "quarantined": quarantined,
            "load": os.getloadavg()[0],
        }
    )


def run_floor(path: str, workdir: str, memory_limit: str, queue: Any) -> None:
    """What DuckDB alone needs to load the file into a table, with no validation at all."""
    import duckdb

    target = Path(workdir) / "floor.duckdb"
    target.unlink(missing_ok=True)
    with PeakRss() as rss:
        con = duckdb.connect(str(target), config={"memory_limit": memory_limit})
        began = time.perf_counter()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [path]).fetchall()
        seconds = time.perf_counter() - began
        con.close()
    target.unlink(missing_ok=True)
    queue.put({"seconds": seconds, "peak_rss": rss.peak, "load": os.getloadavg()[0]})


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--memory-limit", default="1GB", help="DuckDB memory_limit of the workspace"
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work" / "ingest")
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    path = args.data_dir / f"transactions_{args.rows}_{args.seed}.csv"
    if not path.exists():
        began = time.perf_counter()
        generate(path, args.rows, args.seed)
        print(
            f"generated {path} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - began:.1f} s"
        )
    size_mb = path.stat().st_size / 1e6
    args.work_dir.mkdir(parents=True, exist_ok=True)
    # Interleaved, so that load from other work on the machine hits all three alike.
    floor = in_child(run_floor, str(path), str(args.work_dir), args.memory_limit)
    pandas = None if args.skip_pandas else in_child(run_pandas, str(path))
    cvm = in_child(run_cvm, str(path), str(args.work_dir), args.memory_limit)
    res = cvm["result"]
    rate = res["read"] / cvm["seconds"]

    def row(name: str, run: dict[str, Any], rows: int) -> str:
        return (
            f"| {name} | {run['seconds']:.1f} | {rows / run['seconds']:,.0f} | "
            f"{run['peak_rss'] / 2**30:.2f} GiB | {run['load']:.1f} |"
        )

    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"file: {args.rows:,} rows, {size_mb:,.0f} MB, seed {args.seed}; DuckDB memory_limit {args.memory_limit}",
        "",
        "| | seconds | rows/s | peak RSS | load avg (1 min) after |",
        "|---|---:|---:|---:|---:|",
        row("cvm ingest (validation on)", cvm, res["read"]),
        row("floor: DuckDB `CREATE TABLE AS read_csv`, no validation", floor, args.rows),
    ]
    if pandas is not None:
        lines.append(row("pandas.read_csv + hand validation", pandas, pandas["rows"]))
        prate = pandas["rows"] / pandas["seconds"]
        lines += [
            "",
            f"cvm / pandas speed ratio: {rate / prate:.2f}x; pandas found {pandas['quarantined']:,} bad rows",
        ]
    lines += ["", "cvm time by step:", ""]
    lines += [
        f"- {step}: {sec:.1f} s"
        for step, sec in sorted(cvm["steps"].items(), key=lambda kv: -kv[1])
    ]
    lines += [
        "",
        f"reconciliation: read {res['read']:,} = accepted {res['accepted']:,} + quarantined {res['quarantined']:,}; "
        f"inserted {res['inserted']:,}, customer stubs {res['customers_created']:,}",
        f"reasons: {json.dumps(res['reasons'])}",
        f"re-ingesting the same file: {cvm['reingest_seconds']:.1f} s, inserted {cvm['reingest_inserted']:,}",
        f"line numbers checked against the file: {cvm['lines_checked']:,} quarantined rows, all exact",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
