"""Campaign benchmarks: render + enqueue, SMTP dispatch throughput, trigger latency.

    python benchmarks/campaigns.py enqueue --customers 1000000
    python benchmarks/campaigns.py dispatch --messages 20000 --workers 2
    python benchmarks/campaigns.py trigger --events 200

* ``enqueue``: a synthetic base (deterministic from ``--seed``: names, languages, zones,
  cities, e-mail consent for all) in a fresh workspace; one campaign over a segment of everyone
  with a personalised subject, HTML (two tracked links, pixel, unsubscribe) and text part, in
  two languages; times `run_occurrence` (audience query, selection, render, outbox writes,
  campaign_audience) and, separately, the contact-history mirror.
* ``dispatch``: the outbox of an ``enqueue`` run of ``--messages`` customers, sent by
  ``--workers`` threads to an aiosmtpd server in this process; reports messages/s and, with
  ``--profile``, where the time goes (cProfile of the whole run).
* ``trigger``: a real ``cvm serve`` and ``cvm campaigns dispatch`` (subprocesses) and an
  SMTP sink; ``--events`` ``cart_abandoned`` events posted to /v1/track one by one, each for a
  different customer; latency = SMTP receipt time − the moment the request was answered.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONTENT = {
    "en": {
        "subject": "{{ first_name | default('Hello') }}, spring picks for {{ city | default('you') }}",
        "html": "<html><body><h1>Hi {{ first_name | default('there') }}!</h1>"
        "<p>New in {{ city | default('your area') }}: fresh arrivals picked for you.</p>"
        "<p><a href='https://shop.example/spring?utm_source=cvm'>See the collection</a> · "
        "<a href='https://shop.example/account'>Your account</a></p>"
        "<p>You get this because you subscribed. <a href='{{ unsubscribe_url }}'>Unsubscribe</a></p>"
        "</body></html>",
        "text": "Hi {{ first_name | default('there') }}, new in {{ city | default('your area') }}: "
        "https://shop.example/spring",
    },
    "de": {
        "subject": "{{ first_name | default('Hallo') }}, Frühlingstipps für {{ city | default('Sie') }}",
        "html": "<html><body><h1>Hallo {{ first_name | default('') }}!</h1>"
        "<p><a href='https://shop.example/de/fruehling'>Zur Kollektion</a></p></body></html>",
        "text": "Hallo {{ first_name | default('') }}: https://shop.example/de/fruehling",
    },
}
SYNTH = """
INSERT INTO customers (customer_id, first_name, last_name, email, city, country, time_zone,
                       language, signup_date, _source)
SELECT 'C' || lpad(CAST(i AS VARCHAR), 8, '0'),
       (['Anna','Boris','Chloé','David','Elena','Farid','Grace','Hiro'])[CAST(1 + hash(i, 1) % 8 AS BIGINT)],
       'Doe', 'c' || CAST(i AS VARCHAR) || '@example.com',
       (['Berlin','Paris','Madrid','Moscow','Lisbon','Oslo'])[CAST(1 + hash(i, 2) % 6 AS BIGINT)],
       'DE', (['Europe/Berlin','Europe/Paris','America/New_York','Asia/Tokyo'])[CAST(1 + hash(i, 3) % 4 AS BIGINT)],
       (['en','de','en-GB','fr'])[CAST(1 + hash(i, 4) % 4 AS BIGINT)], TIMESTAMP '2024-01-01', 'bench'
