"""Writing the ledger's rows in bulk: a batch of 100k postings is ~400k rows.

SQLite: the driver's executemany (`cvm.state.upsert.bulk_insert`). PostgreSQL through
psycopg: ``COPY … FROM STDIN``, several times faster than multi-row INSERTs at this size
(measured in `benchmarks/results/loyalty_ledger.md`); values travel as data, and the table and
column names come from our own `Table` objects, quoted as identifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

from cvm.state.upsert import bulk_insert


def write_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) into `table` inside `conn`'s transaction."""
    if not rows:
        return
    if conn.dialect.driver != "psycopg":  # SQLite, or PostgreSQL through another driver
        bulk_insert(conn, table, rows)
        return
    from psycopg import sql

    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    raw = conn.connection.driver_connection
    assert raw is not None, "an open transaction has a driver connection"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
