"""`cvm keys create|list|revoke`: API keys (the secret is printed once)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_table

keys_app = typer.Typer(
    help="API keys: write (send events), read (profiles), admin.", no_args_is_help=True
)


@keys_app.command("create")
def create(
    scope: Annotated[str, typer.Option(help="write, read or admin.")],
    name: Annotated[str | None, typer.Option(help="A label to recognise the key.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print its secret (shown only this once; only a hash is stored)."""
    from cvm.state.keys import create_key
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        key, secret = create_key(ws.state, scope, name)
    if as_json:
        print_json({**asdict(key), "secret": secret})
        return
    err_console.print(f"created {key.scope} key {key.id} ({key.name}); store the secret now:")
    print(secret)


@keys_app.command("list")
def list_(
    workspace: WorkspaceOpt = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List keys (never their secrets)."""
    from cvm.state.keys import list_keys
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = [asdict(k) for k in list_keys(ws.state, include_revoked)]
    if as_json:
        print_json(rows)
    else:
        print_table(
            "API keys",
            rows,
            ["id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"],
        )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (or a unique prefix of it).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke a key: requests with it fail within seconds."""
    from cvm.state.keys import revoke_key
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        key = revoke_key(ws.state, key_id)
    console.print(f"revoked {key.scope} key {key.id} ({key.name})")
