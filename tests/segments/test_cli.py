"""`cvm segments …` end to end on a workspace on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner, Result

from cvm.cli.app import app
from cvm.core.errors import ConflictError, NotFoundError
from cvm.workspace import init_workspace
from tests.segments.data import AS_OF, generate

AS_OF_TEXT = AS_OF.isoformat()
DEFINITION = """
name: cli_openers
description: Opened an e-mail in the last 90 days and has a CLV.
rule:
  kind: all
  conditions:
    - {kind: message, action: opened, channel: email, window: {days: 90}}
    - {kind: profile, field: clv, op: is_set}
"""


@pytest.fixture(scope="module")
def ws_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cli") / "ws"
    ws = init_workspace(root)
    for name, table in generate(seed=11, customers=120).arrow().items():
        ws.engine.write_arrow(name, table)
    ws.close()
    yield root


def cvm(ws_dir: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["segments", *args, "-w", str(ws_dir)], input=input)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_validate_create_show_list(ws_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(DEFINITION)
    assert as_json(cvm(ws_dir, "validate", str(good), "--json"))[0]["valid"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFINITION.replace("field: clv", "field: clvv").replace("days: 90", "days: -90"))
    result = cvm(ws_dir, "validate", str(bad))
    assert result.exit_code == 2
    assert "rule.conditions[1].field: unknown field 'clvv'; did you mean 'clv'?" in result.stdout
    assert "rule.conditions[0].window.days: must be at least 1 (got -90)" in result.stdout
    assert as_json(cvm(ws_dir, "create", str(good), "--json")) == {"saved": ["cli_openers"]}
    again = cvm(ws_dir, "create", str(good))
    assert isinstance(again.exception, ConflictError)
    assert cvm(ws_dir, "create", "--yaml", DEFINITION, "--replace").exit_code == 0
    shown = cvm(ws_dir, "show", "cli_openers")
    assert "kind: message" in shown.stdout and "name: cli_openers" in shown.stdout
    listed = {r["name"]: r for r in as_json(cvm(ws_dir, "list", "--json"))}
    assert listed["cli_openers"]["refresh"] == "event_driven"
    assert (
        listed["lifecycle_at_risk"]["refresh"] == "scheduled"
        and listed["lifecycle_at_risk"]["builtin"]
    )


def test_size_preview_export_explain(ws_dir: Path, tmp_path: Path) -> None:
    cvm(ws_dir, "create", "--yaml", DEFINITION, "--replace")
    size = as_json(cvm(ws_dir, "size", "cli_openers", "--as-of", AS_OF_TEXT, "--json"))["size"]
    assert size > 0
    rows = as_json(
        cvm(ws_dir, "preview", "cli_openers", "--limit", "3", "--as-of", AS_OF_TEXT, "--json")
    )
    assert len(rows) == min(3, size) and set(rows[0]) == {
        "customer_id",
        "first_name",
        "last_name",
        "clv",
    }
    out = tmp_path / "out.csv"
    exported = as_json(
        cvm(
            ws_dir,
            "export",
            "cli_openers",
            "--format",
            "csv",
            "--out",
            str(out),
            "--as-of",
            AS_OF_TEXT,
            "--json",
        )
    )
    assert exported["rows"] == size == pacsv.read_csv(out).num_rows
    member = rows[0]["customer_id"]
    text = cvm(ws_dir, "explain", "cli_openers", member, "--as-of", AS_OF_TEXT).stdout
    assert f"customer {member} is a member of segment 'cli_openers'" in text
    assert (
        "rule.conditions[0]: opened" in text
        and "email messages in the last 90 days, needs ≥ 1 ✓" in text
    )
    missing = cvm(ws_dir, "explain", "cli_openers", "nobody")
    assert isinstance(missing.exception, NotFoundError)


def test_refresh_overlap_lifecycle_delete(ws_dir: Path) -> None:
    cvm(ws_dir, "create", "--yaml", DEFINITION, "--replace")
    report = as_json(
        cvm(ws_dir, "refresh", "cli_openers", "lifecycle_new", "--as-of", AS_OF_TEXT, "--json")
    )
    sizes = {s["segment"]: s for s in report["segments"]}
    assert sizes["cli_openers"]["entered"] == sizes["cli_openers"]["members"] > 0
    live = as_json(cvm(ws_dir, "refresh", "--customer", "c0001", "--as-of", AS_OF_TEXT, "--json"))
    assert {s["schedule"] for s in live["segments"]} == {"event_driven"}
    matrix = as_json(
        cvm(ws_dir, "overlap", "cli_openers", "lifecycle_active", "--as-of", AS_OF_TEXT, "--json")
    )
    assert matrix["cli_openers"]["cli_openers"] == sizes["cli_openers"]["members"]
    assert matrix["cli_openers"]["lifecycle_active"] == matrix["lifecycle_active"]["cli_openers"]
    flows = as_json(cvm(ws_dir, "lifecycle", "--as-of", AS_OF_TEXT, "--json"))
    assert sum(f["customers"] for f in flows) == 120
    assert "stage migration" in cvm(ws_dir, "lifecycle", "--as-of", AS_OF_TEXT).stdout
    assert as_json(cvm(ws_dir, "delete", "cli_openers", "--yes", "--json")) == {
        "deleted": "cli_openers"
    }
    assert isinstance(cvm(ws_dir, "show", "cli_openers").exception, NotFoundError)
    refused = cvm(ws_dir, "delete", "lifecycle_new", "--yes")
    assert (
        isinstance(refused.exception, ConflictError)
        and "lifecycle_active" in refused.exception.message
    )


def test_discover_schema_builtins(ws_dir: Path) -> None:
    found = as_json(cvm(ws_dir, "discover", "--k", "3", "--json"))
    assert found["k"] == 3 and len(found["clusters"]) == 3
    assert all(c["rule"]["rule"]["kind"] == "all" for c in found["clusters"])
    printed = cvm(ws_dir, "discover", "--k", "auto", "--sample", "100")
    assert "highest mean silhouette" in printed.stdout and "suggested rule" in printed.stdout
    schema = as_json(CliRunner().invoke(app, ["segments", "schema"]))
    assert "rule" in schema["properties"]
    assert as_json(cvm(ws_dir, "install-builtins", "--json")) == {"saved": []}


def test_the_real_console_entry_passes_a_failed_check_exit_code_on(
    ws_dir: Path, tmp_path: Path
) -> None:
    """`python -m cvm` (the console script's `main`, not CliRunner) exits 2 on an invalid
    definition: a shell script or CI job must see the failure."""
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFINITION.replace("field: clv", "field: clvv"))
    done = subprocess.run(
        [sys.executable, "-m", "cvm", "segments", "validate", str(bad), "-w", str(ws_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown field 'clvv'" in done.stdout
