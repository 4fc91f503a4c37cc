from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cvm.core.errors import WorkspaceError
from cvm.state.store import state_tables
from cvm.workspace import init_workspace, open_workspace


def test_init_creates_config_warehouse_and_state(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    assert (ws.root / "cvm.toml").is_file()
    assert ws.engine.table_exists("transactions")
    assert "api_keys" in state_tables(ws.state)
    ws.close()
    reopened = open_workspace(tmp_path / "w")
    assert reopened.settings.workspace.name == "w"
    reopened.close()


def test_init_refuses_existing_without_force(tmp_path: Path) -> None:
    init_workspace(tmp_path / "w").close()
    with pytest.raises(WorkspaceError, match="already a cvm workspace"):
        init_workspace(tmp_path / "w")
    init_workspace(tmp_path / "w", force=True).close()


def test_outside_workspace_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CVM_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceError, match="not a cvm workspace"):
        open_workspace()


def test_cli_outside_workspace_exits_2_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cvm", "info", "--workspace", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "not a cvm workspace" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_setting_names_the_field(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    ws.close()
    (tmp_path / "w" / "cvm.toml").write_text("[value]\nmargin = 7\n")
    with pytest.raises(WorkspaceError, match=r"value\.margin"):
        open_workspace(tmp_path / "w")


def test_cli_usage_errors_exit_2_without_traceback() -> None:
    for args in (["nosuch"], ["info", "--bogus"]):
        proc = subprocess.run([sys.executable, "-m", "cvm", *args], capture_output=True, text=True)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr
        assert "Error:" in proc.stderr


def test_force_reset_drops_models_and_runs_of_the_old_data(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    (ws.models_dir / "churn").mkdir()
    (ws.models_dir / "churn" / "PROMOTED").write_text("churn-old\n")
    (ws.runs_dir / "value-old.json").write_text("{}")
    ws.close()
    init_workspace(tmp_path / "w", force=True).close()
    assert not (tmp_path / "w" / "models" / "churn").exists()
    assert not (tmp_path / "w" / "runs" / "value-old.json").exists()
