"""`cvm models ...` (train, list, show, promote) and `cvm score`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal, cast

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, err_console, print_json, print_mapping, print_table
from cvm.workspace import open_workspace

UpliftMethod = Literal["t", "x", "dr"]

models_app = typer.Typer(
    help="Train, inspect and promote churn, uplift and recommendation models.", no_args_is_help=True
)

AsOf = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Train/score as of this day (default: last transaction).",
    ),
]


def _as_of(ws, as_of: dt.datetime | None) -> dt.date:  # type: ignore[no-untyped-def]
    from cvm.core.errors import UserInputError
    from cvm.value.summaries import last_transaction_date

    day = as_of.date() if as_of else last_transaction_date(ws.engine)
    if day is None:
        raise UserInputError("no transactions in the warehouse: ingest some first")
    return day


@models_app.command("train")
def train(
    kind: Annotated[str, typer.Argument(help="churn, uplift or recommend")],
    workspace: WorkspaceOpt = None,
    as_of: AsOf = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            help="Campaign whose assignments train the uplift model (default: the latest)."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="Uplift learner: t, x or dr.")] = "x",
    promote: Annotated[
        bool, typer.Option("--promote", help="Promote the new version so it scores.")
    ] = False,
) -> None:
    """Train a model on the workspace's data and register it with its evaluation."""
    from cvm.core.errors import UserInputError
    from cvm.predict import training
    from cvm.predict.registry import load_manifest

    with open_workspace(workspace) as ws:
        day = _as_of(ws, as_of)
        with err_console.status(f"training {kind}"):
            if kind == "churn":
                version = training.train_churn(
                    ws.engine,
                    ws.models_dir,
                    day,
                    ws.settings.value.churn_window_days,
                    promote=promote,
                )
            elif kind == "uplift":
                campaigns = (
                    [campaign] if campaign else training.campaigns_with_assignments(ws.engine)[-1:]
                )
                if not campaigns:
                    raise UserInputError(
                        "no campaign with treatment and control assignments to learn uplift from"
                    )
                version = training.train_uplift(
                    ws.engine,
                    ws.models_dir,
                    campaigns[0],
                    day,
                    method=cast(UpliftMethod, method),
                    promote=promote,
                )
            elif kind == "recommend":
                version = training.train_recommender(ws.engine, ws.models_dir, day, promote=promote)
            else:
                raise UserInputError(
                    f"unknown model kind {kind!r}; choose churn, uplift or recommend"
                )
        manifest = load_manifest(ws.models_dir, version)
    console.print(f"[green]registered[/] {version}")
    print_mapping("evaluation", manifest.get("headline", {}))


@models_app.command("list")
def list_(
    workspace: WorkspaceOpt = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every registered model version, newest first."""
    from cvm.predict.registry import list_models

    with open_workspace(workspace) as ws:
        rows = list_models(ws.models_dir, kind)
    if as_json:
        print_json(rows)
        return
    print_table(
        "models",
        [{**r, "headline": json.dumps(r["headline"])} for r in rows],
        ["version", "kind", "created_at", "promoted", "headline"],
    )


@models_app.command("show")
def show(version: str, workspace: WorkspaceOpt = None) -> None:
    """The full manifest of one version: training window, features, metrics, fingerprint."""
    from cvm.predict.registry import load_manifest

    with open_workspace(workspace) as ws:
        print_json(load_manifest(ws.models_dir, version))


@models_app.command("promote")
def promote_(version: str, workspace: WorkspaceOpt = None) -> None:
    """Make VERSION the one that scores."""
    from cvm.predict.registry import promote_model

    with open_workspace(workspace) as ws:
        promote_model(ws.models_dir, version)
    console.print(f"[green]promoted[/] {version}")


def score(
    workspace: WorkspaceOpt = None,
    as_of: AsOf = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="Retrain every model first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write churn propensity, uplift per campaign/offer and top products onto every profile."""
    from cvm.predict.stage import run_prediction_stage

    with open_workspace(workspace) as ws:
        day = _as_of(ws, as_of)
        with err_console.status("scoring") as status:
            result = run_prediction_stage(
                ws.engine,
                ws.models_dir,
                day,
                ws.settings.value.churn_window_days,
                retrain=retrain,
                progress=status.update,
            )
    if as_json:
        print_json(result)
        return
    print_mapping(
        "cvm score", {k: json.dumps(v) if isinstance(v, dict) else v for k, v in result.items()}
    )
