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
    # A new session's in-memory catalog knows nothing: drop the registration, keep the files.
    spark_session.sql(f"DROP TABLE `{database}`.`money`")
    assert not first.table_exists("money")
    second = SparkEngine(lake_path=tmp_path / "lake", database=database, session=spark_session)
    assert second.table_exists("money")
    assert second.fetch_arrow("SELECT * FROM money ORDER BY id").to_pylist() == (
        _money_table().to_pylist()
    )


def test_workspace_factory_opens_spark(spark_session: Any, tmp_path: Path) -> None:
    from cvm.engine.factory import open_engine
    from cvm.engine.spark_engine import SparkEngine
    from cvm.workspace.settings import WarehouseSection

    engine = open_engine(WarehouseSection(engine="spark", lake_path="lake"), tmp_path)
    assert isinstance(engine, SparkEngine)
    assert engine.lake.root == str(tmp_path / "lake")
