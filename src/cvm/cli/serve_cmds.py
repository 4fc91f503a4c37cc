"""`cvm serve` (the HTTP API) and `cvm collect flush|status` (the intake log)."""

from __future__ import annotations

from typing import Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping

collect_app = typer.Typer(help="The event intake log and its loader.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workspace: WorkspaceOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the API: Segment-compatible collection, profiles, consents, privacy (docs at /docs)."""
    import logging

    import uvicorn

    from cvm.api.app import create_app
    from cvm.api.redaction import install_redaction

    install_redaction(getattr(logging, log_level.upper(), logging.INFO))
    app = create_app(workspace)
    # log_config=None: uvicorn's loggers propagate to the redacting root handler.
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=log_level.lower())


@collect_app.command("flush")
def flush(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Load every intake row not yet loaded into the warehouse (server must be stopped)."""
    from cvm.collect.config import load_live_settings
    from cvm.collect.loader import Loader
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        result = Loader(ws.engine, ws.state, load_live_settings(ws.root)).flush_all()
    data = {
        "requests": result.requests,
        "messages": result.messages,
        "inserted": result.inserted,
        "identities_mirrored": result.identities_mirrored,
        "consents_mirrored": result.consents_mirrored,
    }
    print_json(data) if as_json else print_mapping("collect flush", data)


@collect_app.command("status")
def status(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of the intake log: stored, waiting to load, rejected."""
    from cvm.state.intake import IntakeLog
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        counts = IntakeLog(ws.state).counts()
    if as_json:
        print_json(counts)
    else:
        print_mapping("intake log", counts)
        if counts["pending"]:
            console.print("run `cvm collect flush` (or start `cvm serve`) to load pending events")
