"""Mount the dashboard on the API app: static assets, pages, login redirects, HTML errors.

`install_ui(app, services)` is called by `cvm.api.app.create_app`, so `cvm serve` serves the
API under ``/v1`` and the dashboard under ``/ui`` from one process (the process that owns the
warehouse). plotly.js comes from the installed plotly package and htmx is vendored in
``static/vendor``: nothing is loaded from a CDN, so the dashboard works offline.
"""

from __future__ import annotations

import functools
from typing import Any

import plotly.offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from cvm.core.errors import CvmError
from cvm.ui import (
    figures,
    routes_admin,
    routes_auth,
    routes_campaigns,
    routes_customers,
    routes_health,
    routes_pages,
    routes_segments,
)
from cvm.ui.auth import LoginRequired
from cvm.ui.cache import FigureCache
from cvm.ui.templating import TEMPLATES, make_templates, render

STATIC = TEMPLATES.with_name("static")


@functools.cache
def plotly_js() -> bytes:
    return plotly.offline.get_plotlyjs().encode("utf-8")


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/ui")


def _error_page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request"):
        return HTMLResponse(f'<p class="error" role="alert">{_escape(message)}</p>', status)
    return render(request, "error.html", status_code=status, status=status, message=message)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _install_errors(app: FastAPI) -> None:
    """HTML errors under /ui; the API keeps its JSON handlers for everything else."""
    api_cvm = app.exception_handlers.get(CvmError)
    api_http = app.exception_handlers.get(StarletteHTTPException)

    async def login_required(request: Request, _: Exception) -> Response:
        target = "/ui/login?next=" + request.url.path
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    async def cvm_error(request: Request, err: Exception) -> Any:
        if _wants_html(request) and isinstance(err, CvmError):
            return _error_page(request, err.http_status, err.message)
        assert api_cvm is not None
        return await api_cvm(request, err)  # type: ignore[misc]

    async def http_error(request: Request, err: Exception) -> Any:
        if _wants_html(request) and isinstance(err, StarletteHTTPException):
            return _error_page(request, err.status_code, str(err.detail))
        assert api_http is not None
        return await api_http(request, err)  # type: ignore[misc]

    app.add_exception_handler(LoginRequired, login_required)
    if api_cvm is not None:
        app.add_exception_handler(CvmError, cvm_error)
    if api_http is not None:
        app.add_exception_handler(StarletteHTTPException, http_error)


def install_ui(app: FastAPI, services: Any, *, warm: bool = True) -> None:
    ws = services.workspace
    app.state.ui_templates = make_templates()
    app.state.ui_cache = FigureCache(ws.state)
    app.mount("/ui/static", StaticFiles(directory=str(STATIC)), name="ui-static")

    @app.get("/ui/static-plotly.min.js", include_in_schema=False)
    def plotly_asset() -> Response:
        return Response(
            plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    for module in (
        routes_auth, routes_pages, routes_customers, routes_segments, routes_campaigns,
        routes_health, routes_admin,
    ):  # fmt: skip
        app.include_router(module.router)
    _install_errors(app)
    if warm:
        cache: FigureCache = app.state.ui_cache
        cache.warm(
            [
                ("overview", lambda: figures.overview(ws)),
                ("lifecycle", lambda: figures.lifecycle_flow(ws)),
                ("concentration", lambda: figures.concentration(ws)),
                ("section:value", lambda: figures.section(ws, "value")),
                ("section:models", lambda: figures.section(ws, "models")),
            ]
        )
