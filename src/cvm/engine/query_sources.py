"""Rows of a SQL query against an outside database, as a stream of Arrow batches.

DuckDB's postgres and sqlite scanners would download extensions at run time, and only
`cvm.state` may use SQLAlchemy, so a query source goes through the database's own DB-API
driver: `sqlite3` (standard library) for `sqlite:///path.db`, `psycopg` for
`postgresql://...` (a server-side cursor, so the result is streamed, not loaded). Rows are
fetched `batch_size` at a time and turned into Arrow batches of text columns plus `_rec`, the
row's 1-based position in the result; the engine then validates them on the same path as a
file. The query is the user's own, run with the user's credentials against their database.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from cvm.core.errors import UserInputError
from cvm.engine.sources import QuerySource, redact_url
from cvm.engine.text_lines import unique_names


def _as_text(value: Any) -> str | None:
    """One database value as the text a file would have held."""
    match value:
        case None:
            return None
        case bool():
            return "true" if value else "false"
        case dt.datetime():
            return value.isoformat(sep=" ")
        case dt.date() | dt.time():
            return value.isoformat()
        case Decimal():
            return format(value, "f")
        case bytes() | bytearray() | memoryview():
            return bytes(value).hex()
        case float():
            return repr(value)
    return str(value)


def _connect(url: str) -> Any:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy spells them.
        raw = unquote(url.split(":", 1)[1])
        path = Path(raw[3:] if raw.startswith("///") else raw.lstrip("/"))
        if not path.is_file():
            raise UserInputError(f"SQLite database {path} does not exist")
        # DuckDB pulls the batches from one of its own threads, one at a time.
        uri = f"{path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False)
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a core dependency
            raise UserInputError(
                "reading from PostgreSQL needs psycopg: pip install 'psycopg[binary]'"
            ) from None
        dsn = url.replace(parts.scheme + "://", "postgresql://", 1)
        try:
            return psycopg.connect(dsn)
        except psycopg.Error as err:
            raise UserInputError(
                f"cannot connect to {redact_url(url)}: {str(err).strip().splitlines()[0]}"
            ) from None
    raise UserInputError(
        f"unsupported database URL scheme {parts.scheme!r}; use sqlite:/// or postgresql://"
    )


class QueryStream:
    """Runs the query on construction (so column names are known before any write)."""

    def __init__(self, source: QuerySource) -> None:
        self.source = source
        self._conn = _connect(source.url)
        try:
            if self._conn.__class__.__module__.startswith("psycopg"):
                # A named cursor is server-side in PostgreSQL: rows arrive batch by batch.
                self._cursor = self._conn.cursor(name="cvm_ingest")
            else:
                self._cursor = self._conn.cursor()
            self._cursor.execute(source.query)
            description = self._cursor.description
            if description is None:
                raise UserInputError("the --query returns no rows (it must be a SELECT)")
            self.columns = unique_names([str(d[0]) for d in description])
        except UserInputError:
            self.close()
            raise
        except Exception as err:  # the driver's own error class differs per database
            self.close()
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserInputError(
                f"the query failed on {redact_url(source.url)}: {message}"
            ) from None
        self.schema = pa.schema(
            [pa.field("_rec", pa.int64())] + [pa.field(c, pa.string()) for c in self.columns]
        )

    def batches(self) -> Iterator[pa.RecordBatch]:
        position = 0
        try:
            while rows := self._cursor.fetchmany(self.source.batch_size):
                columns = list(zip(*rows, strict=True))
                arrays = [pa.array(range(position + 1, position + len(rows) + 1), pa.int64())]
                arrays += [pa.array([_as_text(v) for v in col], pa.string()) for col in columns]
                position += len(rows)
                yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        finally:
            self.close()

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())

    def close(self) -> None:
        for thing in (getattr(self, "_cursor", None), getattr(self, "_conn", None)):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: S110 - closing twice is harmless
                    pass
