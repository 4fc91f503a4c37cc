"""The real CDNOW files (Fader & Hardie 2001) ingest and reconcile to their published counts."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

from cvm.ingest import ingest, parse_mapping
from cvm.workspace import Workspace
from tests.conftest import shared_file

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "cdnow" / "mapping.yaml"


def test_cdnow_master_reconciles_and_reingests_to_nothing(workspace: Workspace) -> None:
    path = shared_file("CDNOW_master.txt")
    result = ingest(workspace, "transactions", path, mapping=MAPPING)
    assert (result.read, result.accepted, result.quarantined) == (69_659, 69_659, 0)
    assert (result.inserted, result.customers_created) == (69_659, 23_570)

    lines = path.read_text(encoding="ascii").split("\n")[1:]
    fields = [line.split() for line in lines if line.strip()]
    revenue = sum(Decimal(f[3]) for f in fields)
    assert workspace.engine.fetch_scalar("SELECT sum(amount) FROM transactions") == revenue
    # Identical repeated lines are distinct purchases: the derived ids keep every one.
    repeats = sum(n - 1 for n in Counter(tuple(f) for f in fields).values() if n > 1)
    assert repeats > 0
    assert (
        workspace.engine.fetch_scalar("SELECT count(DISTINCT transaction_id) FROM transactions")
        == 69_659
    )
    first = workspace.engine.fetch_rows(
        "SELECT signup_date::DATE::VARCHAR FROM customers WHERE customer_id = '00002'"
    )
    assert first == [("1997-01-12",)]  # the stub's signup date is its first purchase

    again = ingest(workspace, "transactions", path, mapping=MAPPING)
    assert (again.read, again.inserted, again.unchanged, again.customers_created) == (
        69_659,
        0,
        69_659,
        0,
    )
    assert workspace.engine.fetch_scalar("SELECT count(*) FROM transactions") == 69_659


def test_cdnow_sample_without_header(workspace: Workspace) -> None:
    mapping = parse_mapping(
        {
            "source": {
                "format": "whitespace",
                "columns": ["master_id", "sample_id", "date", "cds", "amount"],
            },
            "columns": {
                "transaction_id": {"derive": "row_hash"},
                "customer_id": {"from": "sample_id", "zero_pad": 4},
                "occurred_at": {"from": "date", "format": "%Y%m%d"},
                "quantity": "cds",
            },
        }
    )
    result = ingest(workspace, "transactions", shared_file("CDNOW_sample.txt"), mapping=mapping)
    assert (result.read, result.accepted, result.customers_created) == (6_919, 6_919, 2_357)
    assert workspace.engine.fetch_scalar("SELECT min(customer_id) FROM customers") == "0001"
