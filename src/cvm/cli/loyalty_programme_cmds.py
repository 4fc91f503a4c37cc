"""`cvm loyalty run` and `cvm loyalty tiers`: earn rules, expiry and tiers from loyalty.yaml.

Registered onto the ledger's `loyalty_app` (`cvm.cli.loyalty_cmds`) by `register`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import err_console, print_json, print_mapping, print_table
from cvm.core.errors import NotFoundError, UserInputError
from cvm.core.timewindows import end_of_day
from cvm.workspace import open_workspace

AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        help="Earn from orders up to and including this day (default: the last transaction's day).",
        formats=["%Y-%m-%d"],
    ),
]

NO_PROGRAMME = "this workspace has no loyalty programme: write loyalty.yaml in the workspace folder"


def run(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """Earn points from new orders, expire lots, recompute tiers and mirror the ledger."""
    from cvm.loyalty.stage import run_loyalty_stage

    with open_workspace(workspace) as ws:
        with err_console.status("loyalty") as status:
            result = run_loyalty_stage(
                ws,
                end_of_day(as_of.date()) if as_of else None,
                progress=lambda m: status.update(m),
            )
    if result is None:
        raise UserInputError(NO_PROGRAMME)
    if as_json:
        print_json(result.to_dict())
        return
    summary = result.to_dict()
    summary.pop("rejections")
    summary["tiers"] = ", ".join(f"{k}: {v}" for k, v in result.tiers.items()) or "–"
    print_mapping("cvm loyalty run", summary)
    if result.rejections:
        print_table(
            "rejected postings (first 20)",
            [{"key": k, "reason": r} for k, r in result.rejections[:20]],
        )


def tiers(
    workspace: WorkspaceOpt = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Show this member's tier history.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Members per current tier, or one member's tier history (from the last `loyalty run`)."""
    from cvm.loyalty.programme import load_programme
    from cvm.loyalty.tiers import current_tiers, tier_history

    with open_workspace(workspace) as ws:
        programme = load_programme(ws.root)
        if programme is None:
            raise UserInputError(NO_PROGRAMME)
        if programme.tiers is None:
            raise UserInputError(f"{ws.root / 'loyalty.yaml'}: the programme defines no tiers")
        if customer is not None:
            rows = tier_history(ws.engine, customer)
            if not rows:
                raise NotFoundError(f"no tier history for customer {customer!r} (not a member?)")
            title = f"tier history of {customer}"
        else:
            rows = current_tiers(ws.engine, programme.tiers)
            title = f"{programme.name}: members per tier"
    if as_json:
        print_json(rows)
    else:
        print_table(title, rows)


def register(app: typer.Typer) -> None:
    """Add `run` and `tiers` to the `cvm loyalty` group."""
    app.command("run")(run)
    app.command("tiers")(tiers)
