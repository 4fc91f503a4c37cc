"""Small hand-made warehouses for the loyalty tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from cvm.engine.base import Engine
from cvm.state.loyalty_ledger import LoyaltyLedger
from cvm.workspace import Workspace, init_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = init_workspace(tmp_path / "ws")
    try:
        yield workspace
    finally:
        workspace.close()


def add_lines(engine: Engine, rows: list[tuple[str, str, str, float, str, str]]) -> None:
    """(transaction_id, customer_id, 'YYYY-mm-dd HH:MM', amount, category, channel) lines."""
    engine.write_arrow(
        "transactions",
        pa.table(
            {
                "transaction_id": [r[0] for r in rows],
                "line_id": [str(i) for i in range(len(rows))],
                "customer_id": [r[1] for r in rows],
                "occurred_at": pa.array(
                    [dt.datetime.fromisoformat(r[2]) for r in rows], pa.timestamp("us")
                ),
                "amount": pa.array([Decimal(str(r[3])) for r in rows], pa.decimal128(18, 4)),
                "category": [r[4] for r in rows],
                "channel": [r[5] for r in rows],
                "is_return": [r[3] < 0 for r in rows],
            }
        ),
    )


def add_customers(engine: Engine, births: dict[str, dt.date | None]) -> None:
    engine.write_arrow(
        "customers",
        pa.table(
            {
                "customer_id": list(births),
                "birth_date": pa.array(list(births.values()), pa.date32()),
            }
        ),
    )


def members_table(enrolled: dict[str, str]) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array(list(enrolled), pa.string()),
            "enrolled_at": pa.array(
                [dt.datetime.fromisoformat(v) for v in enrolled.values()], pa.timestamp("us")
            ),
        }
    )


PROGRAMME = {
    "name": "Test Rewards",
    "point_value": 0.01,
    "expiry": {"months_after_earn": 12},
    "earn": {"points_per_unit": 1},
    "tiers": {
        "basis": "spend",
        "window_months": 12,
        "grace_months": 2,
        "levels": [
            {"name": "member", "threshold": 0},
            {"name": "gold", "threshold": 500, "benefits": {"earn_multiplier": 2}},
        ],
    },
}


def write_programme(root: Path, data: dict = PROGRAMME) -> None:
    (root / "loyalty.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    add_customers(ws.engine, {"a": None, "b": None, "c": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-01-10 10:00", 300, "books", "web"),
            ("T2", "a", "2024-02-10 10:00", 300, "books", "web"),  # gold from here: ×2
            ("T3", "a", "2024-03-10 10:00", 100, "books", "web"),
            ("T4", "b", "2024-01-15 10:00", 50, "books", "web"),
            ("R4", "b", "2024-01-20 10:00", -20, "books", "web"),
            ("T5", "c", "2024-01-15 10:00", 999, "books", "web"),  # not a member
        ],
    )
    write_programme(ws.root)
    ledger = LoyaltyLedger(ws.state)
    ledger.enroll("a", dt.datetime(2024, 1, 1))
    ledger.enroll("b", dt.datetime(2024, 1, 1))
    return ws