FROM range(?) t(i)
"""
CONSENT = """
INSERT INTO consents (customer_id, channel, purpose, status, occurred_at, source)
SELECT customer_id, 'email', 'marketing', 'granted', TIMESTAMP '2024-01-01', 'bench' FROM customers
"""


def build_workspace(root: Path, customers: int, smtp_port: int = 25, api_port: int = 8000) -> Any:
    from cvm.core.contracts import CONSENTS
    from cvm.segments.definition import SegmentDefinition
    from cvm.segments.store import open_store
    from cvm.workspace import init_workspace

    ws = init_workspace(root)
    (root / "decide.toml").write_text(
        '[policy]\nquiet_hours = { start = "00:00", end = "00:01" }\n[control.global]\nshare = 0.0\n'
    )
    (root / "campaigns.toml").write_text(
        f'[tracking]\nbase_url = "http://127.0.0.1:{api_port}"\n'
        f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom_address = "news@shop.example"\n'
        "rate_per_second = 100000\nburst = 1000\n[dispatch]\nbatch_size = 200\npoll_seconds = 0.05\n"
    )
    ws.engine.execute(SYNTH, [customers])
    ws.engine.ensure_table(CONSENTS)
    ws.engine.execute(CONSENT)
    open_store(ws).save(
        SegmentDefinition.model_validate(
            {"name": "everyone", "rule": {"kind": "profile", "field": "email", "op": "is_set"}}
        )
    )
    return ws


def campaign(campaign_id: str = "bench") -> Any:
    from cvm.campaigns.campaign import parse_campaign

    return parse_campaign(
        {
            "id": campaign_id,
            "name": "Benchmark",
            "audience": {"segment": "everyone"},
            "channels": ["email"],
            "content": {"email": CONTENT},
        }  # fmt: skip
    )


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    from cvm.campaigns.launch import run_occurrence
    from cvm.campaigns.lifecycle import create_campaign
    from cvm.campaigns.mirror import mirror_history

    root = Path(tempfile.mkdtemp(prefix="cvm-bench-")) / "ws"
    started = time.perf_counter()
    ws = build_workspace(root, args.customers)
    setup = time.perf_counter() - started
    c = campaign()
    create_campaign(ws, c)
    cpu, wall = time.process_time(), time.perf_counter()
    original = __import__("cvm.campaigns.launch", fromlist=["mirror_all"]).mirror_all
    # Timed apart: the render + enqueue target, then the contact-history mirror.
    import cvm.campaigns.launch as launch_module

    launch_module.mirror_all = lambda *_a, **_k: {"contact_history": 0, "events": 0}  # type: ignore[assignment]
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    summary = run_occurrence(ws, c, "launch")
    if profiler:
        profiler.disable()
    enqueue_wall, enqueue_cpu = time.perf_counter() - wall, time.process_time() - cpu
    launch_module.mirror_all = original
    wall = time.perf_counter()
    mirrored = 0
    while (n := mirror_history(ws.engine, ws.state)) > 0:
        mirrored += n
    mirror_wall = time.perf_counter() - wall
    size = (root / "state.sqlite").stat().st_size
    ws.close()
    result = {
        "customers": args.customers, "queued": summary["queued"], "setup_s": round(setup, 1),
        "render_enqueue_s": round(enqueue_wall, 1), "render_enqueue_cpu_s": round(enqueue_cpu, 1),
        "messages_per_s": round(summary["queued"] / enqueue_wall),
        "contact_history_mirror_s": round(mirror_wall, 1), "mirrored": mirrored,
        "state_mb": round(size / 1e6), "workspace": str(root),
    }  # fmt: skip
    if profiler:
        result["profile"] = _top(profiler)
    return result


def _top(profiler: cProfile.Profile, n: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(n)
    return out.getvalue()


def dispatch(args: argparse.Namespace) -> dict[str, Any]:
    from tests.campaigns.smtp_sink import free_port

    from cvm.campaigns.config import load_campaign_settings
    from cvm.campaigns.dispatch import Dispatcher
    from cvm.campaigns.lifecycle import create_campaign, launch_campaign
    from cvm.channels.registry import open_channel
    from cvm.decide.config import load_decide_settings

    port = free_port()
    # The SMTP server runs in its own process, as a real one would: its CPU is not ours.
    sink = subprocess.Popen(
        [sys.executable, "-m", "tests.campaigns.smtp_sink", str(port)],
        stdout=subprocess.PIPE, cwd=str(Path(__file__).resolve().parents[1]), text=True,
    )  # fmt: skip
    assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
    try:
        root = Path(tempfile.mkdtemp(prefix="cvm-bench-")) / "ws"
        ws = build_workspace(root, args.messages, smtp_port=port)
        create_campaign(ws, campaign())
        launch_campaign(ws, "bench")
        settings = load_campaign_settings(root)
        settings.dispatch.batch_size = args.batch_size
        dispatcher = Dispatcher(
            ws.state,
            settings,
            load_decide_settings(root),
            lambda ch: open_channel(ch, settings, root),
        )
        profiler = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:  # one worker in this thread, so the profile sees it
            profiler.enable()
            dispatcher._loop(0, True)
            profiler.disable()
            stats = dispatcher.stats
        else:
            stats = dispatcher.run(workers=args.workers, once=True)
        elapsed, used = time.perf_counter() - wall, time.process_time() - cpu
        ws.close()
    finally:
        sink.send_signal(signal.SIGTERM)
        received = int((sink.communicate(timeout=60)[0] or "0").strip().splitlines()[-1])
    result = {
        "messages": args.messages, "workers": 1 if args.profile else args.workers,
        "batch_size": args.batch_size, "sent": stats.sent, "skipped": stats.skipped,
        "received": received, "seconds": round(elapsed, 2), "per_second": round(stats.sent / elapsed),
        "cpu_s_dispatcher": round(used, 1),
    }  # fmt: skip
    if profiler:
        result["profile"] = _top(profiler)
    return result


def trigger(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from tests.campaigns.smtp_sink import free_port, smtp_sink

    from cvm.campaigns.campaign import parse_campaign
    from cvm.campaigns.lifecycle import create_campaign, launch_campaign
    from cvm.state.keys import create_key

    api_port = free_port()
    with smtp_sink() as (sink, port):
        root = Path(tempfile.mkdtemp(prefix="cvm-bench-")) / "ws"
        ws = build_workspace(root, args.events, smtp_port=port, api_port=api_port)
        from cvm.identity.batch import resolve_batch

        resolve_batch(ws.engine, ws.state)
        create_campaign(ws, parse_campaign(
            {"id": "cart", "name": "Cart", "channels": ["email"],
             "trigger": {"event": "cart_abandoned", "where": [{"property": "value", "op": "gt", "value": 50}],
                         "reentry": "always"},
             "content": {"email": {"en": {"subject": "Your cart", "text": "Worth {{ event.properties.value }}"}}}}
        ))  # fmt: skip
        launch_campaign(ws, "cart")
        write_key = create_key(ws.state, "write")[1]
        ws.close()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        logs = root.parent
        server = subprocess.Popen(
            [sys.executable, "-m", "cvm", "serve", "--workspace", str(root), "--port", str(api_port)],
            stdout=(logs / "api.log").open("wb"), stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "cvm", "campaigns", "dispatch", "--workers", "2", "--workspace", str(root)],
            stdout=(logs / "dispatch.log").open("wb"), stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{api_port}"
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            time.sleep(3)  # let the dispatcher finish importing
            answered: dict[str, float] = {}
            client = httpx.Client(auth=(write_key, ""))
            for i in range(args.events):
                cid = f"C{i:08d}"
                response = client.post(base + "/v1/track", json={
                    "userId": cid, "event": "cart_abandoned", "properties": {"value": 80 + i}})  # fmt: skip
                response.raise_for_status()
                answered[f"c{i}@example.com"] = time.time()
                time.sleep(args.interval)
            arrived: dict[str, float] = {}
            deadline = time.monotonic() + 60
            while len(arrived) < len(answered) and time.monotonic() < deadline:
                for r in sink.snapshot():
                    arrived.setdefault(r.recipients[0], r.at)
                time.sleep(0.1)
        finally:
            for proc in (worker, server):
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
    lat = sorted(arrived[a] - answered[a] for a in answered if a in arrived)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else float("nan")

    return {"events": args.events, "delivered": len(lat), "p50_s": pct(0.5), "p95_s": pct(0.95),
            "max_s": round(max(lat), 2) if lat else None}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    e = sub.add_parser("enqueue")
    e.add_argument("--customers", type=int, default=1_000_000)
    e.add_argument("--profile", action="store_true")
    d = sub.add_parser("dispatch")
    d.add_argument("--messages", type=int, default=20_000)
    d.add_argument("--workers", type=int, default=2)
    d.add_argument("--batch-size", type=int, default=200)
    d.add_argument("--profile", action="store_true")
    t = sub.add_parser("trigger")
    t.add_argument("--events", type=int, default=200)
    t.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    fn = {"enqueue": enqueue, "dispatch": dispatch, "trigger": trigger}[args.what]
    result = fn(args)
    profile = result.pop("profile", None)
    print(
        json.dumps(
            {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **result}, indent=2
        )
    )
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
