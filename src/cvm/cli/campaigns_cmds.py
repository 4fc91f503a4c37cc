"""`cvm campaigns …`: define, launch and control campaigns; run the dispatch workers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_mapping, print_table

app = typer.Typer(
    help="Campaigns: define, launch, pause, stop; dispatch messages.", no_args_is_help=True
)
IdArg = Annotated[str, typer.Argument(help="Campaign id.")]
AsOfOpt = Annotated[
    dt.datetime | None, typer.Option("--as-of", help="Moment to run as (UTC; default: now).")
]


def _show(data: dict[str, Any], title: str, as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        print_mapping(title, {k: v for k, v in data.items() if not isinstance(v, dict | list)})


@app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="Campaign definition (YAML).", exists=False)],
    replace: Annotated[bool, typer.Option(help="Replace a draft with the same id.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a campaign file and store it as a draft."""
    from cvm.campaigns.campaign import load_campaign_file
    from cvm.campaigns.lifecycle import create_campaign
    from cvm.workspace import open_workspace

    campaign = load_campaign_file(file)
    with open_workspace(workspace) as ws:
        stored = create_campaign(ws, campaign, replace=replace)
    _show(stored.public(), f"campaign {campaign.id}", as_json)


@app.command("list")
def list_campaigns(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every campaign with its status and messages by status."""
    from cvm.campaigns.store import CampaignStore
    from cvm.state.outbox import OutboxStore
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = []
        for s in CampaignStore(ws.state).all():
            counts = OutboxStore(ws.state).counts(s.campaign.id)
            rows.append({**s.public(), "messages": counts})
    if as_json:
        print_json(rows)
        return
    print_table(
        "campaigns",
        [{**r, "channels": ", ".join(r["channels"]),
          "messages": ", ".join(f"{k} {v:,}" for k, v in sorted(r["messages"].items()))} for r in rows],
        ["id", "name", "status", "kind", "channels", "messages"],
    )  # fmt: skip


@app.command("show")
def show(campaign_id: IdArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """One campaign: status, messages by status, runs."""
    from cvm.campaigns.store import CampaignStore
    from cvm.state.campaign_store import CampaignRows
    from cvm.state.outbox import OutboxStore
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        stored = CampaignStore(ws.state).get(campaign_id)
        data = {**stored.public(), "definition": stored.campaign.model_dump(mode="json"),
                "messages": OutboxStore(ws.state).counts(campaign_id),
                "runs": CampaignRows(ws.state).runs(campaign_id)}  # fmt: skip
    if as_json:
        print_json(data)
        return
    print_mapping(
        f"campaign {campaign_id}",
        {k: v for k, v in data.items() if k not in ("definition", "runs", "messages")},
    )
    print_mapping("messages", data["messages"] or {"(none)": 0})
    for run in data["runs"]:
        summary = run.get("summary") or {}
        console.print(
            f"run {run['occurrence']}: {run['status']}, queued {summary.get('queued', 0):,}"
        )


@app.command("preview")
def preview(
    campaign_id: IdArg,
    customer: Annotated[str, typer.Option("--customer", help="Customer id.")],
    channel: Annotated[
        str | None, typer.Option(help="Channel (default: the first reachable).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render the message one customer would receive (nothing is sent or stored)."""
    from cvm.campaigns.lifecycle import preview_message
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        data = preview_message(ws, campaign_id, customer, channel)
    if as_json:
        print_json(data)
        return
    for key in ("channel", "address", "language", "status", "last_error", "subject"):
        if data.get(key):
            console.print(f"[bold]{key}:[/] {data[key]}", highlight=False, markup=True)
    for key in ("body", "html"):
        if data.get(key):
            console.rule(key)
            console.print(data[key], highlight=False, markup=False)


@app.command("test-send")
def test_send_cmd(
    campaign_id: IdArg,
    to: Annotated[str, typer.Option("--to", help="Address to send the [TEST] copy to.")],
    customer: Annotated[
        str | None, typer.Option("--customer", help="Render for this customer.")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Channel (default: the first).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Send one [TEST] copy now (not recorded in the outbox or history)."""
    from cvm.campaigns.lifecycle import test_send
    from cvm.core.errors import CvmError
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        result = test_send(ws, campaign_id, to, customer_id=customer, channel=channel)
    if result.status != "sent":
        raise CvmError(f"test send failed ({result.status}): {result.detail}")
    console.print(f"sent to {to} ({result.provider_id or 'no provider id'})")


def _lifecycle(
    action: str, campaign_id: str, workspace: Path | None, as_json: bool, **kw: Any
) -> None:
    from cvm.campaigns import lifecycle
    from cvm.workspace import open_workspace

    fn = getattr(lifecycle, f"{action}_campaign")
    with open_workspace(workspace) as ws:
        data = fn(ws, campaign_id, **kw)
    if as_json:
        print_json(data)
        return
    _show(data, f"campaign {campaign_id}", False)
    run = data.get("run")
    if isinstance(run, dict):
        print_mapping("run", {k: v for k, v in run.items() if not isinstance(v, dict)})
        print_mapping("audience", run.get("breakdown") or {})


@app.command("launch")
def launch(
    campaign_id: IdArg,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Activate a draft; a now/at campaign renders its audience into the outbox at once."""
    from cvm.cli.output import progress_bar

    with progress_bar(not as_json) as bar:
        task = bar.add_task("launching", total=None)
        _lifecycle("launch", campaign_id, workspace, as_json, as_of=as_of,
                   progress=lambda m: bar.update(task, description=m))  # fmt: skip


@app.command("pause")
def pause(campaign_id: IdArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Hold the campaign's queued messages."""
    _lifecycle("pause", campaign_id, workspace, as_json)


@app.command("resume")
def resume(campaign_id: IdArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Release held messages."""
    _lifecycle("resume", campaign_id, workspace, as_json)


@app.command("stop")
def stop(campaign_id: IdArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Stop for good: queued and held messages are cancelled."""
    _lifecycle("stop", campaign_id, workspace, as_json)


@app.command("run")
def run(as_of: AsOfOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Run the day's recurring campaigns and segment/score triggers; mirror to the warehouse."""
    from cvm.campaigns.lifecycle import run_campaigns
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        data = run_campaigns(ws, as_of)
    if as_json:
        print_json(data)
        return
    print_mapping("campaigns run", {"active": data["active"], "runs": len(data["runs"]),
                                    "ended": len(data["ended"])})  # fmt: skip
    print_mapping("outbox", data["outbox"] or {"(empty)": 0})


@app.command("sync")
def sync(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Mirror outbox changes and message events to the warehouse (server must be stopped)."""
    from cvm.campaigns.lifecycle import sync as mirror
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        data = mirror(ws)
    print_json(data) if as_json else print_mapping("mirrored", data)


@app.command("dispatch")
def dispatch(
    workers: Annotated[int, typer.Option(help="Worker threads.", min=1, max=64)] = 2,
    once: Annotated[
        bool,
        typer.Option(
            help="Exit when nothing is due and nothing is in flight (waits out a crashed worker's lease)."
        ),
    ] = False,
    batch_size: Annotated[int | None, typer.Option(help="Messages per claim and commit.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send queued messages (needs only the state store: runs beside `cvm serve`)."""
    import signal
    import time

    from cvm.campaigns.config import load_campaign_settings
    from cvm.campaigns.dispatch import Dispatcher
    from cvm.channels.registry import open_channel
    from cvm.decide.config import load_decide_settings
    from cvm.workspace import open_workspace

    ws = open_workspace(workspace)
    settings = load_campaign_settings(ws.root)
    if batch_size:
        settings.dispatch.batch_size = batch_size
    decide = load_decide_settings(ws.root)
    fallback = decide.policy.timezone or ws.settings.workspace.timezone
    dispatcher = Dispatcher(
        ws.state,
        settings,
        decide,
        lambda ch: open_channel(ch, settings, ws.root),
        fallback_zone=fallback,
    )
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stop.set())
    started = time.perf_counter()
    if not as_json:
        err_console.print(
            f"dispatching with {workers} worker(s){' until the queue is empty' if once else ''}"
        )
    try:
        stats = dispatcher.run(workers=workers, once=once)
    finally:
        ws.state.dispose()
    data = {**stats.as_dict(), "seconds": round(time.perf_counter() - started, 2)}
    print_json(data) if as_json else print_mapping("dispatch", data)


@app.command("suppress")
def suppress_cmd(
    address: Annotated[str, typer.Argument(help="Address (e-mail, phone, token).")],
    channel: Annotated[str, typer.Option(help="Channel.")] = "email",
    remove: Annotated[bool, typer.Option(help="Take the address off the list.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Add an address to (or remove it from) the suppression list."""
    from cvm.state.message_events import suppress, unsuppress
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        if remove:
            console.print(f"removed {unsuppress(ws.state, channel, address)} entry")
        else:
            suppress(ws.state, channel, address, "manual")
            console.print(f"{address} suppressed on {channel}")
