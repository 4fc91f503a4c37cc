"""`cvm measure …` on small inputs: sizing, empty workspaces and clear refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cvm.cli.app import app
from cvm.core.errors import NotFoundError, UserInputError
from cvm.measure.power import sample_size_proportions

runner = CliRunner()


def test_power_prints_control_total_and_duration() -> None:
    result = runner.invoke(
        app,
        ["measure", "power", "--baseline", "0.05", "--mde", "0.1", "--relative",
         "--control-share", "0.1", "--daily-volume", "5000", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    size = sample_size_proportions(0.05, 0.1, relative=True, control_share=0.1)
    assert (out["control"], out["treated"], out["total"]) == (
        size.n_control, size.n_treatment, size.n_total,
    )  # fmt: skip
    assert out["days"] == -(-size.n_total // 5000)
    assert out["absolute_mde"] == pytest.approx(0.005)
    text = runner.invoke(app, ["measure", "power", "--baseline", "0.05", "--mde", "0.01"])
    assert "control" in text.output and "5.00% → 6.00%" in text.output


def test_empty_workspace_and_refusals(workspace: object) -> None:
    root = str(workspace.root)  # type: ignore[attr-defined]
    workspace.close()  # type: ignore[attr-defined]
    listed = runner.invoke(app, ["measure", "list", "--workspace", root])
    assert listed.exit_code == 0 and "no campaign assignments yet" in listed.output
    missing = runner.invoke(app, ["measure", "campaign", "NOPE", "--workspace", root])
    assert isinstance(missing.exception, NotFoundError)  # `cvm` maps it to exit code 2
    assert "has no assignments" in missing.exception.message
    synced = runner.invoke(app, ["measure", "sync", "--workspace", root])
    assert synced.exit_code == 0 and "nothing new" in synced.output
    (workspace.root / "decide.toml").write_text("[control.global]\nshare = 0.0\n")  # type: ignore[attr-defined]
    program = runner.invoke(app, ["measure", "program", "--workspace", root])
    assert isinstance(program.exception, UserInputError)
    assert "no global control group" in program.exception.message
    bad = runner.invoke(
        app, ["measure", "campaign", "X", "--covariate", "trait.a", "--workspace", root]
    )
    assert isinstance(bad.exception, UserInputError) and "--cuped" in bad.exception.message
