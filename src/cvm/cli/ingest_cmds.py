"""`cvm ingest <table> SOURCE` and `cvm quarantine list|show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_table, progress_bar
from cvm.core.contracts import CANONICAL
from cvm.workspace import open_workspace

COUNTS = (
    "read",
    "accepted",
    "quarantined",
    "inserted",
    "updated",
    "unchanged",
    "customers_created",
)
# Below this size a run takes about a second; a bar would only flicker.
PROGRESS_MIN_BYTES = 10 * 1024 * 1024

ingest_app = typer.Typer(
    help="Load a file, a folder or a database query into a canonical table, validated; "
    "bad rows go to the quarantine.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(
    help="Rows refused by ingestion, with the reason.", no_args_is_help=True
)

SourceArg = Annotated[
    Path | None,
    typer.Argument(
        help="CSV/TSV, whitespace-separated text, Parquet or JSON Lines file, or a folder of them.",
        show_default=False,
    ),
]
MapOpt = Annotated[
    Path | None,
    typer.Option("--map", "-m", help="Mapping YAML (see docs/ingestion.md).", show_default=False),
]
QueryOpt = Annotated[
    str | None,
    typer.Option(
        "--query", help="SQL query to read instead of a file (needs --url).", show_default=False
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL for --query: sqlite:///file.db or postgresql://...",
        show_default=False,
    ),
]


def _input_bytes(source: Path | None) -> int:
    if source is None:
        return PROGRESS_MIN_BYTES  # a query: its size is unknown, show the spinner
    if source.is_file():
        return source.stat().st_size
    if source.is_dir():
        return sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    return 0


def _render(result: dict[str, Any]) -> None:
    console.print(f"ingested [bold]{result['table']}[/] from {escape(result['source'])}")
    summary = Table(show_header=False)
    summary.add_column("rows", style="bold")
    summary.add_column("count", justify="right")
    for key in COUNTS:
        summary.add_row(key.replace("_", " "), f"{result[key]:,}")
    console.print(summary)
    if result["reasons"]:
        rows = [{"reason": reason, "rows": count} for reason, count in result["reasons"].items()]
        print_table("quarantined, by reason", rows)
        console.print(f"see the rows: [bold]cvm quarantine show {result['run_id']}[/]")
    console.print(f"run {result['run_id']} in {result['seconds']:.1f} s")


def _ingest(
    table: str,
    source: Path | None,
    mapping: Path | None,
    query: str | None,
    url: str | None,
    as_json: bool,
    workspace: Path | None,
) -> None:
    from cvm.ingest import ingest

    show = not as_json and _input_bytes(source) >= PROGRESS_MIN_BYTES
    with open_workspace(workspace) as ws, progress_bar(enabled=show) as bar:
        task: list[Any] = []

        def report(description: str, done: float, total: float) -> None:
            if not task:
                task.append(bar.add_task(description, total=total))
            if description.startswith("reading"):
                bar.update(task[0], description=description, completed=done, total=total)
            else:
                bar.update(task[0], description=description)

        result = ingest(
            ws,
            table,
            source,
            mapping=mapping,
            query=query,
            url=url,
            progress=report if show else None,
        )
    data = result.as_json()
    print_json(data) if as_json else _render(data)


def _command(table: str) -> Any:
    def command(
        source: SourceArg = None,
        mapping: MapOpt = None,
        query: QueryOpt = None,
        url: UrlOpt = None,
        as_json: JsonOpt = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        _ingest(table, source, mapping, query, url, as_json, workspace)

    command.__name__ = table
    command.__doc__ = (
        f"Load {table} from a file, a folder or --query/--url.\n\n"
        f"Every row is validated against the {table} contract; bad rows go to the quarantine "
        "with their line and reason, the rest are merged by key (re-running adds nothing)."
    )
    return command


for _table in CANONICAL:
    ingest_app.command(name=_table)(_command(_table))


@quarantine_app.command("list")
def list_runs(
    run: Annotated[
        str | None, typer.Option("--run", help="One run: its reasons and counts.")
    ] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Runs that quarantined rows, or (with --run) the reasons of one run."""
    from cvm.ingest import list_quarantine

    with open_workspace(workspace) as ws:
        rows = list_quarantine(ws.engine, run)
    if as_json:
        print_json(rows)
    elif not rows:
        console.print("nothing quarantined" + (f" in run {escape(run)}" if run else ""))
    else:
        print_table(f"quarantine of run {run}" if run else "runs with quarantined rows", rows)


@quarantine_app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(help="Ingestion run id (from `cvm quarantine list`).")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Rows to show.")] = 50,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """The quarantined rows of one run: source, line, column, reason and the raw row."""
    from cvm.ingest import show_quarantine

    with open_workspace(workspace) as ws:
        rows = show_quarantine(ws.engine, run_id, limit)
    if as_json:
        print_json(rows)
    elif not rows:
        console.print(f"nothing quarantined in run {escape(run_id)}")
    else:
        print_table(
            f"quarantined rows of run {run_id}", [{**r, "raw": escape(str(r["raw"]))} for r in rows]
        )
