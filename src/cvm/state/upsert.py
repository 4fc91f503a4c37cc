"""Dialect-aware "insert, skip rows whose key already exists" for SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table
from sqlalchemy.dialects import postgresql, sqlite

# Rows per IN (...) list: well under SQLite's bound-parameter limit.
IN_LIST_SIZE = 400


def chunks(items: Sequence[Any], size: int = IN_LIST_SIZE) -> Iterator[list[Any]]:
    """``items`` in consecutive lists of at most ``size`` (for IN lists and batched writes)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert `rows`, silently skipping those that collide on the unique `keys`.

    One executemany per call: with SQLite that is one statement prepared once for the batch.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(statement, list(rows))


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """Insert `rows`, or update `update_columns` of the row that already has the same `keys`."""
    if not rows:
        return
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: statement.excluded[c] for c in update_columns},
    )
    conn.execute(statement, list(rows))


def _converter(table: Table, column: str) -> Any:
    # The storage formats SQLAlchemy's SQLite types read back: ISO text for DateTime
    # (microseconds optional), JSON text for JSON. Other values pass as they are.
    kind = table.c[column].type
    if isinstance(kind, DateTime):
        return lambda v: v.isoformat(" ") if v is not None else None
    if isinstance(kind, JSON):
        return lambda v: json.dumps(v) if v is not None else None
    return None


def bulk_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    ignore_conflicts_on: Sequence[str] | None = None,
) -> None:
    """Insert many rows fast (skipping key collisions when `ignore_conflicts_on`): on SQLite through the driver's executemany with plain tuples
    (Core's per-row parameter processing costs more than SQLite itself at millions of rows);
    elsewhere through Core (PostgreSQL batches them with insertmanyvalues)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        if ignore_conflicts_on:
            insert_ignore(conn, table, rows, ignore_conflicts_on)
        else:
            conn.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    # Identifiers come from our own Table objects; values are bound.
    verb = "INSERT OR IGNORE" if ignore_conflicts_on else "INSERT"
    sql = f'{verb} INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    converters = [(i, f) for i, c in enumerate(columns) if (f := _converter(table, c))]
    getter = itemgetter(*columns)
    if len(columns) == 1:
        params: list[Any] = [(getter(r),) for r in rows]
    else:
        params = [getter(r) for r in rows]
    if converters:
        converted = []
        for values in params:
            values = list(values)
            for i, f in converters:
                values[i] = f(values[i])
            converted.append(tuple(values))
        params = converted
    conn.exec_driver_sql(sql, params)
