"""Benchmark: generate the demo company and load it (warehouse + Parquet copy), as `cvm demo`.

    .venv/bin/python benchmarks/demo_generation.py --customers 1000000 --seed 42

Streams the company chunk by chunk into a fresh workspace's DuckDB warehouse and a Parquet
copy exactly as the CLI does (`export_company`: generation, warehouse and Parquet overlap on
threads), reports each stage's busy time, the wall-clock total and peak memory (``resource.getrusage``: max RSS of this process, DuckDB included). Targets:
1,000,000 customers in under 3 minutes, peak memory under 4 GB. No reference tool exists for
this step, so there is no ratio to report.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from cvm.demo import DemoConfig, DemoGenerator
from cvm.demo.sinks import export_company
from cvm.workspace import init_workspace


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--chunk-size", type=int, default=DemoConfig().chunk_size)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cvm-demo-bench-"))
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    ws = init_workspace(workdir / "ws", force=True)
    generator = DemoGenerator(
        args.customers, args.seed, config=DemoConfig(chunk_size=args.chunk_size)
    )
    busy: dict[str, float] = {}
    params = export_company(
        generator, folder=ws.root / "demo", engine=ws.engine, replace=True, busy=busy
    )
    ws.engine.execute("CHECKPOINT")
    total = time.perf_counter() - began
    ws.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime  # what the run cost, whatever else the cores did

    rows = params["totals"]["rows"]
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"customers: {args.customers:,}  seed: {args.seed}  chunk size: {args.chunk_size:,}")
    for name, count in rows.items():
        print(f"  {name:<13} {count:>13,} rows")
    print(f"  orders        {params['totals']['orders']:>13,}")
    print(f"  campaign      {params['campaign']['audience']:>13,} in audience")
    for stage, seconds in busy.items():
        print(f"{stage:<10} {seconds:8.1f} s busy (stages overlap)")
    print(f"total      {total:8.1f} s wall clock, workspace creation included")
    print(f"cpu        {cpu:8.1f} s user + system, all threads")
    print(
        f"load avg   {load_before:8.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine)"
    )
    print(f"peak RSS   {peak_mb:8.0f} MB")
    print(f"warehouse  {folder_size(ws.root / 'warehouse.duckdb') / 2**20:8.0f} MB on disk")
    print(f"parquet    {folder_size(ws.root / 'demo') / 2**20:8.0f} MB on disk")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
