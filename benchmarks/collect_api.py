"""Benchmark: POST /v1/batch (100-event batches) on `cvm serve` with durability on, against a
minimal FastAPI endpoint that does nothing, same machine, same run.

The load generator runs in its own process (httpx + asyncio over loopback), bounded in
count and time. Two measurements per server:

* ``max``: closed loop, C concurrent clients sending as fast as answers come back;
* ``rate``: open loop at a fixed offered rate (default 20,000 events/s = 200 requests/s);
  latency counts from the *scheduled* send time, so queueing is not hidden.

After the cvm run the benchmark waits for the loader to drain the intake log into the
warehouse and checks the count. Usage::

    .venv/bin/python benchmarks/collect_api.py --duration 20 --rate 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _event(rng: random.Random) -> dict[str, Any]:
    # A realistic shape: each device belongs to one person; 30% of events are anonymous.
    device = rng.randrange(80_000)
    user = f"user-{device % 50_000}"
    return {
        "type": "track",
        "event": rng.choice(["Product Viewed", "Product Added", "Order Completed", "Page Scrolled"]),
        "userId": user if rng.random() < 0.7 else None,
        "anonymousId": f"anon-{device}",
        "messageId": str(uuid.uuid4()),
        "timestamp": "2024-05-01T12:00:00.000Z",
        "properties": {"product_id": f"p{rng.randrange(5000)}", "price": round(rng.random() * 100, 2),
                       "currency": "USD", "category": "shoes"},
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"},
                    "ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (bench)"},
    }  # fmt: skip


def _body(rng: random.Random, batch: int) -> bytes:
    events = [_event(rng) for _ in range(batch)]
    for e in events:
        if e["userId"] is None:
            del e["userId"]
    return json.dumps({"batch": events, "sentAt": "2024-05-01T12:00:01.000Z"}).encode()


async def _load(url: str, key: str, mode: str, concurrency: int, duration: float, rate: float,
                batch: int, max_requests: int, seed: int) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(seed)
    bodies = [_body(rng, batch) for _ in range(64)]  # pre-built; messageIds made unique below
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), limits=limits, timeout=30) as client:

        async def one(scheduled: float) -> None:
            nonlocal sent
            body = bodies[sent % len(bodies)].replace(
                b'"messageId": "', f'"messageId": "{sent}-'.encode()
            )
            sent += 1
            r = await client.post(
                "/v1/batch", content=body, headers={"Content-Type": "application/json"}
            )
            latencies.append(time.perf_counter() - scheduled)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        start = time.perf_counter()
        end = start + duration
        if mode == "max":

            async def worker() -> None:
                while time.perf_counter() < end and sent < max_requests:
                    await one(time.perf_counter())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            interval = batch / rate
            tasks: list[asyncio.Task[None]] = []
            i = 0
            while sent + len(tasks) < max_requests:
                scheduled = start + i * interval
                if scheduled > end:
                    break
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(scheduled)))
                tasks = [t for t in tasks if not t.done()] if len(tasks) > 1000 else tasks
                i += 1
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()
    ok = statuses.get(200, 0)

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
        )

    return {"mode": mode, "requests": len(latencies), "ok": ok, "statuses": statuses,
            "seconds": round(elapsed, 2), "events_per_s": round(ok * batch / elapsed),
            "p50_ms": round(pct(0.50), 1), "p99_ms": round(pct(0.99), 1),
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0}  # fmt: skip


BASELINE_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/v1/batch")
async def batch(request: Request):
    await request.body()
    return JSONResponse({"success": True})
@app.get("/healthz")
async def healthz():
    return {"status": "ok"}
"""


