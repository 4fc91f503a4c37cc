"""`cvm privacy export|erase` and `cvm consent set|check` (the server must be stopped: the
CLI opens the warehouse itself; with the server running, use the admin API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cvm.cli.lookup_options import AnonOpt, CustomerArg, EmailOpt, PhoneOpt, UserOpt, lookup_key
from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping

privacy_app = typer.Typer(help="Privacy requests: export or erase a person.", no_args_is_help=True)
consent_app = typer.Typer(help="Consent decisions per channel and purpose.", no_args_is_help=True)


@privacy_app.command("export")
def export(
    customer_id: CustomerArg = None,
    email: EmailOpt = None,
    user_id: UserOpt = None,
    phone: PhoneOpt = None,
    anonymous_id: AnonOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write JSON here.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Everything held about a person, as JSON (stdout, or --output FILE)."""
    from cvm.collect.config import load_live_settings
    from cvm.identity.profile_lookup import find_customer_id
    from cvm.privacy import export_person
    from cvm.workspace import open_workspace

    key = lookup_key(customer_id, email, user_id, phone, anonymous_id)
    with open_workspace(workspace) as ws:
        country = load_live_settings(ws.root).identity.default_phone_country
        cid = find_customer_id(ws.state, key, country)
        data = export_person(ws.engine, ws.state, cid, country)
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        print(text)


@privacy_app.command("erase")
def erase(
    customer_id: CustomerArg = None,
    email: EmailOpt = None,
    user_id: UserOpt = None,
    phone: PhoneOpt = None,
    anonymous_id: AnonOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a person from both stores; keeps only a record without personal data."""
    from cvm.collect.config import load_live_settings
    from cvm.identity.profile_lookup import find_customer_id
    from cvm.privacy import erase_person
    from cvm.workspace import open_workspace

    key = lookup_key(customer_id, email, user_id, phone, anonymous_id)
    with open_workspace(workspace) as ws:
        country = load_live_settings(ws.root).identity.default_phone_country
        cid = find_customer_id(ws.state, key, country)
        if not yes:
            typer.confirm(f"erase profile {cid} and everything held about them?", abort=True)
        record = erase_person(ws.engine, ws.state, cid, requested_by="cli", default_country=country)
    if as_json:
        print_json(record)
    else:
        print_mapping(f"erasure {record['erasure_id']}", record["counts"])


@consent_app.command("set")
def set_(
    channel: Annotated[str, typer.Option(help="email, sms, push, messenger, phone, all.")],
    status: Annotated[str, typer.Option(help="granted or denied.")],
    purpose: Annotated[str, typer.Option(help="marketing or service.")] = "marketing",
    customer_id: CustomerArg = None,
    email: EmailOpt = None,
    user_id: UserOpt = None,
    phone: PhoneOpt = None,
    anonymous_id: AnonOpt = None,
    source: Annotated[str, typer.Option(help="Where the decision was made.")] = "cli",
    workspace: WorkspaceOpt = None,
) -> None:
    """Record a consent decision (kept in the history; mirrored on the next flush)."""
    from cvm.collect.config import load_live_settings
    from cvm.consent.service import record_consent
    from cvm.workspace import open_workspace

    key = lookup_key(customer_id, email, user_id, phone, anonymous_id)
    with open_workspace(workspace) as ws:
        identity = load_live_settings(ws.root).identity
        result = record_consent(
            ws.state, key, channel, purpose, status, source=source,
            default_country=identity.default_phone_country,
            max_user_ids=identity.max_user_ids_per_identifier,
        )  # fmt: skip
    print_mapping("consent", result)


@consent_app.command("check")
def check(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    channel: Annotated[str, typer.Option(help="Channel.")] = "email",
    purpose: Annotated[str, typer.Option(help="Purpose.")] = "marketing",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Whether the person may be contacted on CHANNEL for PURPOSE (exit code 0 either way)."""
    from cvm.consent import is_reachable
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        ok = is_reachable(ws.state, customer_id, channel, purpose, ws.settings.consent.policy)
        policy = ws.settings.consent.policy
    data = {"customer_id": customer_id, "channel": channel, "purpose": purpose,
            "reachable": ok, "policy": policy}  # fmt: skip
    print_json(data) if as_json else print_mapping("reachability", data)
