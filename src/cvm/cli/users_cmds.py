"""`cvm users create|list|disable|enable|role`: dashboard accounts (viewer, marketer, admin)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_table

users_app = typer.Typer(
    help="Dashboard users: viewer (reads), marketer (segments, campaigns), admin (everything).",
    no_args_is_help=True,
)
CLI_ACTOR = "cli"


def _row(user: object) -> dict[str, object]:
    return {
        k: getattr(user, k)
        for k in ("username", "role", "created_at", "last_login_at", "disabled_at", "locked_until")
    }


@users_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="viewer, marketer or admin.")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(help="Password (prompted when left out; env CVM_USER_PASSWORD also works)."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a user (passwords are stored as argon2id hashes only)."""
    import os

    from cvm.state.audit import record_change
    from cvm.state.users import create_user
    from cvm.workspace import open_workspace

    secret = password or os.environ.get("CVM_USER_PASSWORD") or ""
    if not secret:
        secret = getpass.getpass("password: ")
        if getpass.getpass("again: ") != secret:
            raise typer.BadParameter("the passwords differ")
    with open_workspace(workspace) as ws:
        user = create_user(ws.state, username, secret, role)
        record_change(ws.state, CLI_ACTOR, "user.create", user.username, {"role": user.role})
    console.print(f"created {user.role} {user.username}")


@users_app.command("list")
def list_(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List users with their role and state."""
    from cvm.state.users import list_users
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = [_row(u) for u in list_users(ws.state)]
    print_json(rows) if as_json else print_table("dashboard users", rows)


@users_app.command("disable")
def disable(
    username: Annotated[str, typer.Argument(help="Login name.")], workspace: WorkspaceOpt = None
) -> None:
    """Disable a user: their sessions end at once and they can no longer log in."""
    from cvm.state.audit import record_change
    from cvm.state.users import disable_user
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        user = disable_user(ws.state, username)
        record_change(ws.state, CLI_ACTOR, "user.disable", user.username)
    console.print(f"disabled {user.username}")


@users_app.command("enable")
def enable(
    username: Annotated[str, typer.Argument(help="Login name.")], workspace: WorkspaceOpt = None
) -> None:
    """Enable a disabled user again."""
    from cvm.state.audit import record_change
    from cvm.state.users import set_user
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        user = set_user(ws.state, username, disabled=False)
        record_change(ws.state, CLI_ACTOR, "user.enable", user.username)
    console.print(f"enabled {user.username}")
