"""Customers from every kind of source land identically; upserts update only what changed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cvm.core.errors import UserInputError
from cvm.ingest import ingest, parse_mapping, show_quarantine
from cvm.workspace import Workspace

ROWS = [
    {
        "customer_id": "C1",
        "email": "Ann@Example.com",
        "country": "GB",
        "latitude": "51.5",
        "signup_date": "2024-01-02 10:00:00",
    },
    {
        "customer_id": "C2",
        "email": "bob@example.com",
        "country": "DE",
        "latitude": "52.5",
        "signup_date": "2024-02-03T08:30:00+02:00",
    },
    {
        "customer_id": "C3",
        "email": None,
        "country": "FR",
        "latitude": "123",
        "signup_date": "2024-03-04",
    },
]
EXPECTED = [
    ("C1", "ann@example.com", "GB", 51.5, "2024-01-02 10:00:00"),
    ("C2", "bob@example.com", "DE", 52.5, "2024-02-03 06:30:00"),  # offset converted to UTC
]


def _stored(ws: Workspace) -> list[tuple[object, ...]]:
    return ws.engine.fetch_rows(
        "SELECT customer_id, email, country, latitude, strftime(signup_date, '%Y-%m-%d %H:%M:%S') "
        "FROM customers ORDER BY customer_id"
    )


def _csv(path: Path, rows: list[dict[str, str | None]]) -> Path:
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(r[c] or "" for c in header) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check(ws: Workspace, result_read: int, accepted: int, run: str) -> None:
    assert (result_read, accepted) == (3, 2)
    assert _stored(ws) == EXPECTED
    [refused] = show_quarantine(ws.engine, run)
    assert (refused["column_name"], refused["reason"]) == ("latitude", "above maximum 90")


def test_csv(workspace: Workspace, tmp_path: Path) -> None:
    result = ingest(workspace, "customers", _csv(tmp_path / "c.csv", ROWS))
    _check(workspace, result.read, result.accepted, result.run_id)
    [refused] = show_quarantine(workspace.engine, result.run_id)
    assert refused["row_number"] == 4


def test_parquet(workspace: Workspace, tmp_path: Path) -> None:
    table = pa.Table.from_pylist(ROWS)
    table = table.set_column(3, "latitude", pa.array([51.5, 52.5, 123.0]))
    pq.write_table(table, tmp_path / "c.parquet")
    result = ingest(workspace, "customers", tmp_path / "c.parquet")
    _check(workspace, result.read, result.accepted, result.run_id)
    [refused] = show_quarantine(workspace.engine, result.run_id)
    assert refused["row_number"] == 3  # Parquet has no header: the row's 1-based position
    assert json.loads(refused["raw"])["customer_id"] == "C3"


def test_json_lines_with_a_broken_line(workspace: Workspace, tmp_path: Path) -> None:
    lines = [json.dumps({**r, "latitude": float(r["latitude"] or 0)}) for r in ROWS]
    lines.insert(1, "{not json")
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(workspace, "customers", tmp_path / "c.jsonl")
    assert (result.read, result.accepted, result.quarantined) == (4, 2, 2)
    assert _stored(workspace) == EXPECTED
    refused = {
        r["row_number"]: r["reason"] for r in show_quarantine(workspace.engine, result.run_id)
    }
    assert refused == {2: "invalid JSON", 4: "above maximum 90"}


def test_folder_of_mixed_files(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    _csv(folder / "a.csv", ROWS[:1])
    (folder / "b.jsonl").write_text(
        json.dumps({**ROWS[1], "latitude": 52.5}) + "\n", encoding="utf-8"
    )
    _csv(folder / "c.csv", ROWS[2:])
    (folder / ".hidden.csv").write_text("garbage", encoding="utf-8")
    result = ingest(workspace, "customers", folder)
    _check(workspace, result.read, result.accepted, result.run_id)
    [refused] = show_quarantine(workspace.engine, result.run_id)
    assert (refused["source"], refused["row_number"]) == (str(folder / "c.csv"), 2)
    sources = workspace.engine.fetch_rows("SELECT customer_id, _source FROM customers ORDER BY 1")
    assert sources == [("C1", str(folder / "a.csv")), ("C2", str(folder / "b.jsonl"))]


def test_sqlite_query(workspace: Workspace, tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (id TEXT, mail TEXT, country TEXT, lat REAL, since TEXT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?)", [tuple(r.values()) for r in ROWS]
        )
    mapping = parse_mapping(
        {
            "columns": {
                "customer_id": "id",
                "email": "mail",
                "latitude": "lat",
                "signup_date": "since",
            }
        }
    )
    result = ingest(
        workspace,
        "customers",
        mapping=mapping,
        query="SELECT id, mail, country, lat, since FROM people ORDER BY id",
        url=f"sqlite:///{db}",
    )
    _check(workspace, result.read, result.accepted, result.run_id)
    with pytest.raises(UserInputError, match="the query failed"):
        ingest(workspace, "customers", query="SELECT * FROM nowhere", url=f"sqlite:///{db}")


def test_whitespace_file_without_header(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("  C1   GB\nC2 DE\n\nC3 FR extra\n", encoding="utf-8")
    mapping = parse_mapping(
        {"source": {"format": "whitespace", "columns": ["customer_id", "country"]}}
    )
    result = ingest(workspace, "customers", path, mapping=mapping)
    assert (result.read, result.accepted) == (3, 2)
    [refused] = show_quarantine(workspace.engine, result.run_id)
    assert (refused["row_number"], refused["reason"], refused["raw"]) == (
        4,
        "too many columns",
        "C3 FR extra",
    )


def test_upsert_updates_changed_values_and_never_erases(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest(workspace, "customers", _csv(tmp_path / "v1.csv", ROWS[:2]))
    changed = [
        {"customer_id": "C1", "email": None, "country": "IE"},  # new country, blank email
        {"customer_id": "C2", "email": "bob@example.com", "country": "DE"},  # as stored
        {"customer_id": "C4", "email": "new@example.com", "country": "US"},
    ]
    result = ingest(workspace, "customers", _csv(tmp_path / "v2.csv", changed))
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    rows = workspace.engine.fetch_rows(
        "SELECT customer_id, email, country FROM customers ORDER BY 1"
    )
    assert rows == [
        ("C1", "ann@example.com", "IE"),  # the blank did not erase the stored e-mail
        ("C2", "bob@example.com", "DE"),
        ("C4", "new@example.com", "US"),
    ]


def test_customer_stub_is_completed_by_a_later_customers_file(
    workspace: Workspace, tmp_path: Path
) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(
        "transaction_id,customer_id,occurred_at,amount\nT1,C1,2024-01-05,10\n", encoding="utf-8"
    )
    assert ingest(workspace, "transactions", orders).customers_created == 1
    result = ingest(workspace, "customers", _csv(tmp_path / "c.csv", ROWS[:1]))
    assert (result.inserted, result.updated) == (0, 1)
    assert _stored(workspace) == EXPECTED[:1]


def test_mixed_line_ends(workspace: Workspace, tmp_path: Path) -> None:
    """Concatenated exports mix CRLF and LF: line-mode formats read them; DuckDB's strict CSV
    parser cannot, so a CSV fails with one sentence and changes nothing."""
    text = tmp_path / "c.txt"
    text.write_bytes(b"customer_id country\r\nC1 GB\r\nC2 DE\nC3 FR\r\n")
    assert ingest(workspace, "customers", text).accepted == 3
    mixed = tmp_path / "c.csv"
    mixed.write_bytes(b"customer_id,country\r\nC4,GB\r\nC5,DE\nC6,FR\r\n")
    with pytest.raises(UserInputError, match="mixed"):
        ingest(workspace, "customers", mixed)
    assert workspace.engine.fetch_scalar("SELECT count(*) FROM customers") == 3


def test_header_only_file_and_progress_callback(workspace: Workspace, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,country\n", encoding="utf-8")
    steps: list[tuple[str, float, float]] = []
    result = ingest(workspace, "customers", empty, progress=lambda *step: steps.append(step))
    assert (result.read, result.accepted, result.quarantined, result.inserted) == (0, 0, 0, 0)
    assert steps[0][0].startswith("reading") and steps[-1][0] == "done"
    assert workspace.engine.fetch_scalar("SELECT rows_read FROM ingest_runs") == 0
