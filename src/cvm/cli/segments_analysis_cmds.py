"""`cvm segments` commands that evaluate segments: size, preview, export, explain, refresh,
overlap, lifecycle and discover. Registered on the group in `cvm.cli.segments_cmds`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_table
from cvm.core.errors import UserInputError

AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Evaluate as of this UTC date or date-time (default: now).",
        show_default=False,
    ),
]
NameArg = Annotated[str, typer.Argument(help="Segment name.")]


def _as_of(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(f"--as-of {text!r} is not an ISO date or date-time") from None


def segment_store(ws: Any) -> Any:
    from cvm.segments.store import open_store

    return open_store(ws)


def size(
    name: NameArg, as_of: AsOfOpt = None, workspace: WorkspaceOpt = None, as_json: JsonOpt = False
) -> None:
    """Count members now (or at --as-of)."""
    from cvm.segments.query import segment_size
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        count = segment_size(segment_store(ws), name, _as_of(as_of))
    print_json({"segment": name, "size": count}) if as_json else console.print(
        f"{name}: {count:,} customers"
    )


def preview(
    name: NameArg,
    limit: Annotated[int, typer.Option(help="Members to show (highest CLV first).")] = 20,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show members with the fields the rule reads, their name and CLV."""
    from cvm.segments.query import preview_segment
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = preview_segment(segment_store(ws), name, limit, _as_of(as_of)).to_pylist()
    print_json(rows) if as_json else print_table(f"{name} (first {limit})", rows)


def export(
    name: NameArg,
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write every member (id, name, e-mail, phone, rule fields, CLV) to CSV or Parquet."""
    from cvm.segments.query import export_segment
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = export_segment(segment_store(ws), name, out, fmt, _as_of(as_of))  # type: ignore[arg-type]
    result = {"segment": name, "rows": rows, "out": str(out), "format": fmt}
    print_json(result) if as_json else console.print(f"wrote {rows:,} members to {out}")


def explain(
    name: NameArg,
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Say, condition by condition, why a customer is or is not a member."""
    from dataclasses import asdict

    from cvm.segments.explain import explain_membership
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        result = explain_membership(segment_store(ws), name, customer_id, _as_of(as_of))
    if as_json:
        print_json(asdict(result))
    else:
        console.print(result.text(), highlight=False, markup=False)


def refresh(
    names: Annotated[list[str] | None, typer.Argument(help="Segments (default: all).")] = None,
    customer: Annotated[
        list[str] | None,
        typer.Option(
            "--customer",
            help="Live path: re-evaluate event-driven segments for these customers only.",
        ),
    ] = None,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Materialise memberships, history and entry/exit transitions."""
    from dataclasses import asdict

    from cvm.segments.membership import refresh_event_driven, refresh_memberships
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        store = segment_store(ws)
        if customer:
            report = refresh_event_driven(ws.engine, customer, _as_of(as_of), store=store)
        else:
            report = refresh_memberships(ws.engine, names or None, _as_of(as_of), store=store)
    if as_json:
        print_json(asdict(report))
        return
    rows = [asdict(s) for s in report.segments]
    print_table(f"refresh {report.refresh_id} as of {report.as_of}", rows)
    console.print(f"{len(rows)} segments in {report.seconds:.2f} s")


def overlap(
    names: Annotated[list[str], typer.Argument(help="Segments to compare.")],
    materialised: Annotated[
        bool, typer.Option("--materialised", help="Read the last refresh instead of evaluating.")
    ] = False,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Shared members between segments (diagonal: sizes)."""
    from cvm.segments.query import segment_overlap
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        matrix = segment_overlap(segment_store(ws), names, _as_of(as_of), materialised=materialised)
    if as_json:
        print_json({a: {b: int(matrix.loc[a, b]) for b in matrix.columns} for a in matrix.index})
        return
    rows = [
        {"segment": a, **{b: int(matrix.loc[a, b]) for b in matrix.columns}} for a in matrix.index
    ]
    print_table("shared members", rows)


def lifecycle(
    months: Annotated[int, typer.Option(help="Compare with the stages this many months ago.")] = 1,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lifecycle stage counts and the stage migration matrix (default rules)."""
    from cvm.segments.lifecycle import STAGES, stage_migration
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        flows = stage_migration(ws.engine, _as_of(as_of), months=months).to_pylist()
    if as_json:
        print_json(flows)
        return
    rows = [
        {
            "from → to": f,
            **{
                t: next(
                    r["customers"] for r in flows if r["from_stage"] == f and r["to_stage"] == t
                )
                for t in STAGES
            },
        }
        for f in STAGES
    ]
    print_table(f"stage migration over {months} month(s)", rows)


def discover(
    k: Annotated[
        str, typer.Option("--k", help="Number of clusters, or auto (silhouette).")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed (sampling and k-means).")] = 0,
    sample: Annotated[int, typer.Option(help="Customers sampled to choose k.")] = 5000,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cluster customers on value and behaviour; describe each cluster and suggest a rule."""
    from dataclasses import asdict

    from cvm.segments.discover import discover_segments
    from cvm.workspace import open_workspace

    if k != "auto" and not k.isdigit():
        raise UserInputError(f"--k must be a number or auto (got {k!r})")
    with open_workspace(workspace) as ws:
        result = discover_segments(
            ws.engine, "auto" if k == "auto" else int(k), seed=seed, sample_size=sample
        )
    if as_json:
        data = asdict(result)
        for cluster, raw in zip(result.clusters, data["clusters"], strict=True):
            raw["rule"] = cluster.rule.to_json_dict()
            raw["description"] = cluster.description
        print_json(data)
        return
    scores = ", ".join(f"k={key}: {v:.3f}" for key, v in result.silhouette.items())
    console.print(
        f"[bold]{result.k} clusters[/] of {result.customers:,} customers — {result.criterion}"
    )
    if scores:
        console.print(f"silhouette: {scores}", highlight=False)
    for cluster in result.clusters:
        console.print(f"\n[bold]cluster {cluster.label}[/]: {cluster.description}", highlight=False)
        console.print(
            f"suggested rule (precision {cluster.rule_precision:.0%}, recall {cluster.rule_recall:.0%}):"
        )
        print(cluster.rule.to_yaml(), end="")
