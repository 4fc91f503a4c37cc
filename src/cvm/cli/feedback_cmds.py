"""`cvm feedback`: load survey answers, NPS/CSAT summaries with intervals, comment topics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping, print_table

feedback_app = typer.Typer(
    help="Customer feedback: NPS and CSAT survey answers, their scores and comment topics.",
    no_args_is_help=True,
)

SurveyOpt = Annotated[str, typer.Option("--survey", help="nps or csat.")]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Break down by segment, channel, touchpoint or month."),
]


@feedback_app.command("ingest")
def ingest_responses(
    source: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON file (or folder).")],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Column mapping YAML.", show_default=False)
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest survey answers (like `cvm ingest survey_responses`), then quarantine scores
    outside their survey's range (CSAT 1-5; the contract alone checks 0-10)."""
    from cvm.feedback.responses import quarantine_invalid_scores
    from cvm.ingest import ingest
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        result = ingest(ws, "survey_responses", source, mapping=mapping)
        moved = quarantine_invalid_scores(ws.engine)
    out: dict[str, Any] = {
        "run": result.run_id, "read": result.read, "accepted": result.accepted - moved,
        "quarantined": result.quarantined + moved,
        "reasons": {**result.reasons, **({"csat score outside 1-5": moved} if moved else {})},
    }  # fmt: skip
    if as_json:
        print_json(out)
        return
    print_mapping(
        f"survey_responses from {source}", {k: v for k, v in out.items() if k != "reasons"}
    )
    for reason, count in out["reasons"].items():
        console.print(f"  quarantined: {reason} ({count})")


@feedback_app.command("check")
def check(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Quarantine answers whose score is outside their survey's range (after `cvm ingest`)."""
    from cvm.feedback.responses import quarantine_invalid_scores
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        moved = quarantine_invalid_scores(ws.engine)
    print_json({"quarantined": moved}) if as_json else console.print(
        f"{moved:,} answers quarantined"
    )


@feedback_app.command("sync")
def sync(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Copy answers posted to the API (loaded as events) into survey_responses.

    The API server does this after each micro-batch; this is for events loaded otherwise."""
    from cvm.feedback.responses import copy_responses_from_events
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        copied = copy_responses_from_events(ws.engine)
    print_json({"copied": copied}) if as_json else console.print(f"{copied:,} answers copied")


def _score_rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {"group": r.group, "answers": r.n, "score": round(r.score, 1),
         "95% interval": f"{r.low:.1f} to {r.high:.1f}",
         "mean score": round(r.mean_score, 2) if r.mean_score is not None else None}
        for r in rows
    ]  # fmt: skip


@feedback_app.command("summary")
def summary(
    by: ByOpt = None,
    survey: SurveyOpt = "nps",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """NPS (-100..100) or CSAT (% satisfied) with 95% intervals, overall or by a breakdown."""
    from cvm.feedback.summary import summarize_feedback
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = summarize_feedback(ws.engine, survey, by)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        console.print(f"no {survey} answers yet")
        return
    label = "NPS" if survey == "nps" else "CSAT %"
    print_table(f"{label} by {by or 'all answers'}", _score_rows(rows))


@feedback_app.command("topics")
def topics(
    n_topics: Annotated[int, typer.Option("--topics", help="Number of topics.")] = 5,
    examples: Annotated[int, typer.Option(help="Example comments per topic.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the factorisation.")] = 0,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Group comments into topics (TF-IDF + NMF), each named by its top terms."""
    from cvm.feedback.topic_report import summarize_topics
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows, fitted = summarize_topics(ws.engine, n_topics, examples, seed)
    if as_json:
        print_json({"comments": fitted, "topics": [r.as_dict() for r in rows]})
        return
    if not rows:
        console.print("no comments yet")
        return
    table = [
        {"topic": r.name, "comments": r.count, "share": f"{100 * r.share:.1f}%",
         "NPS": round(r.nps, 1) if r.nps is not None else None,
         "CSAT %": round(r.csat, 1) if r.csat is not None else None,
         "example": r.examples[0] if r.examples else ""}
        for r in rows
    ]  # fmt: skip
    print_table(f"Topics of {fitted:,} comments", table)
