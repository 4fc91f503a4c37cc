"""Small hand-made warehouses for the loyalty tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from cvm.engine.base import Engine
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
