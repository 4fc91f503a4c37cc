"""The README's CDNOW path through the real CLI: init → ingest with a mapping → value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[2]


def cvm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cvm", *args], capture_output=True, text=True, cwd=ROOT
    )


@pytest.fixture(scope="module")
def cdnow_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("cdnow") / "ws"
    assert cvm("init", str(ws)).returncode == 0
    sample = shared_file("CDNOW_sample.txt")
    proc = cvm(
        "ingest",
        "transactions",
        str(sample),
        "--map",
        "examples/cdnow/sample-mapping.yaml",
        "-w",
        str(ws),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["read"] == summary["accepted"] == 6919
    assert summary["customers_created"] == 2357
    return ws


def test_value_cli_shows_the_literature_bgnbd_and_gamma_gamma(cdnow_ws: Path) -> None:
    proc = cvm("value", "-w", str(cdnow_ws), "--as-of", "1997-09-30", "--json")
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    p = run["purchase_model"]["params"]
    assert [round(p[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    g = run["spend_model"]["params"]
    assert [round(g[k], 2) for k in ("p", "q", "gamma")] == [6.25, 3.74, 15.44]


def test_pareto_nbd_chosen_in_cvm_toml(cdnow_ws: Path) -> None:
    config = cdnow_ws / "cvm.toml"
    original = config.read_text()
    try:
        config.write_text(
            original.replace('purchase_model = "bg_nbd"', 'purchase_model = "pareto_nbd"')
        )
        proc = cvm("value", "-w", str(cdnow_ws), "--as-of", "1997-09-30", "--json")
        assert proc.returncode == 0, proc.stderr
        p = json.loads(proc.stdout)["purchase_model"]["params"]
        # Fader, Hardie & Lee (2005) note on Pareto/NBD: r=0.553, alpha=10.58, s=0.606, beta=11.67
        assert p["r"] == pytest.approx(0.553, abs=0.002)
        assert p["alpha"] == pytest.approx(10.58, abs=0.05)
        assert p["s"] == pytest.approx(0.606, abs=0.005)
        assert p["beta"] == pytest.approx(11.67, abs=0.1)
    finally:
        config.write_text(original)


def test_reingesting_adds_nothing(cdnow_ws: Path) -> None:
    proc = cvm(
        "ingest",
        "transactions",
        str(shared_file("CDNOW_sample.txt")),
        "--map",
        "examples/cdnow/sample-mapping.yaml",
        "-w",
        str(cdnow_ws),
        "--json",
    )
    summary = json.loads(proc.stdout)
    assert summary["inserted"] == 0 and summary["unchanged"] == 6919
