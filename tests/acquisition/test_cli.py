"""`cvm acquisition summary` as a user runs it: tables, JSON, warnings, one-sentence errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cvm.cli.app import main
from cvm.workspace import Workspace
from tests.acquisition.tiny import load_tiny


def run_cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["cvm", *args])
    code = 0
    try:
        main()
    except SystemExit as done:
        code = int(done.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _args(ws: Workspace, *more: str) -> list[str]:
    return ["acquisition", "summary", "-w", str(ws.root), "--as-of", "2024-03-31", *more]


def test_json_by_cohort(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_tiny(workspace.engine)
    workspace.close()  # the command opens the warehouse itself
    code, out, _ = run_cli(_args(workspace, "--margin-rate", "0.5", "--json"), monkeypatch, capsys)
    assert code == 0
    data = json.loads(out)
    assert data["margin_rate"] == 0.5
    jan = [c for c in data["cohorts"] if c["channel"] == "search" and c["cohort"] == "2024-01"]
    assert jan[0]["cac"] == 50.0 and jan[0]["payback_months"] == 3
    assert data["totals"]["paid_cac"] == 80.0
    assert any("tiktok" in w for w in data["warnings"])


def test_table_by_channel_with_warnings(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_tiny(workspace.engine)
    workspace.close()
    code, out, err = run_cli(_args(workspace, "--margin-rate", "0.5"), monkeypatch, capsys)
    assert code == 0
    assert "By acquisition channel" in out and "blended CAC" in out
    assert "search" in out and "70.00" in out and "unpaid" in out
    assert "warning:" in err and "tiktok" in err
    code, out, _ = run_cli(_args(workspace, "--by", "cohort"), monkeypatch, capsys)
    assert code == 0 and "By channel × signup month" in out and "tiktok" in out


def test_currency_mismatch_is_one_sentence_and_exit_2(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_tiny(workspace.engine, spend_currency="EUR")
    workspace.close()
    code, out, err = run_cli(_args(workspace), monkeypatch, capsys)
    assert code == 2 and out == ""
    assert "error: marketing_spend: 4 row(s) not in the workspace currency USD" in err
    assert "Traceback" not in err


def test_bad_margin_rate_is_refused(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_tiny(workspace.engine)
    workspace.close()
    code, _, err = run_cli(_args(workspace, "--margin-rate", "1.5"), monkeypatch, capsys)
    assert code == 2 and "--margin-rate" in err


CUSTOMERS_CSV = """customer_id,signup_date,acquisition_channel
s1,2024-01-05,search
s2,2024-01-20,search
s3,2024-02-10,search
o1,2024-01-07,organic
"""
TRANSACTIONS_CSV = """transaction_id,customer_id,occurred_at,amount,currency
t1,s1,2024-01-05,40,USD
t2,s1,2024-02-11,60,USD
t3,s1,2024-03-30,40,USD
t4,s2,2024-01-21,20,USD
t5,s2,2024-02-02,40,USD
t6,s3,2024-02-10,50,USD
t7,s3,2024-03-01,30,USD
t8,o1,2024-01-08,100,USD
"""
SPEND_CSV = """month,acquisition_channel,amount,currency
2024-01-01,search,100,USD
2024-02-01,search,60,USD
2024-03-01,search,50,USD
2024-02-01,tiktok,30,USD
"""


@pytest.mark.slow  # three real ingestion runs
def test_worked_example_from_files(
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The worked example of docs/acquisition.md, from CSV files through `cvm ingest`."""
    workspace.close()
    for table, text in (
        ("customers", CUSTOMERS_CSV),
        ("transactions", TRANSACTIONS_CSV),
        ("marketing_spend", SPEND_CSV),
    ):
        path = tmp_path / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        code, _, err = run_cli(
            ["ingest", table, str(path), "-w", str(workspace.root), "--json"], monkeypatch, capsys
        )
        assert code == 0, err
    code, out, _ = run_cli(_args(workspace, "--margin-rate", "0.5", "--json"), monkeypatch, capsys)
    assert code == 0
    data = json.loads(out)
    cohorts = {(c["channel"], c["cohort"]): c for c in data["cohorts"]}
    assert cohorts[("search", "2024-01")]["cac"] == 50.0
    assert cohorts[("search", "2024-01")]["payback"] == "month 3"
    assert cohorts[("search", "2024-02")]["payback"] == "not yet"  # no CLV before cvm value
    assert data["totals"]["blended_cac"] == 60.0 and data["totals"]["paid_cac"] == 80.0
    assert any("run cvm value first" in w for w in data["warnings"])
