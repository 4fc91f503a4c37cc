"""Registers every command group on the Typer app (one module per group)."""

from __future__ import annotations

import typer

from cvm.cli import workspace_cmds


def register(app: typer.Typer) -> None:
    app.command()(workspace_cmds.init)
    app.command()(workspace_cmds.info)
