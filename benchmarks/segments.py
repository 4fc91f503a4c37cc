"""Benchmark: full re-evaluation of 50 segments of mixed node kinds on DuckDB, against pandas.

    .venv/bin/python benchmarks/segments.py                      # 1M customers, 20M events
    .venv/bin/python benchmarks/segments.py --customers 20000 --events 400000 --pandas-customers 5000

Data are generated inside DuckDB from ``range()`` with a hash-based pseudo-random draw
(``hash(i, stream)``), so they are identical on every run and thread count; they are cached in
``benchmarks/data/segments/`` (git-ignored). Timed on DuckDB at full size:

1. evaluation: the size (``COUNT(*)`` over the compiled query) of each of the 50 segments;
2. materialisation: ``refresh_memberships`` of the 50 (first run: everyone enters), then again
   one day later (the usual incremental case);
3. the live path: ``refresh_event_driven`` for 5 customers.

The pandas baseline is the independent interpreter of the tests
(``tests/segments/pandas_reference.py``), run on a subset (the first ``--pandas-customers``
customers and all their rows) because it cannot hold 20M parsed events in memory; DuckDB is
timed on the same subset for the like-for-like ratio, memberships are checked equal, and the
pandas time is extrapolated linearly in rows to the full size (stated as such in the results).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.segments.pandas_reference

import sqlglot.expressions as exp  # noqa: E402
from segments_data import (  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
    AS_OF,
    benchmark_segments,
    generate_warehouse,
    subset_warehouse,
)

from cvm.engine.base import count_rows  # noqa: E402
from cvm.engine.duckdb_engine import DuckDBEngine  # noqa: E402
from cvm.segments.compile import compile_flags, compile_segment  # noqa: E402
from cvm.segments.definition import SegmentDefinition  # noqa: E402
from cvm.segments.membership import (  # noqa: E402
    LIVE_INDEXES,
    ensure_live_indexes,
    refresh_event_driven,
    refresh_memberships,
)
from cvm.segments.store import SegmentStore  # noqa: E402

TABLES = ("customers", "events", "transactions", "consents")


def evaluate(
    engine: DuckDBEngine, store: SegmentStore, names: list[str]
) -> tuple[float, dict[str, int]]:
    """Sizes of all segments from ONE query (the refresh's evaluation, without writing)."""
    started = time.perf_counter()
    flags, flag_of = compile_flags({n: store.resolve(n) for n in names}, store.context(AS_OF))
    counts = [
        exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=exp.column(f))).as_(f)
        for f in flag_of.values()
    ]
    row = engine.fetch_rows(exp.select(*counts).from_(flags.subquery("flags")))[0]
    return time.perf_counter() - started, {n: int(v) for n, v in zip(flag_of, row, strict=True)}  # type: ignore[call-overload]


def evaluate_one_by_one(engine: DuckDBEngine, store: SegmentStore, names: list[str]) -> float:
    """Each segment as its own query (what `cvm segments size` runs), for comparison."""
    started = time.perf_counter()
    for name in names:
        query = compile_segment(store.resolve(name), store.context(AS_OF))
        engine.fetch_scalar(exp.select(exp.Count(this=exp.Star())).from_(query.subquery("m")))
    return time.perf_counter() - started


