"""Benchmark: profile lookup latency with N profiles (default 1,000,000).

Builds (or reuses, `--workspace` from `benchmarks/identity.py --workspace DIR`) a workspace
whose identity graph holds N customers with e-mail, phone and CRM id, adds a `profiles` row
per customer, `--events-per-customer` events each and one trait per customer, then times:

* the lookup function (`find_customer_id` + `lookup_profile`), by customer id and by e-mail;
* GET /v1/profiles over HTTP against a real `cvm serve` (sequential client, loopback).

Target: p99 under 20 ms. Usage::

    .venv/bin/python benchmarks/identity.py --customers 1000000 --workspace /tmp/bench-ws
    .venv/bin/python benchmarks/profile_lookup.py --workspace /tmp/bench-ws
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.array(samples) * 1000
    return {"n": len(arr), "p50": round(float(np.percentile(arr, 50)), 2),
            "p99": round(float(np.percentile(arr, 99)), 2), "max": round(float(arr.max()), 2)}  # fmt: skip


def build(folder: Path, customers: int, events_per_customer: int, seed: int) -> None:
    from cvm.identity.batch import resolve_batch
    from cvm.identity.profile_lookup import ensure_lookup_indexes
    from cvm.state.tables import trait_values
    from cvm.state.upsert import bulk_insert
    from cvm.workspace import init_workspace, open_workspace
    from identity import customers_table

    if not (folder / "cvm.toml").exists():
        ws = init_workspace(folder)
        ws.engine.write_arrow("customers", customers_table(customers, seed))
        resolve_batch(ws.engine, ws.state)
        ws.close()
    rng = np.random.default_rng(seed)
    with open_workspace(folder) as ws:
        n = int(ws.engine.fetch_scalar("SELECT count(*) FROM customers") or 0)  # type: ignore[call-overload]
        if ws.engine.fetch_scalar("SELECT count(*) FROM profiles"):
            ensure_lookup_indexes(ws.engine)
            return  # built by an earlier run
        ids = [f"C{i:07d}" for i in range(n)]
        ws.engine.write_arrow("profiles", pa.table({
            "customer_id": pa.array(ids),
            "orders": pa.array(rng.integers(1, 40, n)),
            "clv": pa.array(rng.gamma(2.0, 50.0, n)),
            "churn_propensity": pa.array(rng.random(n)),
            "rfm_segment": pa.array(rng.choice(["Champions", "Loyal", "At risk"], n)),
        }), mode="append")  # fmt: skip
        m = n * events_per_customer
        who = rng.integers(0, n, m)
        ws.engine.write_arrow("events", pa.table({
            "event_id": pa.array([f"ev{i}" for i in range(m)]),
            "customer_id": pa.array([ids[i] for i in who.tolist()]),
            "user_id": pa.array([ids[i] for i in who.tolist()]),
            "type": pa.array(["track"] * m),
            "name": pa.array(rng.choice(["Viewed", "Added", "Bought"], m)),
            "occurred_at": pa.array(
                (np.datetime64("2024-01-01") + rng.integers(0, 365 * 86400, m).astype("timedelta64[s]")
                 ).astype("datetime64[us]")),
            "_source": pa.array(["bench"] * m),
        }))  # fmt: skip
        ensure_lookup_indexes(ws.engine)
        rows = (
            ws.state.connect()
            .exec_driver_sql("SELECT id FROM identities WHERE kind = 'user_id'")
            .fetchall()
        )
        now = datetime(2024, 6, 1)
        with ws.state.begin() as conn:
            bulk_insert(conn, trait_values, [
                {"identity_id": r[0], "name": "first_name", "value": "Alex", "source": "api:identify",
                 "observed_at": now} for r in rows
            ])  # fmt: skip


def _emails(ws: object, indexes: list[int]) -> list[str]:
    """E-mails of sampled customers, as stored (some are shared family inboxes)."""
    table = pa.table({"customer_id": [f"C{i:07d}" for i in indexes]})
    ws.engine.register_arrow("sample_ids", table)  # type: ignore[attr-defined]
    rows = ws.engine.fetch_rows(  # type: ignore[attr-defined]
        "SELECT c.email FROM customers c JOIN sample_ids s USING (customer_id)"
    )
    return [str(r[0]) for r in rows]


def time_function(folder: Path, lookups: int, seed: int) -> dict[str, dict[str, float]]:
    from cvm.identity.profile_lookup import LookupKey, find_customer_id, lookup_profile
    from cvm.workspace import open_workspace

    rng = np.random.default_rng(seed + 1)
    out: dict[str, dict[str, float]] = {}
    with open_workspace(folder) as ws:
        n = int(ws.engine.fetch_scalar("SELECT count(*) FROM customers") or 0)  # type: ignore[call-overload]
        emails = _emails(ws, rng.integers(0, n, lookups).tolist())
        for kind in ("customer_id", "email"):
            samples = []
            ids = [f"C{i:07d}" for i in rng.integers(0, n, lookups).tolist()]
            for value in ids if kind == "customer_id" else emails:
                t = time.perf_counter()
                cid = find_customer_id(ws.state, LookupKey(kind, value))
                lookup_profile(ws.engine, ws.state, cid, "opt_in", 20)
                samples.append(time.perf_counter() - t)
            out[f"function, by {kind}"] = _percentiles(samples[10:])  # first calls warm caches
    return out


def time_http(folder: Path, lookups: int, seed: int) -> dict[str, float]:
    import httpx

    from cvm.state.keys import create_key
    from cvm.workspace import open_workspace

    with open_workspace(folder) as ws:
        key = create_key(ws.state, "read", "bench")[1]
        n = int(ws.engine.fetch_scalar("SELECT count(*) FROM customers") or 0)  # type: ignore[call-overload]
        emails = _emails(ws, np.random.default_rng(seed + 2).integers(0, n, lookups).tolist())
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "cvm", "serve", "-w", str(folder), "--port",
                               str(port), "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(900):
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        samples = []
        with httpx.Client(base_url=url, auth=(key, "")) as client:
            for email in emails:
                t = time.perf_counter()
                r = client.get("/v1/profiles", params={"email": email})
                samples.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
        return _percentiles(samples[10:])
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events-per-customer", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "profile_lookup.md"
    )
    args = parser.parse_args()
    folder = args.workspace or Path(tempfile.mkdtemp(prefix="cvm-lookup-")) / "ws"
    t = time.perf_counter()
    build(folder, args.customers, args.events_per_customer, args.seed)
    built = time.perf_counter() - t
    results = time_function(folder, args.lookups, args.seed)
    results["HTTP GET /v1/profiles?email= (sequential)"] = time_http(
        folder, args.lookups, args.seed
    )
    lines = [
        "# Profile lookup benchmark (`benchmarks/profile_lookup.py`)",
        "",
        f"Machine: {os.cpu_count()} cores, 24 GB, Python {platform.python_version()}; other work "
        "ran concurrently on the machine. State store SQLite (identities, traits, consents), "
        "warehouse DuckDB (customer_360, events), no cache.",
        "",
        f"Data: {args.customers:,} profiles (customer id, e-mail, phone, CRM id), one `profiles` "
        f"row and {args.events_per_customer} events each; setup {built:.0f} s (not counted).",
        "",
        "| lookup | n | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *[f"| {k} | {v['n']} | {v['p50']} | {v['p99']} | {v['max']} |" for k, v in results.items()],
        "",
        "Target: p99 under 20 ms.",
    ]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
