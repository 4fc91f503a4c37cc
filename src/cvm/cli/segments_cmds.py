"""`cvm segments …`: define, inspect, refresh and discover segments (thin: parse, call, render)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cvm.cli import segments_analysis_cmds as analysis
from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_table
from cvm.cli.segments_analysis_cmds import NameArg, segment_store
from cvm.core.errors import UserInputError

app = typer.Typer(
    help="Rule-based segments: define, size, preview, export, refresh, discover.",
    no_args_is_help=True,
)


def _read(file: Path | None, yaml_text: str | None) -> tuple[list[Any], str]:
    from cvm.segments.definition import read_document

    if (file is None) == (yaml_text is None):
        raise UserInputError("give a FILE (or - for stdin) or --yaml TEXT")
    if yaml_text is not None:
        return _documents(read_document(yaml_text)), "--yaml"
    assert file is not None
    if str(file) == "-":
        return _documents(read_document(sys.stdin.read())), "stdin"
    if not file.is_file():
        raise UserInputError(f"{file}: no such file")
    return _documents(read_document(file.read_text(encoding="utf-8"))), str(file)


def _documents(data: Any) -> list[Any]:
    """A file holds one definition or a list of them."""
    return data if isinstance(data, list) else [data]


@app.command()
def validate(
    file: Annotated[Path | None, typer.Argument(help="YAML or JSON file (- for stdin).")] = None,
    yaml_text: Annotated[str | None, typer.Option("--yaml", help="The definition inline.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check definitions without saving them: every problem with its node path."""
    from cvm.core.errors import WorkspaceError
    from cvm.segments.fields import default_catalog
    from cvm.segments.validate import (
        SegmentValidationError,
        check_definition,
        parse_definition,
        usage_warnings,
    )
    from cvm.workspace import open_workspace

    documents, source = _read(file, yaml_text)
    results: list[dict[str, Any]] = []
    try:
        ws = open_workspace(workspace)
    except WorkspaceError:
        ws = None  # validate against the data contract only
    try:
        for i, data in enumerate(documents):
            where = source if len(documents) == 1 else f"{source}[{i}]"
            try:
                definition = parse_definition(data, where)
                if ws is not None:
                    store = segment_store(ws)
                    store.validate(definition)
                    warnings = [str(w) for w in usage_warnings(ws.engine, definition)]
                else:
                    issues = check_definition(definition, default_catalog())
                    if issues:
                        raise SegmentValidationError(issues, where)
                    warnings = []
                results.append(
                    {"source": where, "name": definition.name, "valid": True, "warnings": warnings}
                )
            except SegmentValidationError as err:
                results.append(
                    {"source": where, "valid": False, "errors": [str(i) for i in err.issues]}
                )
    finally:
        if ws is not None:
            ws.close()
    if as_json:
        print_json(results)
    else:
        for r in results:
            if r["valid"]:
                console.print(f"[green]valid[/] {r['name']} ({r['source']})")
                for w in r["warnings"]:
                    console.print(f"  [yellow]warning[/] {w}", highlight=False)
            else:
                console.print(f"[red]invalid[/] {r['source']}")
                for e in r["errors"]:
                    console.print(f"  {e}", highlight=False, markup=False)
    if not all(r["valid"] for r in results):
        raise typer.Exit(2)


@app.command()
def create(
    file: Annotated[Path | None, typer.Argument(help="YAML or JSON file (- for stdin).")] = None,
    yaml_text: Annotated[str | None, typer.Option("--yaml", help="The definition inline.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a segment of the same name.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate and save one or more segment definitions."""
    from cvm.segments.validate import parse_definition
    from cvm.workspace import open_workspace

    documents, source = _read(file, yaml_text)
    definitions = [parse_definition(d, source) for d in documents]
    with open_workspace(workspace) as ws:
        store = segment_store(ws)
        saved = [store.save(d, replace=replace).name for d in definitions]
    print_json({"saved": saved}) if as_json else console.print(
        f"[green]saved[/] {', '.join(saved)}"
    )


@app.command("list")
def list_segments(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List stored segments with how they refresh (event-driven or scheduled)."""
    from cvm.segments.membership import segment_schedules
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        store = segment_store(ws)
        schedules = segment_schedules(store)
        rows = [
            {
                "name": s.name,
                "refresh": schedules[s.name],
                "builtin": s.builtin,
                "description": s.definition.description,
                "updated_at": s.updated_at,
            }
            for s in store.all_segments()
        ]
    print_json(rows) if as_json else print_table("segments", rows)


@app.command()
def show(name: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Print a definition as YAML (or JSON)."""
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        definition = segment_store(ws).get(name).definition
    if as_json:
        print_json(definition.to_json_dict())
    else:
        print(definition.to_yaml(), end="")


@app.command()
def delete(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a segment (refused while another segment refers to it)."""
    from cvm.workspace import open_workspace

    if not yes and not as_json:
        typer.confirm(f"delete segment {name!r}?", abort=True)
    with open_workspace(workspace) as ws:
        segment_store(ws).delete(name)
    print_json({"deleted": name}) if as_json else console.print(f"deleted {name}")


@app.command("install-builtins")
def install_builtins(
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Reset edited built-ins to their defaults.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(Re)install the built-in lifecycle, value-tier and RFM segments."""
    from cvm.segments.builtin import install_builtin_segments
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        saved = install_builtin_segments(ws.engine, store=segment_store(ws), overwrite=overwrite)
    print_json({"saved": saved}) if as_json else console.print(f"installed {len(saved)} segments")


@app.command()
def schema() -> None:
    """Print the JSON Schema of a segment definition (what the API and the UI accept)."""
    from cvm.segments.definition import SegmentDefinition

    print_json(SegmentDefinition.model_json_schema(by_alias=True))


for _name, _command in (
    ("size", analysis.size),
    ("preview", analysis.preview),
    ("export", analysis.export),
    ("explain", analysis.explain),
    ("refresh", analysis.refresh),
    ("overlap", analysis.overlap),
    ("lifecycle", analysis.lifecycle),
    ("discover", analysis.discover),
):
    app.command(_name)(_command)
