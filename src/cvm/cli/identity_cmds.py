"""`cvm identity resolve|merges|unmerge`: the identity graph."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import print_json, print_mapping, print_table

identity_app = typer.Typer(
    help="Identity graph: resolve, inspect and undo merges.", no_args_is_help=True
)


@identity_app.command("resolve")
def resolve(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Resolve identities over the ingested customers and events tables (same rules as live)."""
    from cvm.collect.config import load_live_settings
    from cvm.identity.batch import resolve_batch
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        identity = load_live_settings(ws.root).identity
        result = resolve_batch(
            ws.engine, ws.state, identity.default_phone_country,
            identity.max_user_ids_per_identifier,
        )  # fmt: skip
    print_json(asdict(result)) if as_json else print_mapping("identity resolution", asdict(result))


@identity_app.command("merges")
def merges(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The merges that built a profile (what joined, why, when)."""
    from cvm.state.identity_store import IdentityStore
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        store = IdentityStore(ws.state)
        with ws.state.connect() as conn:
            ids = [customer_id, *store.aliases_of(conn, customer_id)]
            rows = store.merges_for(conn, ids)
    if as_json:
        print_json(rows)
    else:
        print_table(f"merges of {customer_id}", rows)


@identity_app.command("unmerge")
def unmerge_cmd(
    merge_id: Annotated[int, typer.Argument(help="Merge id (see `cvm identity merges`).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Split a wrong merge back; events and traits return to the right profile."""
    from cvm.identity.mirror import mirror_identities
    from cvm.identity.unmerge import unmerge
    from cvm.state.identity_store import IdentityStore
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        result = unmerge(ws.state, merge_id)
        mirror_identities(ws.engine, IdentityStore(ws.state))
    print_json(result) if as_json else print_mapping(
        f"unmerge {merge_id}", {**result, "restored": ", ".join(result["restored"])}
    )
