"""The scale-out engine: Apache Spark (local, a cluster, or Spark Connect) over a Parquet lake.

Storage layout (chosen for being reopenable without a Hive metastore): every warehouse table is
a folder of Parquet files ``<lake_path>/<database>/<table>/`` (a local folder or an object-store
URL such as ``s3a://bucket/cvm``), registered in Spark's catalog as an external ``USING
parquet`` table with that ``LOCATION``. Spark's default in-memory catalog forgets tables when
the session ends, so on start the engine re-registers every table folder it finds under the
lake; with a persistent (Hive/Unity/Glue) catalog the re-registration is a no-op. Tables are
addressed unqualified inside the engine's own database, so the same statements run as on
DuckDB.

Statements arrive in the canonical DuckDB dialect and are rendered by `cvm.engine.spark_sql`
(sqlglot transpilation plus the ANSI-mode meaning rules). Data moves in and out as Arrow
(``createDataFrame(pyarrow.Table)``, ``DataFrame.toArrow()``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.contracts import TableContract
from cvm.engine.base import Statement, WriteMode, create_table_statement
from cvm.engine.spark_catalog import names_information_schema, point_at_views, register_views
from cvm.engine.spark_lake import Lake
from cvm.engine.spark_session import apply_runtime_conf, build_session
from cvm.engine.spark_sql import SPARK_DIALECT, is_transaction_control, to_spark
from cvm.engine.spark_stream import partition_batches, rebatch, result_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ArrowFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


class SparkEngine:
    """`Engine` on Spark. ``master`` is ``local[*]``, a cluster master, or an ``sc://`` URL.

    ``session`` reuses a running SparkSession (spark-submit, a notebook, the test suite): the
    engine then works in its own child session (``newSession()``: own temp views and current
    database, shared cluster), so several engines can share one JVM without seeing each other's
    temporary views.
    """

    dialect = SPARK_DIALECT

    def __init__(
        self,
        master: str = "local[*]",
        lake_path: str | Path = "lake",
        *,
        database: str = "cvm",
        session: SparkSession | None = None,
        conf: dict[str, str] | None = None,
    ) -> None:
        parent = session or build_session(master, conf=conf)
        self.spark: SparkSession = parent.newSession() if session is not None else parent
        apply_runtime_conf(self.spark)
        self.lake = Lake(self.spark, str(lake_path), database)
        self.lake.open()
        self._lock = threading.Lock()

    # -- SQL --------------------------------------------------------------------------------

    def render(self, statement: Statement) -> str:
        return self.spark_sql_text(to_spark(statement))

    @staticmethod
    def spark_sql_text(tree: exp.Expression) -> str:
        return tree.sql(dialect=SPARK_DIALECT)

    def _df(self, query: Statement, parameters: list[object] | None = None) -> DataFrame:
        tree = to_spark(query)
        if names_information_schema(tree):
            tree, views = point_at_views(tree)
            register_views(self.spark, self.lake.database, views)
        text = self.spark_sql_text(tree)
        if parameters:
            return self.spark.sql(text, args=list(parameters))
        return self.spark.sql(text)

    def execute(self, statement: Statement, parameters: list[object] | None = None) -> None:
        if is_transaction_control(statement):
            return
        tree = to_spark(statement)
        if self.lake.handles(tree):
            self.lake.run_ddl_or_dml(tree, self._run_sql)
            return
        self._run_sql(self.spark_sql_text(tree), parameters)

    def _run_sql(self, text: str, parameters: list[object] | None = None) -> None:
        if parameters:
            self.spark.sql(text, args=list(parameters)).collect()
        else:
            self.spark.sql(text).collect()

    def fetch_arrow(self, query: Statement, parameters: list[object] | None = None) -> pa.Table:
        return to_duckdb_types(self._df(query, parameters).toArrow())

    def fetch_rows(
        self, query: Statement, parameters: list[object] | None = None
    ) -> list[tuple[object, ...]]:
        table = self.fetch_arrow(query, parameters)
        columns = [c.to_pylist() for c in table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetch_scalar(self, query: Statement, parameters: list[object] | None = None) -> object:
        rows = self._df(query, parameters).limit(1).toArrow()
        if rows.num_rows == 0 or rows.num_columns == 0:
            return None
        return to_duckdb_types(rows).column(0)[0].as_py()

    def fetch_batches(
        self, query: Statement, batch_size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        # Executors encode each partition as Arrow; the driver pulls one partition at a time
        # (cvm.engine.spark_stream), so memory stays bounded by a partition plus two batches.
        df = self._df(query)
        schema = to_duckdb_types(result_schema(df).empty_table()).schema
        yield from rebatch(partition_batches(df), schema, batch_size)

    # -- Arrow in ---------------------------------------------------------------------------

    def _frame(self, data: pa.Table | pa.RecordBatchReader) -> DataFrame:
        table = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
        return self.spark.createDataFrame(to_spark_types(table))

    def register_arrow(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        self._frame(data).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def write_arrow(
        self, table: str, data: pa.Table | pa.RecordBatchReader, mode: WriteMode = "append"
    ) -> int:
        table_data = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
        frame = self._frame(table_data)
        count = table_data.num_rows  # known on the driver: no Spark job to count it
        with self._lock:
            self.lake.write_frame(table, frame, mode)
        return count

    # -- catalog ----------------------------------------------------------------------------

    def table_exists(self, name: str) -> bool:
        return self.lake.exists(name)

    def table_columns(self, name: str) -> list[str]:
        return list(self.spark.table(self.lake.qualified(name)).columns)

    def ensure_table(self, contract: TableContract, name: str | None = None) -> None:
        self.execute(create_table_statement(contract, name))

    # -- models at scale --------------------------------------------------------------------

    def map_batches(self, query: Statement, fn: ArrowFn, schema: pa.Schema) -> pa.Table:
        """Run ``fn`` on every partition of ``query``'s result (``mapInArrow``), return the union.

        ``fn`` takes and yields Arrow record batches, so the same fitted model object that
        scores a pandas/Arrow batch on one machine scores each partition on the executors; the
        result equals the single-machine result row for row (order aside).
        """
        from pyspark.sql.pandas.types import from_arrow_schema

        out = self._df(query).mapInArrow(fn, from_arrow_schema(schema))
        return to_duckdb_types(out.toArrow())

    def close(self) -> None:
        # A child session shares the JVM with its parent; stopping it would stop the parent.
        self.spark.catalog.clearCache()


def to_spark_types(table: pa.Table) -> pa.Table:
    """Arrow types Spark cannot take as they are: large strings and dictionary columns."""
    fields = []
    changed = False
    for f in table.schema:
        t = f.type
        if pa.types.is_dictionary(t):
            t, changed = t.value_type, True
        if pa.types.is_large_string(t):
            t, changed = pa.string(), True
        if pa.types.is_timestamp(t) and t.tz is not None:
            # cvm timestamps are UTC wall clock without a zone (as DuckDB's TIMESTAMP).
            t, changed = pa.timestamp("us"), True
        fields.append(pa.field(f.name, t, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table


def to_duckdb_types(table: pa.Table) -> pa.Table:
    """Spark's Arrow output in the types DuckDB returns, so callers see one shape.

    Spark returns zoned ``TIMESTAMP`` as ``timestamp[us, tz=UTC]`` when a column was typed
    LTZ somewhere upstream; cvm's timestamps are zone-less UTC.
    """
    fields = []
    changed = False
    for f in table.schema:
        t = f.type
        if pa.types.is_timestamp(t) and t.tz is not None:
            t, changed = pa.timestamp("us"), True
        fields.append(pa.field(f.name, t, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table


def new_database_name() -> str:
    """A fresh database name (tests give every engine its own)."""
    return f"cvm_{uuid.uuid4().hex[:10]}"


__all__ = ["SparkEngine", "new_database_name"]
