"""The FastAPI application, built by `create_app(workspace_path)` when the server starts.

Nothing is read at import time: settings, stores and background workers come from the
workspace named at the call. The server process owns the warehouse file while it runs
(DuckDB admits one writing process); the intake log lives in the state store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

import cvm
from cvm.api.errors import install_error_handlers
from cvm.api.routes import campaigns as campaign_routes
from cvm.api.routes import collect, decisions, health, keys, tracking
from cvm.api.routes import consents as consent_routes
from cvm.api.routes import feedback as feedback_routes
from cvm.api.routes import identity as identity_routes
from cvm.api.routes import loyalty as loyalty_routes
from cvm.api.routes import privacy as privacy_routes
from cvm.api.routes import profiles as profile_routes
from cvm.api.services import Services
from cvm.collect.config import load_live_settings
from cvm.core.contracts import CONSENTS, EVENTS
from cvm.identity.mirror import IDENTITIES
from cvm.identity.profile_lookup import ensure_lookup_indexes
from cvm.workspace import open_workspace


def create_app(
    workspace_path: Path | None = None, *, run_loader: bool = True, warm_ui: bool = True
) -> FastAPI:
    """Open the workspace and wire the routes; workers start with the app's lifespan."""
    ws = open_workspace(workspace_path)
    services = Services.build(ws, load_live_settings(ws.root))
    _ = ws.state  # migrate the state store before the first request
    for contract in (EVENTS, CONSENTS, IDENTITIES):
        ws.engine.ensure_table(contract)
    ensure_lookup_indexes(ws.engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.start(run_loader=run_loader)
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(
        title="cvm",
        version=getattr(cvm, "__version__", "0"),
        description="Customer Value Management: Segment-compatible collection, profiles, "
        "consent and privacy requests.",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    for module in (
        health,
        collect,
        profile_routes,
        consent_routes,
        privacy_routes,
        identity_routes,
        keys,
        campaign_routes,
        tracking,
        decisions,
        loyalty_routes,
    ):
        app.include_router(module.router)
    app.include_router(campaign_routes.run_router)
    campaign_routes.install(app, services)
    feedback_routes.include(app, services)
    from cvm.ui.app import install_ui  # the dashboard, served by the same process

    install_ui(app, services, warm=warm_ui)
    return app
