"""`cvm measure …`: campaign results against control, the program against the global control,
sizing a control group, feeding results back, and the Hillstrom experiment."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_table
from cvm.core.errors import UserInputError
from cvm.workspace import open_workspace

app = typer.Typer(
    help="Measure campaigns and the program against control; size controls; feed results back.",
    no_args_is_help=True,
)

AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        help="Count outcomes up to this moment (default: now, UTC).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"],
    ),
]
BY_ALIASES = {
    "offer": "offer_id",
    "offers": "offer_id",
    "segments": "segment",
    "channels": "channel",
}


@app.command("campaign")
def campaign(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id (see `cvm measure list`).")],
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days",
            help="Attribution window after assignment (default 14, or measure.toml).",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Break down by segment (lifecycle stage at assignment), channel, offer, "
            "trait.NAME or segment:NAME (repeatable).",
        ),
    ] = None,
    cuped: Annotated[
        bool,
        typer.Option(
            "--cuped", help="CUPED-adjust revenue and margin with pre-period revenue and orders."
        ),
    ] = False,
    covariate: Annotated[
        list[str] | None,
        typer.Option(
            "--covariate",
            help="Extra CUPED covariate: trait.NAME (you declare it pre-period) or profile.NAME "
            "(refused when computed after assignment).",
        ),
    ] = None,
    cost_per_contact: Annotated[
        float | None,
        typer.Option("--cost-per-contact", min=0, help="Cost of contacting one treated customer."),
    ] = None,
    bootstrap_seed: Annotated[
        int | None,
        typer.Option(
            "--bootstrap-seed",
            help="Money intervals by BCa bootstrap (2,000 resamples) with this seed, not Welch.",
        ),
    ] = None,
    as_of: AsOfOpt = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Write campaign_results.")
    ] = True,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Intent-to-treat results of one campaign: each arm vs its control, with intervals and ROI."""
    from cvm.cli.measure_render import print_campaign
    from cvm.results.campaigns import measure_campaign, store_measurement, utc_now
    from cvm.results.config import load_measure_settings
    from cvm.results.stage import request_for

    breakdowns = tuple(BY_ALIASES.get(b, b) for b in (by or []))
    with open_workspace(workspace) as ws:
        moment = as_of or utc_now()
        request, cost_source = request_for(
            ws, campaign_id, load_measure_settings(ws.root), as_of=moment,
            window_days=window_days, by=breakdowns, cuped=cuped or None,
            cost_per_contact=cost_per_contact, covariates=tuple(covariate or ()),
            bootstrap_seed=bootstrap_seed,
        )  # fmt: skip
        if covariate and not request.cuped:
            raise UserInputError("--covariate needs --cuped")
        with err_console.status(f"measuring {campaign_id}"):
            m, _ = measure_campaign(ws.engine, campaign_id, request)
        if store:
            store_measurement(
                ws.engine, m, as_of=moment, cost_source=cost_source,
                margin_source=f"product margins, else {ws.settings.value.margin:.0%}",
            )  # fmt: skip
        currency = ws.settings.workspace.currency
    if as_json:
        print_json({**m.to_dict(), "cost_source": cost_source})
        return
    print_campaign(m, currency)
    console.print(f"[dim]cost: {cost_source}[/]")


