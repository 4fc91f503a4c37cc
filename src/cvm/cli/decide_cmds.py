"""`cvm offers …` (the catalogue) and `cvm decide …` (batch run, what-if, real-time, controls)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_mapping, print_table
from cvm.workspace import open_workspace

app = typer.Typer(
    help="Decide the next best action: batch run, what-if, real-time, controls.",
    no_args_is_help=True,
)
offers_app = typer.Typer(
    help="The offer catalogue: load, list, show, delete.", no_args_is_help=True
)

DateOpt = Annotated[
    dt.datetime | None,
    typer.Option("--date", help="Day to decide for (default: today, UTC).", formats=["%Y-%m-%d"]),
]


# -- offers -----------------------------------------------------------------------------------
@offers_app.command("load")
def offers_load(
    path: Annotated[Path, typer.Argument(help="A YAML/JSON file or a folder of them.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="The catalogue becomes exactly these offers.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate offers and store them in the warehouse table `offers` (upsert by id)."""
    from cvm.decide.offer_store import save_offers
    from cvm.decide.offers import read_offers

    offers = read_offers(path)
    with open_workspace(workspace) as ws:
        counts = save_offers(ws.engine, offers, str(path), replace=replace)
    if as_json:
        print_json(counts)
        return
    console.print(
        f"loaded {counts['loaded']} offer(s) from {path}: {counts['created']} new, "
        f"{counts['updated']} updated, {counts['removed']} removed"
    )


@offers_app.command("list")
def offers_list(
    workspace: WorkspaceOpt = None, date: DateOpt = None, as_json: JsonOpt = False
) -> None:
    """Every offer with its channels, value model, uplift source and validity."""
    from cvm.decide.offer_store import load_offers, offer_rows

    day = (date or dt.datetime.now(dt.UTC)).date()
    with open_workspace(workspace) as ws:
        rows = offer_rows(load_offers(ws.engine), day)
    if as_json:
        print_json(rows)
    elif not rows:
        console.print("no offers yet; load some with `cvm offers load FILE`")
    else:
        print_table(f"offers (active on {day})", rows)


@offers_app.command("show")
def offers_show(offer_id: str, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The full definition of one offer (YAML, or JSON with --json)."""
    from cvm.decide.offer_store import get_offer

    with open_workspace(workspace) as ws:
        offer = get_offer(ws.engine, offer_id)
    if as_json:
        print_json(offer.to_json_dict())
    else:
        console.print(
            yaml.safe_dump(offer.to_json_dict(), sort_keys=False, allow_unicode=True),
            highlight=False,
        )


@offers_app.command("delete")
def offers_delete(offer_id: str, workspace: WorkspaceOpt = None) -> None:
    """Remove one offer from the catalogue."""
    from cvm.decide.offer_store import delete_offer

    with open_workspace(workspace) as ws:
        delete_offer(ws.engine, offer_id)
    console.print(f"deleted offer {offer_id}")


# -- decide -----------------------------------------------------------------------------------
def _print_summary(summary: dict[str, Any]) -> None:
    head = {k: summary[k] for k in ("date", "customers", "global_control", "pairs_scored", "decisions",
                                    "contacted", "offer_control", "spend", "expected_profit")}  # fmt: skip
    head["incremental responders (90%)"] = (
        f"{summary['incremental_responders']} {summary['responders_90']}"
    )
    head["incremental value (90%)"] = f"{summary['incremental_value']} {summary['value_90']}"
    head.update(summary["contact_pressure"])
    solver = summary["solver"]
    head["solver"] = (
        f"{solver['name']} objective {solver['objective']} bound {solver['bound']} gap {solver['gap']}"
    )
    print_mapping(f"decisions {summary.get('plan') or summary['run_id']}", head)
    print_table("reach by offer and channel", summary["by_offer_channel"])
    if summary["constraints"]:
        print_table("constraints", summary["constraints"])
    print_mapping("pairs dropped", summary["pairs_dropped"])
    if solver.get("minimums_infeasible"):
        print_mapping("minimum volumes not met", {"why": "; ".join(solver["minimums_infeasible"])})
    if summary.get("offer_posteriors"):
        print_mapping(
            "uplift posteriors from measured campaigns",
            {
                k: f"prior {v['prior']} → posterior {v['posterior']}"
                for k, v in summary["offer_posteriors"].items()
            },
        )


@app.command("run")
def decide_run(
    workspace: WorkspaceOpt = None,
    date: DateOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide, but write nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Decide the day's offers for everyone and write them to the `decisions` table."""
    from cvm.decide.batch import run_decisions

    with open_workspace(workspace) as ws:
        with err_console.status("deciding") as status:
            result = run_decisions(
                ws,
                day=date.date() if date else None,
                write=not dry_run,
                progress=lambda m: status.update(m),
            )
    if as_json:
        print_json(result.summary)
    else:
        _print_summary(result.summary)


@app.command("simulate")
def decide_simulate(
    plan: Annotated[Path, typer.Argument(help="Plan YAML: offers, policy, control, arbitration.")],
    compare: Annotated[
        Path | None, typer.Option("--compare", help="A second plan to compare.")
    ] = None,
    workspace: WorkspaceOpt = None,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What-if: reach, spend, pressure, expected incremental value and binding constraints."""
    from cvm.decide.simulate import compare_plans, simulate_plan

    day = date.date() if date else None
    with open_workspace(workspace) as ws:
        first = simulate_plan(ws, plan, day)
        second = simulate_plan(ws, compare, day) if compare else None
    if as_json:
        print_json(
            {
                "plan": first,
                "compare": second,
                "comparison": compare_plans(first, second) if second else None,
            }
        )
        return
    _print_summary(first)
    if second:
        _print_summary(second)
        print_table("comparison", compare_plans(first, second))


@app.command("next")
def decide_next(
    customer_id: str,
    channel: Annotated[
        str, typer.Option("--channel", help="email, sms, push, messenger, phone, web, app, …")
    ],
    context: Annotated[str | None, typer.Option("--context", help="Placement or moment.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The real-time next best action for one customer (logged to `decision_log`)."""
    from cvm.decide.realtime import open_decider

    with open_workspace(workspace) as ws:
        decider = open_decider(ws)
        try:
            decision = decider.decide(customer_id, channel, context)
        finally:
            decider.close()
    data = decision.to_dict()
    if as_json:
        print_json(data)
        return
    considered = data.pop("considered")
    data["offer"] = data["offer"]["id"] if data["offer"] else None
    print_mapping(f"next best action for {customer_id} on {channel}", data)
    print_table("offers considered", considered)


@app.command("controls")
def decide_controls(
    workspace: WorkspaceOpt = None,
    date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Control groups: the global group in force and, for the day's run, the balance check."""
    from cvm.decide.balance import control_report

    day = (date or dt.datetime.now(dt.UTC)).date()
    with open_workspace(workspace) as ws:
        report = control_report(ws, day)
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    print_mapping("global control group", report["global"])
    if report["balance"]:
        print_table("balance on pre-period features (|SMD| > threshold flagged)", report["balance"])
    else:
        console.print(f"no decisions for {day}; run `cvm decide run` first")
