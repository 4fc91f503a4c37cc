"""`cvm profile show`: one person's profile (same content as GET /v1/profiles)."""

from __future__ import annotations

from typing import Annotated

import typer

from cvm.cli.lookup_options import AnonOpt, CustomerArg, EmailOpt, PhoneOpt, UserOpt, lookup_key
from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping, print_table

profile_app = typer.Typer(help="Customer profiles.", no_args_is_help=True)


@profile_app.command("show")
def show(
    customer_id: CustomerArg = None,
    email: EmailOpt = None,
    user_id: UserOpt = None,
    phone: PhoneOpt = None,
    anonymous_id: AnonOpt = None,
    events: Annotated[int, typer.Option(help="Recent events to show.")] = 10,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show traits, identities, metrics, segments, consents and recent events."""
    from cvm.collect.config import load_live_settings
    from cvm.identity.profile_lookup import find_customer_id, lookup_profile
    from cvm.workspace import open_workspace

    key = lookup_key(customer_id, email, user_id, phone, anonymous_id)
    with open_workspace(workspace) as ws:
        country = load_live_settings(ws.root).identity.default_phone_country
        cid = find_customer_id(ws.state, key, country)
        profile = lookup_profile(ws.engine, ws.state, cid, ws.settings.consent.policy, events)
    if as_json:
        print_json(profile)
        return
    console.print(f"[bold]profile {profile['customer_id']}[/]")
    if profile["merged_ids"]:
        console.print(f"merged ids: {', '.join(profile['merged_ids'])}")
    print_mapping(
        "traits",
        {
            k: f"{v['value']}  ({v['source']}, {v['observed_at']})"
            for k, v in profile["traits"].items()
        },
    )
    print_table(
        "identities", profile["identities"], ["kind", "value", "blocked", "first_seen", "last_seen"]
    )
    if profile["metrics"]:
        print_mapping("metrics and scores", profile["metrics"])
    if profile["segments"]:
        print_table("segments", profile["segments"])
    print_mapping(
        f"consents (policy {profile['consents']['policy']})", profile["consents"]["reachable"]
    )
    if profile["recent_events"]:
        print_table(
            "recent events", profile["recent_events"], ["occurred_at", "type", "name", "channel"]
        )
