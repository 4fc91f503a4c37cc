"""Read-only pages: overview, value and models (cached figures; see `cvm.ui.cache`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cvm.predict.registry import list_models, promoted_version
from cvm.ui import figures
from cvm.ui.auth import Viewer
from cvm.ui.cache import FigureCache
from cvm.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)


def cache(request: Request) -> FigureCache:
    return request.app.state.ui_cache  # type: ignore[no-any-return]


def workspace(request: Request) -> Any:
    return request.app.state.services.workspace


def latest_results(request: Request) -> dict[str, Any] | None:
    ws = workspace(request)
    ids = cache(request).get("measured", lambda: figures.measured_campaigns(ws))
    if not ids:
        return None
    first = ids[0]
    return cache(request).get(f"results:{first}", lambda: figures.campaign_results(ws, first))  # type: ignore[no-any-return]


@router.get("/")
def overview(request: Request, session: Viewer) -> Response:
    ws = workspace(request)
    c = cache(request)
    data = c.get("overview", lambda: figures.overview(ws))
    return render(
        request,
        "overview.html",
        page="overview",
        data=data,
        lifecycle=c.get("lifecycle", lambda: figures.lifecycle_flow(ws)),
        concentration=c.get("concentration", lambda: figures.concentration(ws)),
        results=latest_results(request),
    )


@router.get("/value")
def value(request: Request, session: Viewer) -> Response:
    ws = workspace(request)
    section = cache(request).get("section:value", lambda: figures.section(ws, "value"))
    return render(request, "section.html", page="value", section=section, empty_hint=(
        "No customer value yet: load transactions (cvm ingest transactions FILE), then run "
        "cvm value."
    ))  # fmt: skip


@router.get("/models")
def models(request: Request, session: Viewer) -> Response:
    ws = workspace(request)
    section = cache(request).get("section:models", lambda: figures.section(ws, "models"))
    versions = list_models(ws.models_dir)
    promoted = {k: promoted_version(ws.models_dir, k) for k in ("churn", "uplift", "recommend")}
    return render(
        request, "models.html", page="models", section=section, versions=versions,
        promoted=promoted,
    )  # fmt: skip