def pandas_run(
    engine: DuckDBEngine, store: SegmentStore, names: list[str]
) -> tuple[float, float, dict[str, set[str]]]:
    from tests.segments.pandas_reference import Reference

    frames = {
        t: engine.fetch_arrow(exp.select("*").from_(t)).to_pandas()
        for t in ("customers", "profiles", "events", "transactions", "consents")
    }
    started = time.perf_counter()
    reference = Reference(
        frames["customers"],
        frames["profiles"],
        frames["events"],
        frames["transactions"],
        frames["consents"],
        AS_OF,
        "opt_in",
        store.resolve,
    )
    prepared = time.perf_counter() - started
    members = {name: reference.members(store.resolve(name)) for name in names}
    return time.perf_counter() - started, prepared, members


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--pandas-customers", type=int, default=50_000)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "data" / "segments")
    parser.add_argument("--output", type=Path, default=None, help="write the markdown results here")
    parser.add_argument("--one-by-one", action="store_true", help="also time one query per segment")
    parser.add_argument(
        "--threads", type=int, default=None, help="DuckDB threads (default: all cores)"
    )
    args = parser.parse_args()

    full_path = generate_warehouse(args.data_dir, args.customers, args.events)
    engine = DuckDBEngine(full_path, threads=args.threads)
    store = SegmentStore(engine)
    definitions = benchmark_segments(args.segments)
    store.save_many([SegmentDefinition.model_validate(d) for d in definitions], replace=True)
    names = [d["name"] for d in definitions]
    counts = {t: int(engine.fetch_scalar(count_rows(t)) or 0) for t in TABLES}  # type: ignore[call-overload]
    print("rows:", counts, flush=True)
    for _, index in LIVE_INDEXES:  # a previous run's indexes would flatter "without"
        engine.execute(f"DROP INDEX IF EXISTS {index}")
    clock = Clock()

    with clock("evaluate"):
        _, sizes = evaluate(engine, store, names)
    if args.one_by_one:
        with clock("evaluate_one_by_one"):
            evaluate_one_by_one(engine, store, names)
    for table in ("segment_membership", "segment_membership_history", "segment_transitions"):
        engine.execute(f"DROP TABLE IF EXISTS {table}")
    with clock("refresh_first"):
        first = refresh_memberships(engine, names, AS_OF, store=store)
    with clock("refresh_next_day"):
        second = refresh_memberships(engine, names, AS_OF + dt.timedelta(days=1), store=store)
    moved = sum(s.entered + s.exited for s in second.segments)
    assert {s.segment: s.members for s in first.segments} == sizes
    live_ids = [f"c{i}" for i in (1, 77, 4242, 99_999 % args.customers, args.customers - 1)]
    later = AS_OF + dt.timedelta(days=1, hours=1)
    with clock("live_without_indexes"):
        refresh_event_driven(engine, live_ids, later, store=store)
    with clock("live_index_build"):
        ensure_live_indexes(engine)
    with clock("live_with_indexes"):
        live = refresh_event_driven(engine, live_ids, later + dt.timedelta(hours=1), store=store)
    engine.close()

    sub_path = subset_warehouse(args.data_dir, full_path, args.pandas_customers)
    sub = DuckDBEngine(sub_path, threads=args.threads)
    sub_store = SegmentStore(sub)
    sub_store.save_many([SegmentDefinition.model_validate(d) for d in definitions], replace=True)
    sub_counts = {t: int(sub.fetch_scalar(count_rows(t)) or 0) for t in TABLES}  # type: ignore[call-overload]
    with clock("subset_duckdb_evaluate"):
        _, sub_sizes = evaluate(sub, sub_store, names)
    with clock("subset_pandas"):
        _, pandas_prepare, pandas_members = pandas_run(sub, sub_store, names)
    mismatches = {n for n in names if len(pandas_members[n]) != sub_sizes[n]}
    for name in names:
        query = compile_segment(sub_store.resolve(name), sub_store.context(AS_OF))
        if {r[0] for r in sub.fetch_rows(query)} != pandas_members[name]:
            mismatches.add(name)
    sub.close()
    scale = (counts["events"] + counts["transactions"] + counts["customers"]) / max(
        1, sub_counts["events"] + sub_counts["transactions"] + sub_counts["customers"]
    )
    result = {
        "rows": counts,
        "segments": len(names),
        "phases": clock.phases,
        "next_day_moves": moved,
        "live_segments": len(live.segments),
        "subset_rows": sub_counts,
        "subset_pandas_prepare_wall_s": pandas_prepare,
        "scale": scale,
        "pandas_extrapolated_wall_s": clock.phases["subset_pandas"]["wall_s"] * scale,
        "pandas_extrapolated_cpu_s": clock.phases["subset_pandas"]["cpu_s"] * scale,
        "mismatches": sorted(mismatches),
        "members_total": sum(sizes.values()),
        "load_average_end": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


class Clock:
    """Wall and process CPU time per phase. On a shared machine the wall time depends on the
    other jobs; the CPU time (all threads of this process) is what the work itself costs."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        yield
        self.phases[name] = {
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
            "load_average_before": load,
        }
        print(name, self.phases[name], flush=True)


if __name__ == "__main__":
    main()
