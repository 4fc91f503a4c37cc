"""Data health: ingestion runs with their reconciliation, the quarantine browser, event
intake rate and lag, the last run of each stage, and messages that failed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cvm.engine.sql import bind
from cvm.engine.warehouse import warehouse_table_counts
from cvm.ingest.quarantine import list_quarantine, show_quarantine
from cvm.state.health import failed_messages, intake_health
from cvm.state.runs import last_stage_runs
from cvm.ui.auth import Viewer
from cvm.ui.templating import render

router = APIRouter(prefix="/ui/health", include_in_schema=False)
_RUNS = """
SELECT ingest_run, table_name, source, started_at, finished_at, rows_read, rows_accepted,
       rows_quarantined, rows_inserted, rows_updated, rows_unchanged,
       rows_read = rows_accepted + rows_quarantined AS reconciled
FROM ingest_runs ORDER BY started_at DESC LIMIT :n
"""


def _ws(request: Request) -> Any:
    return request.app.state.services.workspace


@router.get("")
def health(request: Request, session: Viewer) -> Response:
    ws = _ws(request)
    engine = ws.engine
    runs = engine.fetch_arrow(bind(_RUNS, n=50)).to_pylist() if engine.table_exists(
        "ingest_runs"
    ) else []  # fmt: skip
    quarantined = list_quarantine(engine) if engine.table_exists("quarantine") else []
    stages = sorted(last_stage_runs(ws.state), key=lambda r: r["stage"])
    counts = request.app.state.ui_cache.get("table_counts", lambda: warehouse_table_counts(engine))
    return render(
        request, "health.html", page="health", runs=runs, quarantined=quarantined,
        stages=stages, intake=intake_health(ws.state), failed=failed_messages(ws.state),
        counts=counts, loader_error=request.app.state.services.last_flush_error,
    )  # fmt: skip


@router.get("/quarantine/{run}")
def quarantine(request: Request, run: str, session: Viewer) -> Response:
    engine = _ws(request).engine
    reasons = list_quarantine(engine, run)
    rows = show_quarantine(engine, run, limit=200)
    return render(request, "quarantine.html", page="health", run=run, reasons=reasons, rows=rows)
