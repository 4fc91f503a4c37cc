"""`cvm run` (the whole loop), `cvm value`, `cvm report`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_table
from cvm.workspace import open_workspace

AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        help="Observation end date (default: the last transaction's day).",
        formats=["%Y-%m-%d"],
    ),
]


def run(
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these stages (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole loop: value → report (more stages join as they exist)."""
    from cvm.pipeline import run_loop

    with open_workspace(workspace) as ws:
        with err_console.status("starting") as status:
            results = run_loop(
                ws,
                as_of=as_of.date() if as_of else None,
                only=only,
                step=lambda m: status.update(m),
            )
    if as_json:
        print_json([r.__dict__ for r in results])
        return
    print_table(
        "cvm run",
        [
            {
                "stage": r.stage,
                "status": r.status,
                "seconds": r.seconds,
                "result": _brief(r.summary),
            }
            for r in results
        ],
    )
    report = next((r.summary.get("report") for r in results if r.stage == "report"), None)
    if report:
        console.print(f"\n[bold green]report:[/] {report}")


def value(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """Compute RFM, CLV, P(alive), value tiers and lifecycle onto every profile."""
    from cvm.value.stage import run_value_stage

    with open_workspace(workspace) as ws:
        with err_console.status("value") as status:
            run_ = run_value_stage(
                ws.engine,
                ws.settings.value,
                as_of=as_of.date() if as_of else None,
                models_dir=ws.models_dir,
                runs_dir=ws.runs_dir,
                progress=lambda m: status.update(m),
            )
    if as_json:
        print_json(run_.to_dict())
        return
    params = ", ".join(f"{k}={v:.4g}" for k, v in run_.purchase_model["params"].items())
    spend = ", ".join(f"{k}={v:.4g}" for k, v in run_.spend_model.get("params", {}).items())
    val = run_.validation
    rows: list[dict[str, Any]] = [
        {"item": "observation end", "value": run_.as_of.isoformat()},
        {"item": "profiles written", "value": run_.customers},
        {"item": "customers with purchases", "value": run_.purchasers},
        {"item": f"{run_.purchase_model['name']} parameters", "value": params},
        {"item": "log-likelihood", "value": run_.purchase_model.get("log_likelihood")},
        {"item": "gamma-gamma parameters", "value": spend},
        {"item": "total CLV", "value": f"{run_.total_clv:,.2f}"},
        {"item": "holdout check", "value": _holdout_text(val)},
        {"item": "seconds", "value": run_.seconds},
    ]
    print_table("cvm value", rows)


def report(
    workspace: WorkspaceOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where to write the HTML (default: WORKSPACE/reports/report.html)."
        ),
    ] = None,
    as_of: AsOfOpt = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print it to PDF with headless Chromium.")
    ] = False,
) -> None:
    """Write the self-contained HTML report (and, with --pdf, the same as PDF)."""
    from cvm.report.builder import build_report

    with open_workspace(workspace) as ws:
        with err_console.status("report") as status:
            path = build_report(
                ws,
                out=out,
                as_of=as_of.date() if as_of else None,
                progress=lambda m: status.update(m),
            )
    console.print(f"[bold green]report:[/] {path}")
    if pdf:
        from cvm.report.pdf import render_pdf

        with err_console.status("printing to PDF"):
            printed = render_pdf(path)
        console.print(f"[bold green]pdf:[/] {printed}")


def _holdout_text(val: dict) -> str:  # type: ignore[type-arg]
    if "skipped" in val:
        return f"skipped: {val['skipped']}"
    return f"predicted {val['predicted_total']:,.0f} vs actual {val['actual_total']:,.0f} repeat purchases in {val['holdout_days']} days ({val['total_error_pct']:+.1f}%)"


def _brief(summary: dict) -> str:  # type: ignore[type-arg]
    return ", ".join(f"{k}={v}" for k, v in summary.items() if k not in ("report",))[:120]
