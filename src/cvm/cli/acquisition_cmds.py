"""`cvm acquisition`: customer acquisition cost, CLV/CAC and payback per channel and cohort."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_mapping, print_table

app = typer.Typer(
    help="Acquisition economics: CAC, CLV/CAC and payback per channel and cohort.",
    no_args_is_help=True,
)


class By(StrEnum):
    channel = "channel"
    cohort = "cohort"


_CHANNEL_COLUMNS: tuple[str, ...] = (
    "channel",
    "spend",
    "new_customers",
    "cac",
    "realised_value",
    "predicted_clv",
    "clv_cac",
    "payback",
)
_COHORT_COLUMNS: tuple[str, ...] = ("cohort", *_CHANNEL_COLUMNS)


@app.command()
def summary(
    by: Annotated[
        By, typer.Option("--by", help="One row per channel (all cohorts) or per channel × cohort.")
    ] = By.channel,
    margin_rate: Annotated[
        float | None,
        typer.Option(
            "--margin-rate",
            help="Margin as a share of revenue for lines whose product has no margin "
            "(default: the workspace's value.margin).",
            min=0.0,
            max=1.0,
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            help="Observation end, inclusive (default: the last transaction day).",
            formats=["%Y-%m-%d"],
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """CAC, realised and predicted CLV, CLV/CAC and payback month per channel or cohort."""
    from cvm.acquisition import summarize_acquisition
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        result = summarize_acquisition(
            ws.engine,
            ws.settings,
            as_of=as_of.date() if as_of else None,
            margin_rate=margin_rate,
        )
    if as_json:
        print_json(result.to_dict())
        return
    cur = result.currency
    totals = result.totals
    print_mapping(
        f"Acquisition economics as of {result.as_of.isoformat()} ({cur})",
        {
            "spend": _money(totals["spend"]),
            "new customers": totals["new_customers"],
            "blended CAC (all channels)": _money(totals["blended_cac"]),
            "paid CAC (channels with spend)": _money(totals["paid_cac"]),
            "customers from unpaid channels": totals["unpaid_new_customers"],
            "paid CLV/CAC": _ratio(totals["paid_clv_cac"]),
            "margin": result.margin_basis,
        },
    )
    if by is By.channel:
        rows, columns, title = result.channels, _CHANNEL_COLUMNS, "By acquisition channel"
    else:
        rows, columns, title = result.cohorts, _COHORT_COLUMNS, "By channel × signup month"
    print_table(f"{title} ({cur})", [_display(r) for r in rows], columns)
    for line in result.warnings:
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    console.print(
        "[dim]CLV/CAC = (realised margin + residual CLV) / CAC; payback = month of life "
        "(signup month = 1) when cumulative margin per customer reaches CAC.[/]"
    )


def _display(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("spend", "cac", "realised_value", "predicted_clv"):
        out[key] = _money(row.get(key))
    out["clv_cac"] = _ratio(row.get("clv_cac")) if row.get("paid") else "unpaid"
    return out


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
