"""Benchmark: decisioning at 1,000,000 customers × 10 offers × 3 channels.

Builds a synthetic warehouse (customers with time zones and addresses, profiles with CLV,
order value, recency, value tier and an uplift score per modelled offer, consents per channel,
two weeks of contact history plus scheduled messages, cool-down events), loads 10 offers with
eligibility rules, and times:

1. the daily batch run end to end (`compute_decisions`: feature SQL over `customer_360`,
   scoring, arbitration under a budget, an SMS capacity, per-offer maximum volumes and the
   frequency caps, control groups) with the Lagrangian greedy, and its certified gap to the
   Lagrangian dual bound;
2. greedy vs the exact LP on the same problem restricted to a customer subset with every limit
   scaled to it (the exact LP at full size does not fit the time on 2 cores: ~126 s already at
   0.7M pairs), reporting both objectives in the same run;
3. real-time decisions: in-process `RealtimeDecider.decide` latency, and GET /v1/decisions over
   loopback HTTP (uvicorn) at a fixed arrival rate (open loop) of 200 requests/s.

Usage::

    .venv/bin/python benchmarks/decide.py --customers 1000000 --lp-pairs 500000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2025, 6, 2)
NOW = dt.datetime(2025, 6, 2, 10, 0)

OFFERS = [
    {"id": f"offer_{i}", "name": f"Offer {i}", "outcome": outcome, "channels": channels,
     "incentive": {"cost": incentive, "redemption_probability": 0.25},
     "value": value, "uplift": {"model": f"offer_{i}", "prior": prior} if i < 5 else {"prior": prior},
     "eligibility": rule, "volume": {"max": vmax}}
    for i, (outcome, channels, incentive, value, prior, rule, vmax) in enumerate([
        ("retention", {"email": 0.003, "sms": 0.06}, 4.0, {"kind": "clv", "fraction": 0.3}, 0.01,
         {"kind": "profile", "field": "days_since_last_purchase", "op": "gt", "value": 90}, 150_000),
        ("retention", {"email": 0.003, "push": 0.001}, 2.0, {"kind": "clv", "fraction": 0.2}, 0.01,
         {"kind": "profile", "field": "days_since_last_purchase", "op": "between", "value": [45, 180]}, 200_000),
        ("purchase", {"email": 0.003, "sms": 0.06, "push": 0.001}, 0.0, {"kind": "order", "margin": 0.3}, 0.02,
         None, 250_000),
        ("purchase", {"email": 0.003, "push": 0.001}, 1.0, {"kind": "order", "margin": 0.35}, 0.02,
         {"kind": "profile", "field": "orders", "op": "gte", "value": 3}, 200_000),
        ("activation", {"email": 0.003, "sms": 0.06}, 3.0, {"kind": "fixed", "amount": 25}, 0.02,
         {"kind": "profile", "field": "orders", "op": "lte", "value": 1}, 100_000),
        ("purchase", {"email": 0.003, "push": 0.001}, 0.5, {"kind": "order", "margin": 0.25}, 0.015,
         {"kind": "profile", "field": "value_tier", "op": "in", "value": ["top 10%", "top 1%"]}, 80_000),
        ("retention", {"email": 0.003, "sms": 0.06, "push": 0.001}, 6.0, {"kind": "clv", "fraction": 0.4}, 0.012,
         {"kind": "profile", "field": "clv", "op": "gt", "value": 150}, 60_000),
        ("purchase", {"email": 0.003}, 0.0, {"kind": "fixed", "amount": 8}, 0.03,
         {"kind": "profile", "field": "rfm_segment", "op": "in", "value": ["Loyal", "Champions"]}, 150_000),
        ("activation", {"push": 0.001, "sms": 0.06}, 1.5, {"kind": "fixed", "amount": 15}, 0.025,
         {"kind": "profile", "field": "days_since_last_purchase", "op": "lt", "value": 30}, 120_000),
        ("purchase", {"email": 0.003, "sms": 0.06, "push": 0.001}, 2.5, {"kind": "order", "margin": 0.3}, 0.02,
         {"kind": "profile", "field": "avg_order_value", "op": "gt", "value": 60}, 100_000),
    ])
]  # fmt: skip

U = "(hash(i, {salt}) % 1000000) / 1000000.0"  # a deterministic uniform per row and salt


def build_warehouse(engine: object, n: int) -> None:
    """Synthetic base in SQL (constant statements, deterministic hashes, no user input)."""
    ex = engine.execute  # type: ignore[attr-defined]
    u = {
        k: U.format(salt=v)
        for k, v in {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7}.items()
    }
    ex(f"""INSERT INTO customers (customer_id, email, phone, time_zone)
        SELECT 'C' || lpad(CAST(i AS VARCHAR), 7, '0'),
               CASE WHEN {u["a"]} < 0.9 THEN 'c' || i || '@example.com' END,
               CASE WHEN {u["b"]} < 0.6 THEN '+4915' || i END,
               ['Europe/Berlin', 'Europe/London', 'America/New_York', 'Asia/Tokyo', 'Europe/Moscow'][1 + i % 5]
        FROM range({n}) t(i)""")  # noqa: S608
    uplift = ", ".join(
        f"'offer_{k}', round(0.06 * pow({U.format(salt=10 + k)}, 2.5), 5)" for k in range(5)
    )
    ex("DELETE FROM profiles")
    ex(f"""INSERT INTO profiles (customer_id, clv, avg_order_value, days_since_last_purchase, orders,
                                 revenue, value_tier, rfm_segment, uplift)
        SELECT 'C' || lpad(CAST(i AS VARCHAR), 7, '0'),
               exp(3.5 + 1.2 * ({u["c"]} - 0.5) * 3.4),
               20 + 80 * {u["d"]},
               CAST(365 * pow({u["e"]}, 1.5) AS BIGINT),
               1 + CAST(12 * pow({u["f"]}, 2) AS BIGINT),
               exp(4 + 1.2 * ({u["c"]} - 0.5) * 3.4),
               CASE WHEN {u["c"]} > 0.9 THEN 'top 10%' WHEN {u["c"]} > 0.5 THEN 'top 50%' ELSE 'bottom 50%' END,
               ['Champions', 'Loyal', 'At risk', 'Hibernating', 'New'][1 + CAST(5 * {u["g"]} AS BIGINT) % 5],
               json_object({uplift})
        FROM range({n}) t(i)""")  # noqa: S608
    ex(f"""INSERT INTO consents (customer_id, channel, purpose, status, occurred_at, _loaded_at)
        SELECT 'C' || lpad(CAST(i AS VARCHAR), 7, '0'), ch, 'marketing',
               CASE WHEN (hash(i, ch) % 100) < 80 THEN 'granted' ELSE 'denied' END,
               TIMESTAMP '2025-01-01', TIMESTAMP '2025-01-01'
        FROM range({n}) t(i), (VALUES ('email'), ('sms'), ('push')) c(ch)""")  # noqa: S608
    ex(f"""INSERT INTO contact_history (customer_id, channel, purpose, "at", status, recorded_at)
        SELECT 'C' || lpad(CAST((hash(j, 'h') % {n}) AS VARCHAR), 7, '0'),
               ['email', 'email', 'push', 'sms'][1 + j % 4], 'marketing',
               TIMESTAMP '2025-06-02 10:00' + to_minutes(CAST((hash(j, 't') % 20160) AS BIGINT) - 17280),
               CASE WHEN j % 10 = 0 THEN 'scheduled' ELSE 'sent' END, TIMESTAMP '2025-06-01'
        FROM range({int(n * 1.5)}) t(j)""")  # noqa: S608
    ex(f"""INSERT INTO events (event_id, customer_id, type, name, occurred_at, _loaded_at)
        SELECT 'e' || j, 'C' || lpad(CAST((hash(j, 'ev') % {n}) AS VARCHAR), 7, '0'), 'track',
               'offer_redeemed', TIMESTAMP '2025-05-30', TIMESTAMP '2025-05-30'
        FROM range({n // 100}) t(j)""")  # noqa: S608


def settings_for(n: int) -> object:
    from cvm.decide.config import DecideSettings

    return DecideSettings.model_validate({
        "arbitration": {"budget": 0.06 * n, "channel_capacity": {"sms": n // 40}, "solver": "greedy"},
        "control": {"offer_share": 0.1, "global": {"share": 0.05}},
    })  # fmt: skip


def batch(ws: object, n: int, offers: list[object]) -> dict[str, object]:
    # Imports are not the run: load the solver modules (SciPy/HiGHS) first. In this
    # environment (PYTHONDONTWRITEBYTECODE) they are compiled on every start, 2-5 s under load.
    import cvm.decide.lp_solver  # noqa: F401
    from cvm.decide.batch import compute_decisions

    settings = settings_for(n)
    load_before = os.getloadavg()
    t = time.perf_counter()
    result = compute_decisions(ws.engine, offers, settings, day=DAY, now=NOW)  # type: ignore[attr-defined, arg-type]
    total = time.perf_counter() - t
    s = result.summary
    return {"seconds_total": round(total, 2), "timings": s["timings"], "pairs": s["pairs_scored"],
            "decisions": s["decisions"], "contacted": s["contacted"], "solver": s["solver"],
            "binding": s["binding"], "spend": s["spend"], "expected_profit": s["expected_profit"],
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "result": result}  # fmt: skip


def lp_compare(result: object, target_pairs: int) -> dict[str, object]:
    """Greedy vs the exact LP on the first customers of the same problem (about
    ``target_pairs`` pairs), every limit scaled to their share."""
    from cvm.decide.arbitration import solve, violations
    from cvm.decide.lp_solver import solve_lp

    full = result.candidates.problem  # type: ignore[attr-defined]
    per_customer = full.n_pairs / max(full.n_customers, 1)
    customers = min(full.n_customers, int(target_pairs / max(per_customer, 1e-9)))
    keep = full.customer < customers
    share = customers / full.n_customers
    sub = replace(
        full.subset(keep),
        budget=full.budget * share,
        channel_capacity=np.floor(full.channel_capacity * share),
        offer_max=np.floor(full.offer_max * share),
        offer_min=np.ceil(full.offer_min * share),
    )
    load_before = os.getloadavg()
    t = time.perf_counter()
    greedy = solve(sub, "greedy")
    tg = time.perf_counter() - t
    t = time.perf_counter()
    # LP relaxation (its optimum bounds every integer solution), rounded down and filled; no
    # MILP at this size
    exact = solve_lp(sub.canonical()[0], milp_max_pairs=0)
    tl = time.perf_counter() - t
    return {"customers": customers, "pairs": sub.n_pairs,
            "greedy": {"objective": round(greedy.objective, 2), "seconds": round(tg, 2), "violations": violations(sub, greedy.chosen)},
            "lp": {"solver": exact.solver, "objective": round(exact.objective, 2), "bound": round(exact.bound or 0, 2),
                   "seconds": round(tl, 2), "notes": exact.notes},
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "greedy_vs_lp": round(greedy.objective / exact.objective, 5),
            "greedy_vs_lp_bound": round(greedy.objective / (exact.bound or 1), 5)}  # fmt: skip


def pct(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1000
    return {"n": len(a), "p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3), "max_ms": round(float(a.max()), 3)}  # fmt: skip


def serve(folder: Path, n: int, port: int, report: Path) -> None:
    """The server process: build the decider, time it in process, then serve HTTP."""
    import uvicorn
    from fastapi import FastAPI

    from cvm.api.errors import install_error_handlers
    from cvm.api.routes import decisions
    from cvm.api.services import Services
    from cvm.collect.config import load_live_settings
    from cvm.decide.offers import parse_offers
    from cvm.decide.realtime import RealtimeDecider
    from cvm.state.keys import create_key
    from cvm.workspace import open_workspace

    ws = open_workspace(folder)
    offers = parse_offers([(f"offers[{i}]", o) for i, o in enumerate(OFFERS)])
    t = time.perf_counter()
    decider = RealtimeDecider(ws.engine, offers, settings_for(n), clock=lambda: NOW)  # type: ignore[arg-type]
    load = time.perf_counter() - t
    decider.start()
    rng = np.random.default_rng(7)
    chans = ["email", "sms", "push", "web"]
    lat = []
    for k, i in enumerate(rng.integers(0, n, 20_000)):
        t = time.perf_counter()
        decider.decide(f"C{int(i):07d}", chans[k % 4])
        lat.append(time.perf_counter() - t)
    report.write_text(json.dumps({"snapshot_load_seconds": round(load, 2), "in_process": pct(lat)}))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(decisions.router)
    decisions.attach_decider(app, decider)
    # Real authentication, as shipped: a read key checked by the route's dependency (the
    # cached `cvm.api.deps.authorize` check).
    app.state.services = Services.build(ws, load_live_settings(ws.root))
    _key, secret = create_key(ws.state, "read", "decide-benchmark")
    (folder / "bench_key.txt").write_text(secret)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def realtime(
    folder: Path, n: int, seconds: float, rate: float, port: int = 8765
) -> dict[str, object]:
    """Start the server process, then an open-loop load at ``rate`` requests/s from this one."""
    import subprocess

    import httpx

    report = folder / "realtime_inprocess.json"
    report.unlink(missing_ok=True)
    (folder / "bench_key.txt").unlink(missing_ok=True)
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        "--workspace",
        str(folder),
        "--customers",
        str(n),
        "--port",
        str(port),
    ]
    server = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    try:
        deadline = time.time() + 900
        while time.time() < deadline:
            try:
                if (
                    report.exists()
                    and httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        rng = np.random.default_rng(11)
        chans = ["email", "sms", "push", "web"]
        secret = (folder / "bench_key.txt").read_text().strip()
        load_before = os.getloadavg()

        async def load_test() -> tuple[list[float], int, float]:
            """Open loop: request k is due at start + k/rate; its latency runs from that moment
            (queueing included). A light keep-alive HTTP/1.1 client on raw sockets, so the
            load generator is not the bottleneck (httpx needed ~5 ms of CPU per request here)."""
            samples: list[float] = []
            errors = 0
            pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
            for _ in range(48):
                pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))

            async def one(k: int, due: float) -> None:
                nonlocal errors
                reader, writer = await pool.get()
                cid = f"C{int(rng.integers(0, n)):07d}"
                path = f"/v1/decisions/{cid}?channel={chans[k % 4]}&context=bench"
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {secret}"
                    "\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                samples.append(time.perf_counter() - due)
                errors += not head.startswith(b"HTTP/1.1 200")
                pool.put_nowait((reader, writer))

            for k in range(300):  # warm-up
                await one(k, time.perf_counter())
            samples.clear()
            total = int(seconds * rate)
            start = time.perf_counter()
            tasks = []
            for k in range(total):
                due = start + k / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(k, due)))
            await asyncio.gather(*tasks)
            return samples, errors, total / (time.perf_counter() - start)

        samples, errors, achieved = asyncio.run(load_test())
    finally:
        server.terminate()
        server.wait(timeout=60)
    inproc = json.loads(report.read_text())
    return {
        **inproc,
        "http": {
            **pct(samples),
            "errors": errors,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "target_rps": rate,
            "achieved_rps": round(achieved, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--lp-pairs", type=int, default=500_000, help="Size of the exact-LP comparison."
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="Write the JSON result here.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reuse", action="store_true", help="Reuse the warehouse in --workspace.")
    parser.add_argument("--realtime-only", action="store_true", help="Skip the batch and LP parts.")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.workspace, args.customers, args.port, args.workspace / "realtime_inprocess.json")
        return

    from cvm.decide.offers import parse_offers
    from cvm.decide.tables import ensure_decide_tables
    from cvm.workspace import init_workspace

    folder = args.workspace or Path(tempfile.mkdtemp(prefix="cvm-decide-bench-")) / "ws"
    t = time.perf_counter()
    if args.reuse and (folder / "cvm.toml").exists():
        from cvm.workspace import open_workspace

        ws = open_workspace(folder)
    else:
        ws = init_workspace(folder, force=True)
        ensure_decide_tables(ws.engine)
        build_warehouse(ws.engine, args.customers)
    build_seconds = time.perf_counter() - t
    offers = parse_offers([(f"offers[{i}]", o) for i, o in enumerate(OFFERS)])
    out: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "customers": args.customers, "offers": len(offers), "build_seconds": round(build_seconds, 1),
    }  # fmt: skip
    print(f"warehouse built in {build_seconds:.1f} s", flush=True)
    if args.realtime_only:
        ws.close()
        out["realtime"] = realtime(folder, args.customers, args.seconds, args.rate, args.port)
        print(json.dumps(out["realtime"], indent=2, default=str), flush=True)
        return
    b = batch(ws, args.customers, offers)
    result = b.pop("result")
    out["batch"] = b
    print(json.dumps(b, indent=2, default=str), flush=True)
    out["lp_compare"] = lp_compare(result, args.lp_pairs)
    print(json.dumps(out["lp_compare"], indent=2, default=str), flush=True)
    del result
    ws.close()  # the server process opens the warehouse (DuckDB: one writer process)
    out["realtime"] = realtime(folder, args.customers, args.seconds, args.rate, args.port)
    print(json.dumps(out["realtime"], indent=2, default=str), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