@app.command("list")
def list_(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every campaign with assignments, and its latest measured headline."""
    from cvm.cli.measure_render import list_rows
    from cvm.results.campaigns import list_campaigns

    with open_workspace(workspace) as ws:
        rows = list_campaigns(ws.engine)
    if as_json:
        print_json(rows)
    elif not rows:
        console.print(
            "no campaign assignments yet (launch a campaign with a control share, or ingest campaign_assignments)"
        )
    else:
        print_table("campaigns", list_rows(rows))


@app.command("program")
def program(
    months: Annotated[int, typer.Option("--months", min=1, max=60, help="Months to compare.")] = 12,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """All marketing vs the global control group, month by month, with intervals."""
    from cvm.cli.measure_render import print_program
    from cvm.decide.config import load_decide_settings
    from cvm.results.campaigns import utc_now
    from cvm.results.program_results import measure_program, store_program

    with open_workspace(workspace) as ws:
        control = load_decide_settings(ws.root).control.global_
        with err_console.status("comparing marketing with the global control"):
            report = measure_program(
                ws.engine, control, as_of=as_of or utc_now(), months=months,
                margin_rate=ws.settings.value.margin,
            )  # fmt: skip
        store_program(ws.engine, report)
        currency = ws.settings.workspace.currency
    if as_json:
        frame = report.to_frame()
        print_json(
            {
                "control_share": report.control_share,
                "warnings": report.warnings,
                "rows": json.loads(frame.to_json(orient="records")),
            }
        )
        return
    print_program(report, currency)


@app.command("power")
def power(
    baseline: Annotated[
        float, typer.Option("--baseline", help="Control response rate, e.g. 0.05.")
    ],
    mde: Annotated[float, typer.Option("--mde", help="Smallest lift worth detecting.")],
    relative: Annotated[
        bool, typer.Option("--relative", help="--mde is relative to the baseline (0.1 = +10%).")
    ] = False,
    control_share: Annotated[
        float, typer.Option("--control-share", help="Share of the audience held out.")
    ] = 0.1,
    daily_volume: Annotated[
        float | None, typer.Option("--daily-volume", help="Eligible customers per day.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
    power_: Annotated[float, typer.Option("--power")] = 0.8,
    as_json: JsonOpt = False,
) -> None:
    """Control and total size (and duration) needed to detect a lift on a response rate."""
    from cvm.measure.power import sample_size_proportions

    size = sample_size_proportions(
        baseline, mde, relative=relative, alpha=alpha, power=power_, control_share=control_share
    )
    delta = mde * baseline if relative else mde
    out: dict[str, Any] = {
        "baseline": baseline,
        "treated_rate": baseline + delta,
        "absolute_mde": delta,
        "relative_mde": delta / baseline,
        "alpha": alpha,
        "power": power_,
        "control_share": control_share,
        "control": size.n_control,
        "treated": size.n_treatment,
        "total": size.n_total,
    }
    if daily_volume is not None:
        out["days"] = size.duration_days(daily_volume)
    if as_json:
        print_json(out)
        return
    console.print(
        f"To detect {baseline:.2%} → {baseline + delta:.2%} ({delta * 100:+.2f} pp, "
        f"{delta / baseline:+.0%}) with {power_:.0%} power at alpha {alpha}, "
        f"holding out {control_share:.0%}:"
    )
    console.print(f"  control  {size.n_control:>12,}")
    console.print(f"  treated  {size.n_treatment:>12,}")
    console.print(f"  total    {size.n_total:>12,}")
    if daily_volume is not None:
        console.print(f"  duration {out['days']:>12,} day(s) at {daily_volume:,.0f} eligible a day")


@app.command("import-hillstrom")
def import_hillstrom_cmd(
    path: Annotated[Path, typer.Argument(help="hillstrom.csv (MineThatData, 64,000 rows).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the Hillstrom e-mail experiment as customers, a campaign, purchases and visits."""
    from cvm.results.hillstrom import CAMPAIGN_ID, WINDOW_DAYS, import_hillstrom

    with open_workspace(workspace) as ws:
        with err_console.status(f"importing {path}"):
            counts = import_hillstrom(ws.engine, path)
    if as_json:
        print_json(counts)
        return
    print_table(f"imported {path.name}", [{"table": k, "rows": v} for k, v in counts.items()])
    console.print(
        f"measure it with: cvm measure campaign {CAMPAIGN_ID} --window-days {WINDOW_DAYS}"
    )


@app.command("sync")
def sync(
    decisions: Annotated[
        dt.datetime | None,
        typer.Option(
            "--decisions",
            help="Also record this day's decision run as a campaign.",
            formats=["%Y-%m-%d"],
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record cvm's launches (and a decision run) in campaign_assignments."""
    from cvm.results.assignments import sync_campaign_audiences, sync_decisions
    from cvm.results.stage import campaign_definitions

    with open_workspace(workspace) as ws:
        counts = sync_campaign_audiences(ws.engine, campaign_definitions(ws))
        if decisions is not None:
            counts.update(sync_decisions(ws.engine, decisions.date()))
    if as_json:
        print_json(counts)
    elif not counts:
        console.print("nothing new to record")
    else:
        print_table(
            "assignments recorded", [{"campaign": k, "customers": v} for k, v in counts.items()]
        )


@app.command("feedback")
def feedback(
    as_of: AsOfOpt = None,
    retrain: Annotated[
        bool, typer.Option("--retrain/--no-retrain", help="Retrain uplift models.")
    ] = True,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Update offer priors (offer_priors) from measured campaigns; retrain uplift models."""
    from cvm.decide.offer_store import load_offers
    from cvm.results.campaigns import utc_now
    from cvm.results.config import load_measure_settings
    from cvm.results.feedback_loop import retrain_uplift_models, update_offer_priors

    with open_workspace(workspace) as ws:
        settings = load_measure_settings(ws.root)
        moment = as_of or utc_now()
        posteriors = update_offer_priors(
            ws.engine, load_offers(ws.engine), as_of=moment, window_for=settings.window_for,
            margin_rate=ws.settings.value.margin, default_strength=settings.prior_strength,
        )  # fmt: skip
        models = retrain_uplift_models(ws.engine, ws.models_dir, moment) if retrain else {}
    rows = [
        {
            "offer": p.offer, "segment": p.segment, "treated": p.n_treated,
            "control": p.n_control, "realised uplift": round(p.realised, 4),
            "prior": round(p.prior_mean, 4), "posterior": round(p.mean, 4),
            "sd": round(p.sd, 4),
        }
        for p in posteriors
    ]  # fmt: skip
    if as_json:
        print_json({"offer_priors": rows, "uplift_models": models})
        return
    if rows:
        print_table("offer priors (uplift posterior; segment * = all customers)", rows)
    else:
        console.print("no completed campaign with offers yet: priors unchanged")
    for cid, version in models.items():
        console.print(f"uplift model for {cid}: {version}")


@app.command("run")
def run(as_of: AsOfOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The whole measure stage: record, measure campaigns and program, feed back."""
    from cvm.results.stage import measure_stage

    with open_workspace(workspace) as ws:
        with err_console.status("measure") as status:
            summary = measure_stage(
                ws, as_of.date() if as_of else None, lambda msg: status.update(msg)
            )
    if as_json:
        print_json(summary)
        return
    console.print_json(json.dumps(summary, default=str))