def _wait_up(url: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def _run_load(url: str, key: str, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--load", url, "--key", key, "--mode", mode,
           "--concurrency", str(args.concurrency), "--duration", str(args.duration),
           "--rate", str(args.rate), "--batch", str(args.batch),
           "--max-requests", str(args.max_requests), "--seed", str(args.seed)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--rate", type=float, default=20_000, help="offered events/s (rate mode)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="max", help=argparse.SUPPRESS)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "collect_api.md"
    )
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(_load(args.load, args.key, args.mode, args.concurrency,
                                           args.duration, args.rate, args.batch,
                                           args.max_requests, args.seed))))  # fmt: skip
        return

    from cvm.state.keys import create_key
    from cvm.workspace import init_workspace, open_workspace

    tmp = Path(tempfile.mkdtemp(prefix="cvm-bench-"))
    ws = init_workspace(tmp / "ws")
    key = create_key(ws.state, "write")[1]
    ws.close()
    results: dict[str, dict[str, Any]] = {}
    base_port, cvm_port = _free_port(), _free_port()
    (tmp / "baseline.py").write_text(BASELINE_APP)
    baseline = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "baseline:app", "--port", str(base_port), "--log-level", "warning"],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_up(f"http://127.0.0.1:{base_port}")
        for mode in ("max", "rate"):
            results[f"baseline.{mode}"] = _run_load(
                f"http://127.0.0.1:{base_port}", key, args, mode
            )
            print("baseline", results[f"baseline.{mode}"], flush=True)
    finally:
        baseline.terminate()
        baseline.wait()
    server = subprocess.Popen(
        [sys.executable, "-m", "cvm", "serve", "-w", str(tmp / "ws"), "--port", str(cvm_port),
         "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_up(f"http://127.0.0.1:{cvm_port}")
        for mode in ("max", "rate"):
            results[f"cvm.{mode}"] = _run_load(f"http://127.0.0.1:{cvm_port}", key, args, mode)
            print("cvm", results[f"cvm.{mode}"], flush=True)
        drain_start = time.perf_counter()
        while True:
            ready = httpx.get(f"http://127.0.0.1:{cvm_port}/readyz", timeout=30).json()
            if ready["checks"].get("intake") == "pending=0":
                break
            time.sleep(0.5)
        drain = time.perf_counter() - drain_start
    finally:
        server.terminate()
        server.wait()
    with open_workspace(tmp / "ws") as ws:
        loaded = int(ws.engine.fetch_scalar("SELECT count(*) FROM events") or 0)  # type: ignore[call-overload]
    accepted = sum(r["ok"] * args.batch for k, r in results.items() if k.startswith("cvm."))
    _write(args, results, loaded, accepted, drain)


def _write(args: argparse.Namespace, results: dict[str, dict[str, Any]], loaded: int,
           accepted: int, drain: float) -> None:  # fmt: skip
    lines = [
        "# Collection API benchmark (`benchmarks/collect_api.py`)",
        "",
        f"Machine: {os.cpu_count()} cores, 24 GB, {platform.python_version()} "
        "(uvicorn without uvloop/httptools: neither is a dependency); other work ran "
        "concurrently on the machine. Load generator: a separate process, httpx + asyncio "
        f"over loopback, {args.batch}-event batches (~{len(_body(random.Random(0), args.batch)) // 1024} KB), "
        f"{args.duration:.0f} s per measurement, concurrency {args.concurrency}, seed {args.seed}.",
        "",
        "`max` = closed loop (as fast as answers come back); `rate` = open loop at "
        f"{args.rate:,.0f} offered events/s, latency from the scheduled send time.",
        "",
        "| server | mode | requests | events/s | p50 ms | p99 ms | max ms | statuses |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        server, mode = name.split(".")
        lines.append(f"| {server} | {mode} | {r['requests']:,} | {r['events_per_s']:,} | "
                     f"{r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['statuses']} |")  # fmt: skip
    ratio = results["cvm.max"]["events_per_s"] / max(1, results["baseline.max"]["events_per_s"])
    lines += [
        "",
        f"cvm / do-nothing endpoint, max throughput: **{ratio:.2f}**.",
        f"Every acknowledged event reached the warehouse: {loaded:,} loaded of {accepted:,} "
        f"acknowledged; the loader drained the backlog {drain:.1f} s after the load stopped.",
    ]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
