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
import platform
import sys
import time
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

    eval_seconds, sizes = evaluate(engine, store, names)
    print(f"evaluate {len(names)} segments in one query: {eval_seconds:.2f} s", flush=True)
    separate_seconds = evaluate_one_by_one(engine, store, names) if args.one_by_one else None
    if separate_seconds is not None:
        print(
            f"evaluate {len(names)} segments one query each: {separate_seconds:.2f} s", flush=True
        )
    for table in ("segment_membership", "segment_membership_history", "segment_transitions"):
        engine.execute(f"DROP TABLE IF EXISTS {table}")
    first = refresh_memberships(engine, names, AS_OF, store=store)
    print(f"refresh (first, all enter): {first.seconds:.2f} s", flush=True)
    second = refresh_memberships(engine, names, AS_OF + dt.timedelta(days=1), store=store)
    moved = sum(s.entered + s.exited for s in second.segments)
    print(f"refresh (next day, {moved:,} moves): {second.seconds:.2f} s", flush=True)
    assert {s.segment: s.members for s in first.segments} == sizes
    started = time.perf_counter()
    ensure_live_indexes(engine)
    index_seconds = time.perf_counter() - started
    print(f"live indexes (one-off): {index_seconds:.2f} s", flush=True)
    live_ids = [f"c{i}" for i in (1, 77, 4242, 99_999 % args.customers, args.customers - 1)]
    started = time.perf_counter()
    live = refresh_event_driven(
        engine, live_ids, AS_OF + dt.timedelta(days=1, hours=1), store=store
    )
    live_seconds = time.perf_counter() - started
    print(
        f"live refresh of {len(live.segments)} event-driven segments for 5 customers: {live_seconds:.3f} s",
        flush=True,
    )
    engine.close()

    sub_path = subset_warehouse(args.data_dir, full_path, args.pandas_customers)
    sub = DuckDBEngine(sub_path, threads=args.threads)
    sub_store = SegmentStore(sub)
    sub_store.save_many([SegmentDefinition.model_validate(d) for d in definitions], replace=True)
    sub_counts = {t: int(sub.fetch_scalar(count_rows(t)) or 0) for t in TABLES}  # type: ignore[call-overload]
    sub_eval, sub_sizes = evaluate(sub, sub_store, names)
    sub_refresh = refresh_memberships(sub, names, AS_OF, store=sub_store).seconds
    pandas_seconds, pandas_prepare, pandas_members = pandas_run(sub, sub_store, names)
    mismatches = [n for n in names if len(pandas_members[n]) != sub_sizes[n]]
    for name in names:
        query = compile_segment(sub_store.resolve(name), sub_store.context(AS_OF))
        if {r[0] for r in sub.fetch_rows(query)} != pandas_members[name]:
            mismatches.append(name)
    sub.close()
    scale = (counts["events"] + counts["transactions"] + counts["customers"]) / max(
        1, sub_counts["events"] + sub_counts["transactions"] + sub_counts["customers"]
    )
    print(
        f"subset {sub_counts}: duckdb {sub_eval:.2f} s, pandas {pandas_seconds:.2f} s; mismatches: {sorted(set(mismatches))}"
    )
    result = {
        "rows": counts,
        "segments": len(names),
        "evaluate_s": eval_seconds,
        "evaluate_one_by_one_s": separate_seconds,
        "refresh_first_s": first.seconds,
        "refresh_next_s": second.seconds,
        "next_day_moves": moved,
        "live_s": live_seconds,
        "live_index_build_s": index_seconds,
        "live_segments": len(live.segments),
        "subset_rows": sub_counts,
        "subset_duckdb_s": sub_eval,
        "subset_duckdb_refresh_s": sub_refresh,
        "subset_pandas_s": pandas_seconds,
        "subset_pandas_prepare_s": pandas_prepare,
        "pandas_extrapolated_s": pandas_seconds * scale,
        "scale": scale,
        "mismatches": sorted(set(mismatches)),
        "members_total": sum(sizes.values()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
