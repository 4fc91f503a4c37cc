"""The Spark engine's own behaviour: Engine protocol, money round trips, the lake's rewrites
(CREATE OR REPLACE, DELETE, UPDATE, temporary tables) and reopening a lake after a restart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cvm.engine.base import Engine
from cvm.engine.sql import bind

pytestmark = pytest.mark.spark


@pytest.fixture
def spark_engine(spark_session: Any, tmp_path: Path) -> Any:
    from cvm.engine.spark_engine import SparkEngine, new_database_name

    return SparkEngine(
        lake_path=tmp_path / "lake", database=new_database_name(), session=spark_session
    )


MONEY = pa.decimal128(18, 4)


def _money_table() -> pa.Table:
    return pa.table(
        {
            "id": ["a", "b", "c"],
            "amount": pa.array([Decimal("12345678901234.5678"), Decimal("-0.0001"), None], MONEY),
            "at": pa.array([dt.datetime(2024, 1, 1, 23, 59, 59), None, dt.datetime(2024, 6, 1)]),
            "note": ["x", None, ""],
        }
    )


def test_is_an_engine_and_money_round_trips(spark_engine: Any) -> None:
    assert isinstance(spark_engine, Engine)
    assert spark_engine.write_arrow("money", _money_table()) == 3
    back = spark_engine.fetch_arrow("SELECT * FROM money ORDER BY id")
    assert back.schema.field("amount").type == MONEY
    assert back.to_pylist() == _money_table().to_pylist()  # NULL strings stay NULL, not 'NaN'
    total = spark_engine.fetch_scalar("SELECT sum(amount) FROM money")
    assert total == Decimal("12345678901234.5677")


def test_append_by_name_replace_and_parameters(spark_engine: Any) -> None:
    spark_engine.write_arrow("t", pa.table({"k": [1, 2], "v": ["a", "b"]}))
    spark_engine.write_arrow("t", pa.table({"v": ["c"], "k": [3]}))  # columns by name
    spark_engine.write_arrow("t", pa.table({"k": [4]}))  # an omitted column is NULL
    rows = spark_engine.fetch_rows("SELECT k, v FROM t ORDER BY k")
    assert rows == [(1, "a"), (2, "b"), (3, "c"), (4, None)]
    assert spark_engine.fetch_scalar("SELECT count(*) FROM t WHERE k > ?", [1]) == 3
    spark_engine.write_arrow("t", pa.table({"k": [9]}), mode="replace")
    assert spark_engine.table_columns("t") == ["k"]


def test_rewrites_parquet_tables_cannot_do_natively(spark_engine: Any) -> None:
    spark_engine.write_arrow("t", pa.table({"k": [1, 2, 3, None], "v": ["a", "b", "c", "d"]}))
    spark_engine.execute("CREATE OR REPLACE TABLE t AS SELECT k, v FROM t WHERE v <> 'c'")
    spark_engine.execute(bind("DELETE FROM t WHERE k = :k", k=1))
    spark_engine.execute("UPDATE t SET v = 'z' WHERE k = 2")
    assert spark_engine.fetch_rows("SELECT k, v FROM t ORDER BY v") == [(None, "d"), (2, "z")]
    spark_engine.execute("BEGIN TRANSACTION")
    spark_engine.execute("CREATE OR REPLACE TEMP TABLE tmp AS SELECT k FROM t WHERE k IS NOT NULL")
    spark_engine.execute("COMMIT")
    assert spark_engine.fetch_scalar("SELECT count(*) FROM tmp") == 1
    spark_engine.execute("DROP TABLE IF EXISTS tmp")
    assert not spark_engine.table_exists("tmp")


def test_lake_is_reopened_after_a_restart(spark_session: Any, tmp_path: Path) -> None:
    from cvm.engine.spark_engine import SparkEngine, new_database_name

    database = new_database_name()
    first = SparkEngine(lake_path=tmp_path / "lake", database=database, session=spark_session)
    first.write_arrow("money", _money_table())
    first.execute("CREATE TABLE IF NOT EXISTS unused (k BIGINT, at TIMESTAMP, v DECIMAL(18,4))")
    first.execute("CREATE VIEW big_money AS SELECT id, amount FROM money WHERE amount > 1")
    first.execute("CREATE OR REPLACE VIEW big_money AS SELECT id FROM money WHERE amount > 1")
    first.execute("CREATE VIEW gone AS SELECT id FROM money")
    first.execute("DROP VIEW gone")
    # A new session's in-memory catalog knows nothing: drop the registrations, keep the files.
    spark_session.sql(f"DROP VIEW `{database}`.`big_money`")
    spark_session.sql(f"DROP TABLE `{database}`.`money`")
    spark_session.sql(f"DROP TABLE `{database}`.`unused`")
    assert not first.table_exists("money") and not first.table_exists("big_money")
    second = SparkEngine(lake_path=tmp_path / "lake", database=database, session=spark_session)
    assert second.table_exists("money")
    assert second.fetch_arrow("SELECT * FROM money ORDER BY id").to_pylist() == (
        _money_table().to_pylist()
    )
    # Views come back too, with their latest definition; a dropped view stays dropped.
    assert second.fetch_rows("SELECT * FROM big_money") == [("a",)]
    assert not second.table_exists("gone")
    # A table never written to comes back too, with its declared types.
    assert second.fetch_arrow("SELECT * FROM unused").schema == pa.schema(
        [("k", pa.int64()), ("at", pa.timestamp("us")), ("v", MONEY)]
    )


def test_workspace_factory_opens_spark(spark_session: Any, tmp_path: Path) -> None:
    from cvm.engine.factory import open_engine
    from cvm.engine.spark_engine import SparkEngine
    from cvm.workspace.settings import WarehouseSection

    engine = open_engine(WarehouseSection(engine="spark", lake_path="lake"), tmp_path)
    assert isinstance(engine, SparkEngine)
    assert engine.lake.root == str(tmp_path / "lake")


def test_update_from_and_delete_using_match_duckdb(spark_engine: Any) -> None:
    from cvm.engine.duckdb_engine import DuckDBEngine

    duck = DuckDBEngine()
    target = pa.table(
        {"k": [1, 2, 3, None], "v": [10.0, 20.0, 30.0, 40.0], "n": ["a", "b", "c", "d"]}
    )
    source = pa.table({"k": [2, 3, 5], "v": [200.0, None, 500.0]})
    statements = [
        "UPDATE t SET v = s.v, n = 'x' FROM src AS s WHERE t.k = s.k AND t.n <> 'c'",
        "DELETE FROM t USING src p WHERE t.k = p.k AND p.v > 400",
        "DELETE FROM t USING src p WHERE t.k = p.k AND p.v IS NULL",
    ]
    results = []
    for engine in (spark_engine, duck):
        engine.write_arrow("t", target)
        engine.register_arrow("src", source)
        rows = []
        for statement in statements:
            engine.execute(statement)
            rows.append(engine.fetch_rows("SELECT k, v, n FROM t ORDER BY k NULLS LAST"))
        results.append(rows)
    assert results[0] == results[1]
    assert results[1][0] == [(1, 10.0, "a"), (2, 200.0, "x"), (3, 30.0, "c"), (None, 40.0, "d")]
    with pytest.raises(ValueError, match="several source rows"):
        spark_engine.register_arrow("dup", pa.table({"k": [1, 1], "v": [1.0, 2.0]}))
        spark_engine.execute("UPDATE t SET v = d.v FROM dup d WHERE t.k = d.k")
    duck.close()


def test_information_schema_reads_as_on_duckdb(spark_engine: Any) -> None:
    from cvm.engine.duckdb_engine import DuckDBEngine

    duck = DuckDBEngine()
    query = (
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_name = c.table_name "
        "WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position"
    )
    got = []
    for engine in (spark_engine, duck):
        engine.write_arrow("money", _money_table())
        engine.execute("CREATE VIEW money_view AS SELECT id FROM money")
        got.append(engine.fetch_rows(query))
    assert (
        got[0]
        == got[1]
        == [
            ("money", "id", "VARCHAR"),
            ("money", "amount", "DECIMAL(18,4)"),
            ("money", "at", "TIMESTAMP"),
            ("money", "note", "VARCHAR"),
        ]
    )
    duck.close()
