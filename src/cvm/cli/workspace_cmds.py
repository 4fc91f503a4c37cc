"""`cvm init` and `cvm info`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping
from cvm.workspace import init_workspace, open_workspace


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")] = Path(
        "."
    ),
    name: Annotated[
        str | None, typer.Option(help="Workspace name (default: the folder name).")
    ] = None,
    state_url: Annotated[
        str | None,
        typer.Option(
            "--state-url",
            help="State store URL, e.g. postgresql://user@host/db (default: SQLite file).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Reset an existing workspace.")] = False,
) -> None:
    """Create a workspace: cvm.toml, the DuckDB warehouse and the state store."""
    ws = init_workspace(directory, name=name, state_url=state_url, force=force)
    console.print(f"[green]created workspace[/] {ws.root}")
    ws.close()


def info(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Show the workspace's settings and table sizes."""
    from cvm.engine.warehouse import warehouse_table_counts

    with open_workspace(workspace) as ws:
        counts = warehouse_table_counts(ws.engine)
        data = {
            "workspace": str(ws.root),
            "engine": ws.settings.warehouse.engine,
            **{f"rows.{k}": v for k, v in counts.items()},
        }
        print_json(data) if as_json else print_mapping("workspace", data)
