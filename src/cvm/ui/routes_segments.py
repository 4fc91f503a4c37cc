"""Segments: list with size, value and trend; the visual builder's validate-and-count
endpoint; save, delete, explain, membership history and export.

The builder's endpoint runs exactly what `cvm segments validate` and `cvm segments size` run:
`parse_definition` (structure, with node paths and nearest names), `SegmentStore.validate`
(meaning), `usage_warnings`, then ``COUNT(*)`` over `compile_segment`.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlglot.expressions as exp
from fastapi import APIRouter, Body, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from cvm.core.errors import CvmError, NotFoundError
from cvm.engine.sql import bind
from cvm.segments.compile import compile_segment
from cvm.segments.definition import COMPARE_OPS
from cvm.segments.explain import explain_membership
from cvm.segments.fields import field_catalog
from cvm.segments.query import export_segment, preview_segment
from cvm.segments.store import SegmentStore, open_store
from cvm.segments.validate import SegmentValidationError, parse_definition, usage_warnings
from cvm.state.audit import record_change
from cvm.ui.auth import Marketer, Viewer
from cvm.ui.templating import render

router = APIRouter(prefix="/ui/segments", include_in_schema=False)
_SIZES = """
SELECT m.segment, count(*) AS members, sum(p.clv) AS total_clv, avg(p.clv) AS mean_clv
FROM segment_membership AS m LEFT JOIN profiles AS p ON p.customer_id = m.customer_id
GROUP BY m.segment
"""
_BEFORE = """
SELECT segment, count(*) AS members FROM segment_membership_history
WHERE entered_at <= :t AND (exited_at IS NULL OR exited_at > :t) GROUP BY segment
"""
_HISTORY = """
WITH days AS (SELECT CAST(d AS TIMESTAMP) AS day FROM range(CAST(:start AS TIMESTAMP), CAST(:end AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d))
SELECT days.day, count(h.customer_id) AS members
FROM days LEFT JOIN segment_membership_history AS h
  ON h.segment = :name AND h.entered_at <= days.day AND (h.exited_at IS NULL OR h.exited_at > days.day)
GROUP BY days.day ORDER BY days.day
"""


def _ws(request: Request) -> Any:
    return request.app.state.services.workspace


def _store(request: Request) -> SegmentStore:
    return open_store(_ws(request))


def segment_table(request: Request) -> list[dict[str, Any]]:
    """Every segment with its materialised size, member value and size 30 days earlier."""
    ws = _ws(request)
    engine = ws.engine
    store = _store(request)

    def compute() -> dict[str, dict[str, Any]]:
        if not engine.table_exists("segment_membership"):
            return {}
        sizes = {r["segment"]: r for r in engine.fetch_arrow(_SIZES).to_pylist()}
        if engine.table_exists("segment_membership_history"):
            month_ago = dt.datetime.now() - dt.timedelta(days=30)
            for r in engine.fetch_arrow(bind(_BEFORE, t=month_ago)).to_pylist():
                sizes.setdefault(r["segment"], {})["before"] = r["members"]
        return sizes

    sizes = request.app.state.ui_cache.get("segment_sizes", compute)
    rows = []
    for s in store.all_segments():
        info = sizes.get(s.name, {})
        rows.append({"name": s.name, "description": s.definition.description,
                     "builtin": s.builtin, "updated_at": s.updated_at, **info})  # fmt: skip
    return rows


@router.get("")
def segments(request: Request, session: Viewer) -> Response:
    return render(request, "segments.html", page="segments", rows=segment_table(request))


def _builder(request: Request, definition: dict[str, Any], editing: bool) -> Response:
    ws = _ws(request)
    store = _store(request)
    config = {
        "definition": definition,
        "editing": editing,
        "csrf": request.state.ui_session.csrf_token,
        "compare_ops": list(COMPARE_OPS),
        "segments": store.names(),
    }
    return render(
        request, "builder.html", page="segments", config=json.dumps(config, default=str),
        fields=field_catalog(ws.engine).names, editing=editing, name=definition.get("name"),
    )  # fmt: skip


@router.get("/new")
def new_segment(request: Request, session: Marketer) -> Response:
    starter = {
        "name": "my-segment",
        "description": "",
        "rule": {"kind": "all", "conditions": [{"kind": "profile", "field": "clv", "op": "gte", "value": 100}]},
    }  # fmt: skip
    return _builder(request, starter, editing=False)


@router.get("/{name}/edit")
def edit_segment(request: Request, name: str, session: Marketer) -> Response:
    definition = _store(request).get(name).definition.to_json_dict()
    return _builder(request, definition, editing=True)


def _issues(items: list[Any]) -> list[dict[str, str]]:
    return [{"path": i.path, "message": i.message} for i in items]


@router.post("/check")
def check(request: Request, session: Marketer, body: dict[str, Any] = Body(...)) -> JSONResponse:
    """Validate a definition as typed; when valid, count its members now."""
    store = _store(request)
    try:
        definition = parse_definition(body.get("definition"), "segment")
        store.validate(definition)
    except SegmentValidationError as err:
        return JSONResponse({"ok": False, "errors": _issues(err.issues), "warnings": []})
    except CvmError as err:
        return JSONResponse({"ok": False, "errors": [{"path": "", "message": err.message}]})
    started = time.perf_counter()
    query = compile_segment(definition.rule, store.context().entering(definition.name))
    count = exp.select(exp.Count(this=exp.Star())).from_(query.subquery("members"))
    size = int(store.engine.fetch_scalar(count) or 0)  # type: ignore[call-overload]
    ms = round((time.perf_counter() - started) * 1000)
    warnings = _issues(usage_warnings(store.engine, definition))
    return JSONResponse({"ok": True, "size": size, "ms": ms, "errors": [], "warnings": warnings})


@router.post("/save")
def save(request: Request, session: Marketer, body: dict[str, Any] = Body(...)) -> JSONResponse:
    store = _store(request)
    try:
        definition = parse_definition(body.get("definition"), "segment")
        store.save(definition, replace=bool(body.get("replace")))
    except SegmentValidationError as err:
        return JSONResponse({"ok": False, "errors": _issues(err.issues)}, status_code=422)
    except CvmError as err:
        return JSONResponse(
            {"ok": False, "errors": [{"path": "name", "message": err.message}]},
            status_code=err.http_status,
        )
    record_change(_ws(request).state, session.user.username, "segment.save", definition.name,
                  definition.to_json_dict())  # fmt: skip
    request.app.state.ui_cache.invalidate("segment")
    return JSONResponse({"ok": True, "url": f"/ui/segments/{definition.name}"})


@router.post("/{name}/delete")
def delete(request: Request, name: str, session: Marketer) -> Response:
    _store(request).delete(name)
    record_change(_ws(request).state, session.user.username, "segment.delete", name)
    request.app.state.ui_cache.invalidate("segment")
    return RedirectResponse("/ui/segments", status_code=303)


@router.get("/{name}")
def segment(request: Request, name: str, session: Viewer) -> Response:
    ws = _ws(request)
    store = _store(request)
    stored = store.get(name)
    info = next((r for r in segment_table(request) if r["name"] == name), {})
    preview = preview_segment(store, name, limit=20).to_pylist()
    history = _history_chart(ws, name)
    return render(
        request, "segment.html", page="segments", s=stored, info=info, preview=preview,
        yaml=stored.definition.to_yaml(), history=history,
    )  # fmt: skip


def _history_chart(ws: Any, name: str) -> str | None:
    import plotly.graph_objects as go

    from cvm.report import charts

    engine = ws.engine
    if not engine.table_exists("segment_membership_history"):
        return None
    first = engine.fetch_scalar(
        bind("SELECT min(entered_at) FROM segment_membership_history WHERE segment = :n", n=name)
    )
    if first is None:
        return None
    end = dt.datetime.now().replace(microsecond=0)
    start = max(first, end - dt.timedelta(days=180))  # type: ignore[type-var]
    rows = engine.fetch_arrow(bind(_HISTORY, start=start, end=end, name=name)).to_pylist()
    fig = go.Figure(go.Scatter(x=[r["day"] for r in rows], y=[r["members"] for r in rows],
                               mode="lines", line={"shape": "hv"}))  # fmt: skip
    return charts.to_html(charts._layout(fig, f"Members of {name} by day", "day", "customers",
                                         height=300))  # fmt: skip


@router.get("/{name}/explain")
def explain(request: Request, name: str, session: Viewer, customer_id: str = "") -> Response:
    if not customer_id.strip():
        return render(request, "explain.html", explanation=None, error="Enter a customer id.")
    try:
        explanation = explain_membership(_store(request), name, customer_id.strip())
    except NotFoundError as err:
        return render(request, "explain.html", explanation=None, error=err.message)
    return render(request, "explain.html", explanation=explanation, error=None)


@router.get("/{name}/export.csv")
def export(request: Request, name: str, session: Marketer) -> Response:
    store = _store(request)
    store.get(name)
    folder = Path(tempfile.mkdtemp(prefix="cvm-export-"))
    out = folder / f"{name}.csv"
    rows = export_segment(store, name, out, "csv")
    record_change(_ws(request).state, session.user.username, "segment.export", name,
                  {"rows": rows})  # fmt: skip

    def cleanup() -> None:
        out.unlink(missing_ok=True)
        folder.rmdir()

    return FileResponse(out, media_type="text/csv", filename=out.name,
                        background=BackgroundTask(cleanup))  # fmt: skip
