"""The default engine: an embedded DuckDB database file in the workspace."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.contracts import TableContract
from cvm.engine.base import Statement, WriteMode, count_rows, create_table_statement, to_expression


class DuckDBEngine:
    """`Engine` over one DuckDB file (or `:memory:`).

    DuckDB allows one writer process per file; within the process, every thread gets its own
    cursor on the shared connection so the API server can query concurrently.
    """

    dialect = "duckdb"

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = str(path)
        config: dict[str, str | int] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        config["threads"] = threads or os.cpu_count() or 2
        self._conn = duckdb.connect(self.path, read_only=read_only, config=config)  # type: ignore[arg-type]
        self._local = threading.local()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread (DuckDB connections are not thread-safe)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = (
                self._conn
                if threading.current_thread() is threading.main_thread()
                else self._conn.cursor()
            )
            self._local.cursor = cursor
        return cursor

    def render(self, statement: Statement) -> str:
        if isinstance(statement, str):
            return statement
        return to_expression(statement).sql(dialect=self.dialect)

    def execute(self, statement: Statement, parameters: list[object] | None = None) -> None:
        # DuckDB 2 keeps a statement's result open until drained; drain it so the next
        # statement on this cursor can run.
        self.connection.execute(self.render(statement), parameters).fetchall()

    def fetch_arrow(self, query: Statement, parameters: list[object] | None = None) -> pa.Table:
        # `sql()` streams the result straight into Arrow (no DB-API copy).
        return self.connection.sql(self.render(query), params=parameters).to_arrow_table()

    def fetch_batches(
        self, query: Statement, batch_size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        # A relation streams straight into Arrow batches; a DB-API result would copy first.
        reader: pa.RecordBatchReader = self.connection.sql(self.render(query)).to_arrow_reader(
            batch_size
        )
        yield from reader

    def fetch_scalar(self, query: Statement, parameters: list[object] | None = None) -> object:
        # fetchall drains the result (DuckDB 2 refuses new work on a half-read one); scalar
        # queries are small by nature.
        rows = self.connection.execute(self.render(query), parameters).fetchall()
        return rows[0][0] if rows else None

    def fetch_rows(
        self, query: Statement, parameters: list[object] | None = None
    ) -> list[tuple[object, ...]]:
        return self.connection.execute(self.render(query), parameters).fetchall()

    def register_arrow(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        self.connection.register(name, data)

    def unregister(self, name: str) -> None:
        self.connection.unregister(name)

    def write_arrow(
        self, table: str, data: pa.Table | pa.RecordBatchReader, mode: WriteMode = "append"
    ) -> int:
        view = f"__cvm_write_{threading.get_ident()}"
        conn = self.connection
        conn.register(view, data)
        try:
            source = exp.select("*").from_(exp.to_table(view))
            target = exp.to_table(table, quoted=True)
            if mode == "replace" or not self.table_exists(table):
                statement: exp.Expression = exp.Create(
                    this=target, kind="TABLE", replace=True, expression=source
                )
                conn.execute(statement.sql(self.dialect)).fetchall()
            else:
                # BY NAME: columns match by name, so sources may omit optional columns.
                conn.execute(
                    f"INSERT INTO {target.sql(self.dialect)} BY NAME {source.sql(self.dialect)}"
                )  # noqa: S608 (identifiers quoted by sqlglot)
            count = conn.execute(count_rows(view).sql(self.dialect)).fetchall()[0]
        finally:
            conn.unregister(view)
        return int(count[0]) if count else 0

    def table_exists(self, name: str) -> bool:
        row = self.connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
            [name],
        ).fetchall()[0]
        return bool(row and row[0])

    def table_columns(self, name: str) -> list[str]:
        rows = self.connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return [r[0] for r in rows]

    def ensure_table(self, contract: TableContract, name: str | None = None) -> None:
        self.execute(create_table_statement(contract, name))

    def close(self) -> None:
        self._conn.close()
