"""Server time of every dashboard page and of the segment builder's live count.

Builds (or reuses) a demo workspace, starts the app in-process (FastAPI TestClient, no
network), signs in, and times each page: the first request after start ("cold": the figure
cache is empty unless --warm) and the median of --repeat later requests ("warm"). The live
count is timed on three rules of increasing cost (profile field, purchase count in a window,
event count in a window) through POST /ui/segments/check.

    python benchmarks/ui_pages.py --customers 200000 --workspace /tmp/uibench --repeat 5
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

PAGES = ["/ui/", "/ui/customers", "/ui/customers/search?q=C0001", "/ui/segments",
         "/ui/segments/new", "/ui/value", "/ui/models", "/ui/campaigns", "/ui/campaigns/new",
         "/ui/offers", "/ui/health", "/ui/admin/users", "/ui/admin/audit"]  # fmt: skip
RULES = {
    "profile: clv >= 100": {"kind": "profile", "field": "clv", "op": "gte", "value": 100},
    "purchase: 2+ orders in 90 days": {"kind": "purchase", "measure": "count", "op": "gte",
                                        "value": 2, "window": {"days": 90}},
    "all(profile, event 1+ in 30 days)": {"kind": "all", "conditions": [
        {"kind": "profile", "field": "p_alive", "op": "gt", "value": 0.5},
        {"kind": "event", "name": "page_view", "op": "at_least", "times": 1, "window": {"days": 30}}]},
}  # fmt: skip


def build(root: Path, customers: int, seed: int) -> None:
    from cvm.demo import generate_company, load_company_into
    from cvm.segments.membership import refresh_memberships
    from cvm.segments.store import open_store
    from cvm.state.runs import record_stage_run
    from cvm.value.stage import run_value_stage
    from cvm.workspace import init_workspace

    ws = init_workspace(root, force=True)
    load_company_into(ws.engine, generate_company(customers, seed=seed))
    with record_stage_run(ws.state, "value"):
        run_value_stage(
            ws.engine, ws.settings.value, models_dir=ws.models_dir, runs_dir=ws.runs_dir
        )
    with record_stage_run(ws.state, "segments"):
        refresh_memberships(ws.engine, store=open_store(ws))
    ws.close()


def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/cvm-ui-bench"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="Use the workspace as it is.")
    parser.add_argument("--warm", action="store_true", help="Let the cache warm before timing.")
    args = parser.parse_args()
    if not args.reuse:
        seconds, _ = timed(lambda: build(args.workspace, args.customers, args.seed))
        print(f"built {args.customers:,} customers in {seconds / 1000:.0f} s")
    from fastapi.testclient import TestClient

    from cvm.api.app import create_app
    from cvm.core.errors import ConflictError
    from cvm.state.users import create_user

    app = create_app(args.workspace, run_loader=False, warm_ui=args.warm)
    try:
        create_user(app.state.services.workspace.state, "bench", "bench-password", "admin")
    except ConflictError:
        pass
    engine = app.state.services.workspace.engine
    customers = engine.fetch_scalar("SELECT count(*) FROM customers")
    print(f"| page | first request (ms) | median of {args.repeat} later (ms) |\n|---|---:|---:|")
    with TestClient(app) as client:
        page = client.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        # No redirect following: the redirect to /ui/ would compute the overview untimed.
        client.post("/ui/login", data={"username": "bench", "password": "bench-password",
                                       "csrf_token": token}, follow_redirects=False)  # fmt: skip
        if args.warm:
            time.sleep(1)
            while any(
                t.name == "ui-warm" and t.is_alive() for t in __import__("threading").enumerate()
            ):
                time.sleep(0.5)
        for path in PAGES:
            first, response = timed(lambda p=path: client.get(p))
            assert response.status_code == 200, (path, response.status_code)
            later = [timed(lambda p=path: client.get(p))[0] for _ in range(args.repeat)]
            print(f"| `{path}` | {first:,.0f} | {statistics.median(later):,.0f} |")
        cid = engine.fetch_scalar("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1")
        first, _ = timed(lambda: client.get(f"/ui/customers/{cid}"))
        later = [timed(lambda: client.get(f"/ui/customers/{cid}"))[0] for _ in range(args.repeat)]
        print(f"| `/ui/customers/<id>` | {first:,.0f} | {statistics.median(later):,.0f} |")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/offers").text).group(
            1
        )  # type: ignore[union-attr]
        print(
            f"\nlive count on {customers:,} customers\n\n| rule | size | median (ms) | max (ms) |\n|---|---:|---:|---:|"
        )
        for label, rule in RULES.items():
            body = {"definition": {"name": "bench", "rule": rule}}
            runs = [timed(lambda b=body: client.post("/ui/segments/check", json=b,
                                                     headers={"X-CSRF-Token": csrf}))
                    for _ in range(args.repeat)]  # fmt: skip
            size = runs[-1][1].json().get("size")
            times = [t for t, _ in runs]
            print(f"| {label} | {size:,} | {statistics.median(times):,.0f} | {max(times):,.0f} |")


if __name__ == "__main__":
    main()
