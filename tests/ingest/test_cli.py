"""`cvm ingest` and `cvm quarantine` as a user runs them: exit codes, one-sentence errors,
nothing changed on failure, JSON that reconciles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cvm.cli.app import main
from cvm.workspace import Workspace

ORDERS = (
    "order,customer,day,total\nA1,C1,2024-01-05,10.5\nA2,C2,2024-01-06,oops\nA3,C1,2024-01-07,3\n"
)
MAPPING = """\
table: transactions
columns:
  transaction_id: order
  customer_id: customer
  occurred_at: {from: day, format: "%Y-%m-%d"}
  amount: total
"""


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


def _state(ws: Workspace) -> tuple[object, ...]:
    return tuple(
        ws.engine.fetch_scalar(f"SELECT count(*) FROM {t}")  # noqa: S608 - constant table names
        for t in ("transactions", "customers", "quarantine", "ingest_runs")
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "map.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path / "orders.csv", tmp_path / "map.yaml"


def test_json_summary_reconciles(
    workspace: Workspace,
    files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, mapping = files
    args = [
        "ingest",
        "transactions",
        str(source),
        "--map",
        str(mapping),
        "--json",
        "-w",
        str(workspace.root),
    ]
    code, out, _ = run_cli(args, monkeypatch, capsys)
    data = json.loads(out)
    assert code == 0
    assert {
        "read",
        "accepted",
        "quarantined",
        "inserted",
        "updated",
        "unchanged",
        "customers_created",
        "run_id",
        "reasons",
    } <= set(data)
    assert (data["read"], data["accepted"], data["quarantined"]) == (3, 2, 1)
    assert data["read"] == data["accepted"] + data["quarantined"]
    assert data["reasons"] == {"not a number (or out of range)": 1}
    assert (data["inserted"], data["customers_created"]) == (2, 1)

    code, out, _ = run_cli(
        ["quarantine", "show", data["run_id"], "--json", "-w", str(workspace.root)],
        monkeypatch,
        capsys,
    )
    [row] = json.loads(out)
    assert (code, row["row_number"], row["column_name"], row["raw"]) == (
        0,
        3,
        "amount",
        "A2,C2,2024-01-06,oops",
    )
    code, out, _ = run_cli(
        ["quarantine", "list", "--json", "-w", str(workspace.root)], monkeypatch, capsys
    )
    assert [r["run"] for r in json.loads(out)] == [data["run_id"]]
    code, out, _ = run_cli(
        ["quarantine", "list", "--run", data["run_id"], "-w", str(workspace.root)],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "not a number" in out

    code, out, _ = run_cli(
        args[:-3] + ["-w", str(workspace.root)], monkeypatch, capsys
    )  # the table view
    assert code == 0 and "unchanged" in out and "cvm quarantine show" in out


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing file", "does not exist"),
        ("absent column", "column 'total_cents' is not in"),
        ("bad encoding", "encoding 'shift_jis' is not supported"),
        (
            "misspelt key",
            "mapping key 'columns.amount.multiplyy': unknown key (did you mean 'multiply'?)",
        ),
        ("wrong table", "is a mapping for transactions, not customers"),
        ("not yaml", "not valid YAML at line"),
    ],
)
def test_user_errors_exit_2_with_one_sentence_and_change_nothing(
    case: str,
    message: str,
    workspace: Workspace,
    files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, mapping = files
    ws = ["-w", str(workspace.root)]
    run_cli(
        ["ingest", "transactions", str(source), "--map", str(mapping), *ws], monkeypatch, capsys
    )
    before = _state(workspace)
    table = "transactions"
    if case == "missing file":
        source = tmp_path / "nope.csv"
    elif case == "absent column":
        mapping.write_text(
            MAPPING.replace("amount: total", "amount: total_cents"), encoding="utf-8"
        )
    elif case == "bad encoding":
        mapping.write_text(MAPPING + "source: {encoding: shift_jis}\n", encoding="utf-8")
    elif case == "misspelt key":
        mapping.write_text(
            MAPPING.replace("amount: total", "amount: {from: total, multiplyy: 0.01}"),
            encoding="utf-8",
        )
    elif case == "wrong table":
        table = "customers"
    else:
        mapping.write_text("columns: [unclosed\n", encoding="utf-8")
    code, out, err = run_cli(
        ["ingest", table, str(source), "--map", str(mapping), *ws], monkeypatch, capsys
    )
    assert code == 2
    assert message in err
    assert err.startswith("error: ") and err.strip().count("\n") == 0  # one sentence, no traceback
    assert _state(workspace) == before


def test_unknown_table_is_a_usage_error(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(
        ["ingest", "orders", "x.csv", "-w", str(workspace.root)], monkeypatch, capsys
    )
    assert code == 2
