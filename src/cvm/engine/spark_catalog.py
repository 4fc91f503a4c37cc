"""DuckDB's ``information_schema`` on Spark: the lake's catalog as two temporary views.

Callers ask "which columns does ``customer_360`` have" or "which tables hold a ``customer_id``"
the standard SQL way, through ``information_schema.columns`` and ``information_schema.tables``
(DuckDB has them). Spark's session catalog has no ``information_schema``, so before a statement
that names one runs, the engine builds it from ``spark.catalog`` as a temporary view and points
the statement at that view. Rows and types are spelled as DuckDB spells them (schema ``main``,
``BASE TABLE``/``VIEW``, ``VARCHAR``, ``TIMESTAMP``, ``DECIMAL(18,4)``...), so code that reads
type names (``cvm.segments.fields.logical_type``) sees the same text on both engines.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlglot.expressions as exp

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INFORMATION_SCHEMA = "information_schema"
VIEW_PREFIX = "__cvm_information_schema_"
KNOWN_VIEWS = ("columns", "tables")

# Spark's simpleString type names → DuckDB's information_schema spelling.
_SIMPLE_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp_ntz": "TIMESTAMP",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "binary": "BLOB",
    "void": "NULL",
}
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


def duckdb_type_name(spark_type: str) -> str:
    """``decimal(18,4)`` → ``DECIMAL(18,4)``, ``string`` → ``VARCHAR``, ``array<string>`` →
    ``VARCHAR[]``; nested structs and maps keep Spark's spelling in upper case."""
    text = spark_type.strip().lower()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    if m := _DECIMAL.fullmatch(text.replace(" ", "")):
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    if text.startswith("array<") and text.endswith(">"):
        return duckdb_type_name(text[6:-1]) + "[]"
    if text.startswith("varchar") or text.startswith("char"):
        return "VARCHAR"
    return text.upper()


def names_information_schema(tree: exp.Expression) -> bool:
    return any(t.text("db").lower() == INFORMATION_SCHEMA for t in tree.find_all(exp.Table))


def point_at_views(tree: exp.Expression) -> tuple[exp.Expression, list[str]]:
    """Rewrite ``information_schema.x`` into the temporary view name; return the views needed."""
    needed: list[str] = []

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.text("db").lower() == INFORMATION_SCHEMA:
            name = node.name.lower()
            if name not in KNOWN_VIEWS:
                raise ValueError(f"information_schema.{name} is not available on Spark")
            if name not in needed:
                needed.append(name)
            new = exp.to_table(VIEW_PREFIX + name)
            if node.alias:
                new.set("alias", exp.TableAlias(this=exp.to_identifier(node.alias)))
            return new
        return node

    rewritten = tree.copy().transform(swap)
    assert isinstance(rewritten, exp.Expression)
    return rewritten, needed


def register_views(spark: SparkSession, database: str, views: list[str]) -> None:
    """(Re)build the named information_schema views from the catalog of ``database``."""
    tables = [t for t in spark.catalog.listTables(database) if not t.isTemporary]
    if "tables" in views:
        data = pa.table(
            {
                "table_catalog": pa.array([database] * len(tables), pa.string()),
                "table_schema": pa.array(["main"] * len(tables), pa.string()),
                "table_name": pa.array([t.name for t in tables], pa.string()),
                "table_type": pa.array(
                    ["VIEW" if t.tableType == "VIEW" else "BASE TABLE" for t in tables],
                    pa.string(),
                ),
            }
        )
        spark.createDataFrame(data).createOrReplaceTempView(VIEW_PREFIX + "tables")
    if "columns" in views:
        rows: dict[str, list[object]] = {
            "table_catalog": [],
            "table_schema": [],
            "table_name": [],
            "column_name": [],
            "ordinal_position": [],
            "data_type": [],
            "is_nullable": [],
        }
        for t in tables:
            for position, column in enumerate(
                spark.catalog.listColumns(f"`{database}`.`{t.name}`"), start=1
            ):
                rows["table_catalog"].append(database)
                rows["table_schema"].append("main")
                rows["table_name"].append(t.name)
                rows["column_name"].append(column.name)
                rows["ordinal_position"].append(position)
                rows["data_type"].append(duckdb_type_name(column.dataType))
                rows["is_nullable"].append("YES" if column.nullable else "NO")
        schema = pa.schema(
            [(k, pa.int32() if k == "ordinal_position" else pa.string()) for k in rows]
        )
        data = pa.table(rows, schema=schema)
        spark.createDataFrame(data).createOrReplaceTempView(VIEW_PREFIX + "columns")
