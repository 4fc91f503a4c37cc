"""A CSV salted with every kind of bad row: each is quarantined with the right reason and line,
and no good row is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvm.ingest import ingest, parse_mapping, show_quarantine
from cvm.workspace import Workspace

# Line numbers as an editor shows them (header = line 1). Line 7-8 is one record with a quoted
# newline, line 12 is blank: both shift every later line, which the quarantine must follow.
LINES = [
    b"order_id,line,customer,date,amount,qty,note",  # 1
    b"T1,1,C1,2024-01-05,10.50,1,ok",  # 2 good
    b"T2,1,C2,2024-13-40,5.00,1,bad date",  # 3
    b"T3,1,,2024-01-06,7.00,1,missing customer",  # 4
    b"T4,1,C3,2024-01-07,abc,1,text amount",  # 5
    b"T1,1,C1,2024-01-05,10.50,1,duplicate of line 2",  # 6
    b'T5,1,C4,2024-01-08,3.00,1,"multi',  # 7 good (spans 7-8)
    b'line note"',  # 8
    b"T6,1,C5,2024-01-09,4.00,1,caf\xe9",  # 9 Latin-1 byte
    b"T7,1,C6,2024-01-10,6.00,1,x,extra",  # 10
    b"T8,1,C7,2024-01-11,-6.00,-1,a return",  # 11 good, a return
    b"",  # 12 blank
    b",1,C8,2024-01-12,1.00,1,missing order id",  # 13
    b"T9,1,C9,2024-01-13,2.00,1,ok",  # 14 good
    b"T3,1,C1,2024-01-14,1.00,x,text quantity",  # 15 (T3 of line 4 was refused: no duplicate)
    b"T10,1,C1,,1.00,1,missing date",  # 16
    b"T11,1,C1,bad,bad,1,two problems",  # 17
]

MAPPING = {
    "table": "transactions",
    "columns": {
        "transaction_id": "order_id",
        "line_id": "line",
        "customer_id": "customer",
        "occurred_at": "date",
        "amount": "amount",
        "quantity": "qty",
    },
}

EXPECTED = [
    (3, "occurred_at", "not a timestamp (ISO 8601)"),
    (4, "customer_id", "missing required value"),
    (5, "amount", "not a number (or out of range)"),
    (6, "transaction_id, line_id", "duplicate transaction_id, line_id (first occurrence kept)"),
    (9, "", "invalid UTF-8"),
    (10, "", "too many columns"),
    (13, "transaction_id", "missing required value"),
    (15, "quantity", "not a number (or out of range)"),
    (16, "occurred_at", "missing required value"),
    (17, "amount", "not a number (or out of range)"),
    (17, "occurred_at", "not a timestamp (ISO 8601)"),
]


@pytest.fixture
def salted(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    return path


def _quarantine(ws: Workspace, run: str) -> list[tuple[int, str, str]]:
    rows = show_quarantine(ws.engine, run, limit=100)
    return sorted((r["row_number"], r["column_name"], r["reason"]) for r in rows)


def test_every_bad_row_is_quarantined_with_reason_and_line(
    workspace: Workspace, salted: Path
) -> None:
    result = ingest(workspace, "transactions", salted, mapping=parse_mapping(MAPPING))
    assert (result.read, result.accepted, result.quarantined) == (14, 4, 10)
    assert result.read == result.accepted + result.quarantined
    assert (result.inserted, result.updated, result.unchanged) == (4, 0, 0)
    assert result.customers_created == 4  # C1, C4, C7, C9: only customers of accepted rows
    assert _quarantine(workspace, result.run_id) == EXPECTED
    assert result.reasons["missing required value"] == 3
    assert result.reasons["not a number (or out of range)"] == 3

    stored = workspace.engine.fetch_rows(
        "SELECT transaction_id, customer_id, amount, quantity, is_return FROM transactions ORDER BY transaction_id"
    )
    got = [(t, c, float(a), float(q), r) for t, c, a, q, r in stored]  # type: ignore[arg-type]
    assert got == [
        ("T1", "C1", 10.5, 1.0, False),
        ("T5", "C4", 3.0, 1.0, False),
        ("T8", "C7", -6.0, -1.0, True),  # a negative quantity is a return, not an error
        ("T9", "C9", 2.0, 1.0, False),
    ]


def test_raw_rows_and_sources_are_kept(workspace: Workspace, salted: Path) -> None:
    result = ingest(workspace, "transactions", salted, mapping=parse_mapping(MAPPING))
    rows = {
        (r["row_number"], r["column_name"]): r
        for r in show_quarantine(workspace.engine, result.run_id, 100)
    }
    assert rows[(5, "amount")]["raw"] == "T4,1,C3,2024-01-07,abc,1,text amount"
    assert rows[(10, "")]["raw"] == "T7,1,C6,2024-01-10,6.00,1,x,extra"
    assert rows[(6, "transaction_id, line_id")]["raw"].startswith('{"transaction_id":"T1"')
    assert {r["source"] for r in rows.values()} == {str(salted)}
    runs = workspace.engine.fetch_rows(
        "SELECT rows_read, rows_accepted, rows_quarantined, rows_inserted FROM ingest_runs"
    )
    assert runs == [(14, 4, 10, 4)]


def test_declared_latin1_reads_the_accented_row(workspace: Workspace, salted: Path) -> None:
    mapping = parse_mapping({**MAPPING, "source": {"encoding": "latin-1"}})
    result = ingest(workspace, "transactions", salted, mapping=mapping)
    assert (result.read, result.accepted, result.quarantined) == (14, 5, 9)
    assert "invalid UTF-8" not in result.reasons
    assert (
        workspace.engine.fetch_scalar(
            "SELECT count(*) FROM transactions WHERE transaction_id = 'T6'"
        )
        == 1
    )


def test_reingesting_adds_nothing_and_a_newer_file_adds_only_new_rows(
    workspace: Workspace, salted: Path, tmp_path: Path
) -> None:
    mapping = parse_mapping(MAPPING)
    ingest(workspace, "transactions", salted, mapping=mapping)
    again = ingest(workspace, "transactions", salted, mapping=mapping)
    assert (again.inserted, again.unchanged, again.customers_created) == (0, 4, 0)
    newer = tmp_path / "newer.csv"
    newer.write_bytes(
        b"\n".join([LINES[0], LINES[1], LINES[13], b"T12,1,C1,2024-02-01,9.99,2,new"]) + b"\n"
    )
    appended = ingest(workspace, "transactions", newer, mapping=mapping)
    assert (appended.read, appended.inserted, appended.unchanged) == (3, 1, 2)
    assert workspace.engine.fetch_scalar("SELECT count(*) FROM transactions") == 5


def test_policies_from_the_mapping(workspace: Workspace, salted: Path) -> None:
    mapping = parse_mapping(
        {**MAPPING, "unknown_customer": "quarantine", "negative_quantity": "error"}
    )
    result = ingest(workspace, "transactions", salted, mapping=mapping)
    # T8 (negative quantity) is now refused, and with no customers stored every other good row
    # names an unknown customer.
    assert (result.accepted, result.quarantined, result.customers_created) == (0, 14, 0)
    assert result.reasons["unknown customer_id"] == 3
    assert result.reasons["negative quantity (returns refused by settings)"] == 1
