"""The `Engine` interface: run SQL built with sqlglot, move Arrow tables in and out.

Callers build statements as sqlglot expressions in the canonical dialect (DuckDB's spelling)
and hand them to an engine, which renders them for itself. Only `cvm.engine` imports
`duckdb` or `pyspark`; everything above it talks to this protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Protocol, runtime_checkable

import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp

from cvm.core.contracts import TableContract

CANONICAL_DIALECT = "duckdb"

Statement = exp.Expression | str
WriteMode = Literal["append", "replace"]


def to_expression(statement: Statement) -> exp.Expression:
    """Parse a canonical-dialect string (our own constant SQL only, never user input)."""
    if isinstance(statement, exp.Expression):
        return statement
    parsed = sqlglot.parse_one(statement, read=CANONICAL_DIALECT)
    assert isinstance(parsed, exp.Expression)
    return parsed


def count_rows(table: str) -> exp.Select:
    """`SELECT count(*) FROM table`, with the name quoted by sqlglot."""
    return exp.select(exp.Count(this=exp.Star())).from_(exp.to_table(table, quoted=True))


def create_table_statement(contract: TableContract, name: str | None = None) -> exp.Create:
    """`CREATE TABLE IF NOT EXISTS` for a contract, as a sqlglot expression."""
    columns = [
        exp.ColumnDef(
            this=exp.to_identifier(c.name),
            kind=exp.DataType.build(c.sql_type, dialect=CANONICAL_DIALECT),
        )
        for c in contract.all_columns
    ]
    schema = exp.Schema(this=exp.to_table(name or contract.name), expressions=columns)
    return exp.Create(this=schema, kind="TABLE", exists=True)


@runtime_checkable
class Engine(Protocol):
    """What every warehouse engine offers. Implementations: `DuckDBEngine`, `SparkEngine`."""

    dialect: str

    def execute(self, statement: Statement, parameters: list[object] | None = None) -> None:
        """Run a statement that returns nothing of interest (DDL, INSERT, ...).

        Values from users go in as bound ``parameters`` (``?``) or sqlglot literals, never pasted.
        """
        ...

    def fetch_arrow(self, query: Statement, parameters: list[object] | None = None) -> pa.Table:
        """Run a query and return its result as one Arrow table."""
        ...

    def fetch_rows(
        self, query: Statement, parameters: list[object] | None = None
    ) -> list[tuple[object, ...]]:
        """Run a query and return its rows as tuples (small results only)."""
        ...

    def fetch_batches(
        self, query: Statement, batch_size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """Run a query and stream its result in record batches (bounded memory)."""
        ...

    def fetch_scalar(self, query: Statement, parameters: list[object] | None = None) -> object:
        """Run a query and return the first column of the first row (None when empty)."""
        ...

    def write_arrow(
        self, table: str, data: pa.Table | pa.RecordBatchReader, mode: WriteMode = "append"
    ) -> int:
        """Write Arrow data into a table (created from the data's schema when absent)."""
        ...

    def register_arrow(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """Expose an Arrow table as a temporary view for the next statements."""
        ...

    def unregister(self, name: str) -> None: ...

    def table_exists(self, name: str) -> bool: ...

    def table_columns(self, name: str) -> list[str]: ...

    def ensure_table(self, contract: TableContract, name: str | None = None) -> None:
        """Create a canonical table from its contract if it does not exist yet."""
        ...

    def render(self, statement: Statement) -> str:
        """The SQL text this engine would run (for logs and `--explain`)."""
        ...

    def close(self) -> None: ...
