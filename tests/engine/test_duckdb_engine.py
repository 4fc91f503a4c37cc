from __future__ import annotations

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.contracts import TRANSACTIONS
from cvm.core.hashing import bucket_sql, stable_bucket
from cvm.engine.base import count_rows
from cvm.engine.duckdb_engine import DuckDBEngine


def test_write_append_and_fetch_roundtrip() -> None:
    engine = DuckDBEngine()
    data = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})
    assert engine.write_arrow("t", data) == 3
    assert engine.write_arrow("t", pa.table({"b": ["z"], "a": [4]})) == 1  # by name, any order
    out = engine.fetch_arrow("SELECT a, b FROM t ORDER BY a")
    assert out.column("a").to_pylist() == [1, 2, 3, 4]
    assert out.column("b").to_pylist() == ["x", "y", None, "z"]
    assert engine.fetch_scalar(count_rows("t")) == 4


def test_replace_mode_overwrites() -> None:
    engine = DuckDBEngine()
    engine.write_arrow("t", pa.table({"a": [1, 2]}))
    engine.write_arrow("t", pa.table({"a": [9]}), mode="replace")
    assert engine.fetch_rows("SELECT a FROM t") == [(9,)]


def test_ensure_table_uses_contract_types() -> None:
    engine = DuckDBEngine()
    engine.ensure_table(TRANSACTIONS)
    engine.ensure_table(TRANSACTIONS)  # idempotent
    types = dict(
        engine.fetch_rows(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'transactions'"
        )
    )
    assert types["amount"] == "DECIMAL(18,4)"  # money is never a binary float
    assert types["occurred_at"] == "TIMESTAMP"


def test_bucket_sql_matches_python_on_duckdb() -> None:
    engine = DuckDBEngine()
    ids = [f"c{i}" for i in range(200)]
    engine.write_arrow("ids", pa.table({"id": ids}))
    query = exp.select(
        exp.column("id"), bucket_sql("salt-1", exp.column("id"), "duckdb").as_("b")
    ).from_("ids")
    got = dict(engine.fetch_rows(query))
    for cid in ids:
        assert got[cid] == stable_bucket("salt-1", cid)
    # roughly uniform: a share of 0.3 selects about 30%
    share = sum(1 for v in got.values() if v < 0.3) / len(ids)
    assert 0.2 < share < 0.4
