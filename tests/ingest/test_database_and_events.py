"""A PostgreSQL query as a source (streamed through psycopg), and the events and consents
tables: choices, referential policy, insert-if-absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvm.engine.sources import redact_url
from cvm.ingest import ingest, parse_mapping, show_quarantine
from cvm.workspace import Workspace


@pytest.mark.postgres
@pytest.mark.slow  # starts a PostgreSQL cluster; 60,001 rows cross two fetch batches
def test_postgres_query_streams_typed_values(workspace: Workspace, fresh_postgres_db: str) -> None:
    import psycopg

    with psycopg.connect(fresh_postgres_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE sales (id int, cust text, at timestamptz, total numeric(12,2), returned boolean)"
        )
        conn.execute(
            "INSERT INTO sales SELECT g, 'C' || (g % 7), timestamptz '2024-03-01 12:00+03' + g * interval '1 hour',"
            " CASE WHEN g = 13 THEN NULL ELSE g * 1.25 END, g % 10 = 0 FROM generate_series(1, 60001) g"
        )
    mapping = parse_mapping(
        {
            "columns": {
                "transaction_id": "id",
                "customer_id": "cust",
                "occurred_at": "at",
                "amount": "total",
                "is_return": "returned",
            }
        }
    )
    result = ingest(
        workspace,
        "transactions",
        mapping=mapping,
        query="SELECT id, cust, at, total, returned FROM sales ORDER BY id",
        url=fresh_postgres_db.replace("postgresql://", "postgresql+psycopg://"),
    )
    assert (result.read, result.accepted, result.quarantined, result.customers_created) == (
        60_001,
        60_000,
        1,
        7,
    )
    [refused] = show_quarantine(workspace.engine, result.run_id)
    assert (refused["row_number"], refused["column_name"]) == (13, "amount")
    first = workspace.engine.fetch_rows(
        "SELECT strftime(occurred_at, '%Y-%m-%d %H:%M'), amount::DOUBLE, is_return FROM transactions WHERE transaction_id = '10'"
    )
    assert first == [("2024-03-01 19:00", 12.5, True)]  # 12:00+03 plus 10 hours, in UTC
    label = workspace.engine.fetch_scalar("SELECT source FROM ingest_runs")
    assert label == redact_url(fresh_postgres_db.replace("postgresql://", "postgresql+psycopg://"))


def test_database_urls_lose_their_password_in_lineage() -> None:
    assert (
        redact_url("postgresql://ann:s3cret@db.example:5432/crm")
        == "postgresql://ann@db.example:5432/crm"
    )
    assert redact_url("sqlite:///crm.db") == "sqlite:///crm.db"


def test_events_choices_and_insert_if_absent(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"messageId": "e1", "type": "track", "event": "Order Completed", "timestamp": "2024-05-01T10:00:00Z", "properties": {"total": 3}}\n'
        '{"messageId": "e2", "type": "click", "event": "x", "timestamp": "2024-05-01T10:01:00Z"}\n'
        '{"messageId": "e3", "type": "page", "timestamp": "2024-05-01T10:02:00Z"}\n',
        encoding="utf-8",
    )
    mapping = parse_mapping(
        {"columns": {"event_id": "messageId", "name": "event", "occurred_at": "timestamp"}}
    )
    first = ingest(workspace, "events", path, mapping=mapping)
    assert (first.accepted, first.quarantined) == (2, 1)
    assert first.reasons == {"not one of track, identify, page, screen, group, alias, message": 1}
    props = workspace.engine.fetch_scalar(
        "SELECT properties->>'$.total' FROM events WHERE event_id = 'e1'"
    )
    assert props == "3"
    again = ingest(workspace, "events", path, mapping=mapping)
    assert (again.inserted, again.unchanged) == (0, 2)


def test_consents_for_unknown_customers_follow_the_policy(
    workspace: Workspace, tmp_path: Path
) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id\nC1\n", encoding="utf-8")
    ingest(workspace, "customers", customers)
    path = tmp_path / "consents.csv"
    path.write_text(
        "customer_id,channel,purpose,status,occurred_at\n"
        "C1,email,marketing,granted,2024-01-01 00:00:00\n"
        "C2,sms,marketing,denied,2024-01-02 00:00:00\n"
        "C1,email,marketing,maybe,2024-01-03 00:00:00\n",
        encoding="utf-8",
    )
    result = ingest(
        workspace, "consents", path, mapping=parse_mapping({"unknown_customer": "quarantine"})
    )
    assert (result.accepted, result.quarantined) == (1, 2)
    refused = sorted(
        (r["row_number"], r["reason"]) for r in show_quarantine(workspace.engine, result.run_id)
    )
    assert refused == [(3, "unknown customer_id"), (4, "not one of granted, denied")]


def test_row_rules_quarantine_csat_out_of_range_with_the_line(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A contract's row rule (CSAT is 1-5 while the score column allows 0-10 for NPS) refuses
    the row during validation, naming its line; NPS 0 stays valid."""
    path = tmp_path / "responses.csv"
    path.write_text(
        "response_id,customer_id,survey,score,responded_at\n"
        "R1,C1,nps,0,2024-11-01 10:00:00\n"
        "R2,C2,csat,0,2024-11-02 10:00:00\n"
        "R3,C3,csat,5,2024-11-03 10:00:00\n"
        "R4,C4,nps,11,2024-11-03 10:00:00\n",
        encoding="utf-8",
    )
    run = ingest(workspace, "survey_responses", path)
    assert (run.read, run.accepted, run.quarantined) == (4, 2, 2)
    assert run.reasons == {"CSAT score outside 1-5": 1, "above maximum 10": 1}
    rows = show_quarantine(workspace.engine, run.run_id)
    lines = {r["reason"]: (r["row_number"], r["column_name"]) for r in rows}
    assert lines == {
        "CSAT score outside 1-5": (3, "score"),
        "above maximum 10": (5, "score"),
    }  # file lines
