"""`cvm loyalty run` and `cvm loyalty tiers` through the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cvm.cli.app import app
from cvm.workspace import Workspace

runner = CliRunner()


def cvm(ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--workspace", str(ws.root)])
    return result.exit_code, result.output


def cvm_process(ws: Workspace, *args: str) -> tuple[int, str]:
    """The real command (errors are mapped to a sentence and an exit code by `cvm.cli.app`)."""
    done = subprocess.run(
        [sys.executable, "-m", "cvm", *args, "--workspace", str(ws.root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_run_and_tiers(shop: Workspace) -> None:
    shop.close()  # the CLI opens the warehouse itself
    code, out = cvm(shop, "loyalty", "run", "--as-of", "2024-03-31", "--json")
    assert code == 0, out
    run = json.loads(out)
    assert (run["members"], run["posted"], run["until"]) == (2, 5, "2024-04-01T00:00:00")
    code, out = cvm(shop, "loyalty", "tiers", "--json")
    assert code == 0, out
    assert {r["tier"]: r["members"] for r in json.loads(out)} == {"member": 1, "gold": 1}
    code, out = cvm(shop, "loyalty", "tiers", "--customer", "a", "--json")
    assert [r["tier"] for r in json.loads(out)] == ["member", "gold"]
    code, out = cvm_process(shop, "loyalty", "tiers", "--customer", "nobody")
    assert code == 2 and "no tier history for customer 'nobody'" in out
    code, out = cvm(shop, "loyalty", "run")
    assert code == 0 and "posted" in out


@pytest.mark.slow  # two real `python -m cvm` processes
def test_clear_errors_without_or_with_a_broken_programme(ws: Workspace) -> None:
    ws.close()
    code, out = cvm_process(ws, "loyalty", "run")
    assert code == 2 and "no loyalty programme" in out and "Traceback" not in out
    (ws.root / "loyalty.yaml").write_text("tiers:\n  levels: [{name: a, threshold: 5}]\n")
    code, out = cvm_process(ws, "loyalty", "tiers")
    assert code == 2 and "key 'tiers'" in out and "threshold must be 0" in out
