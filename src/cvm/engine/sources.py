"""Reading ingestion sources, behind one interface every engine implements.

`cvm.ingest` decides *what* a source is (a file of some format, or a query against a
database) and builds the validation SQL; an engine's `SourceReader` decides *how* to read it:
it exposes each source as a temporary view whose columns are the source's columns as text,
plus `_rec`, the 1-based ordinal of the row among the rows the reader parsed. Rows the reader
itself could not parse (a line with too many fields, bytes that are not valid UTF-8) come back
as `StructuralReject`s, and the reader translates ordinals back into physical line numbers, so
quarantined rows point at the right line even when malformed lines are interleaved.

DuckDB's implementation lives in `cvm.engine.duckdb_sources`; a Spark one can follow with the
same contract. Nothing here imports an engine library.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
import sqlglot.expressions as exp

if TYPE_CHECKING:
    from cvm.engine.base import Engine

FileFormat = Literal["csv", "whitespace", "jsonl", "parquet"]
SUPPORTED_ENCODINGS = ("utf-8", "latin-1")
ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
}
ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class TextOptions:
    """How to split a text file into rows and fields."""

    delimiter: str | None = None  # None: sniffed from the first line (csv only)
    header: bool = True
    names: tuple[str, ...] | None = None  # column names for a file without a header
    quote: str | None = '"'
    escape: str | None = None  # None: the quote character doubled, as in RFC 4180
    encoding: str = "utf-8"
    skip_rows: int = 0  # lines before the header (or the first row) to ignore
    sample_lines: int = 10_000  # lines read to discover the keys of a JSON Lines file


@dataclass(frozen=True)
class FileSource:
    path: Path
    format: FileFormat
    text: TextOptions = field(default_factory=TextOptions)

    @property
    def label(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class QuerySource:
    """A SQL query run against an outside database through its DB-API driver."""

    url: str
    query: str
    batch_size: int = 50_000

    @property
    def label(self) -> str:
        return redact_url(self.url)


Source = FileSource | QuerySource


@dataclass(frozen=True)
class StructuralReject:
    """A row the reader could not split into fields; never reaches validation."""

    line: int  # 1-based physical line in the file (the header is line 1)
    reason: str
    raw: str | None


@dataclass
class OpenedSource:
    """A source exposed as a temporary view, ready to be scanned once."""

    source: Source
    view: str
    columns: list[str]  # the source's own column names, in order
    # The raw row as read, for the quarantine: an expression over the view's columns.
    raw: exp.Expression
    # A reason text when a row is malformed in a way only SQL can see (wrong number of
    # whitespace-separated fields, a line that is not JSON), else NULL.
    malformed: exp.Expression
    size_bytes: int | None = None
    # False when the view has no `_rec` column: numbering rows in the scan would force it
    # onto one thread, so the stage numbers them by insertion order instead (DuckDB keeps a
    # parallel scan's rows in file order when it inserts them).
    numbered: bool = True
    # Whatever the reader needs to locate rows later (rejects table, preamble length, ...).
    state: dict[str, Any] = field(default_factory=dict)


class SourceReader(Protocol):
    """How an engine reads sources. One reader per ingestion run."""

    def open(self, source: Source, name: str) -> OpenedSource:
        """Create the view `name` over the source. Reads only the header or a sample, writes
        nothing; raises `UserInputError` when the source is missing or unreadable."""
        ...

    def scan(
        self, opened: OpenedSource, statement: exp.Expression, progress: ProgressFn | None
    ) -> None:
        """Run a statement that scans the view once (it may report progress in 0..1)."""
        ...

    def locate(
        self, opened: OpenedSource, records: npt.NDArray[np.int64]
    ) -> tuple[list[StructuralReject], npt.NDArray[np.int64]]:
        """After the scan: the rows the parser refused (with their physical lines), and the
        physical 1-based line numbers (header = line 1) of the given `_rec` ordinals, in order.
        Reads the file again only when there is something to locate."""
        ...

    def close(self, opened: OpenedSource) -> None:
        """Drop the view and anything the reader created for it."""
        ...

    def unordered(self) -> AbstractContextManager[None]:
        """A context for the writes after staging, which need not keep rows in scan order
        (the engine may then insert in parallel). Never used around a scan."""
        ...


def source_reader(engine: Engine) -> SourceReader:
    """The reader that goes with an engine."""
    match engine.dialect:
        case "duckdb":
            from cvm.engine.duckdb_engine import DuckDBEngine
            from cvm.engine.duckdb_sources import DuckDBSourceReader

            assert isinstance(engine, DuckDBEngine)
            return DuckDBSourceReader(engine)
    raise NotImplementedError(f"no source reader for engine {engine.dialect!r} yet")


def normalize_encoding(name: str) -> str | None:
    """The canonical spelling of a supported encoding, or None when unsupported."""
    return ENCODING_ALIASES.get(name.strip().lower().replace("_", "-"))


def redact_url(url: str) -> str:
    """A database URL without its password, fit for logs and lineage columns."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def nth_unrejected(
    ordinals: npt.NDArray[np.int64], rejected: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The `ordinals`-th positive integers that are not in `rejected` (sorted, unique).

    A reader that numbers surviving lines 1, 2, 3, ... while the parser silently skipped the
    rejected ones recovers each survivor's line this way: with R sorted, the k-th survivor is
    k + #{i : R[i] - i <= k}, because R[i] - i counts the survivors before the i-th reject.
    """
    if rejected.size == 0:
        return ordinals.astype(np.int64)
    shifted = rejected - np.arange(rejected.size, dtype=np.int64)
    return (ordinals + np.searchsorted(shifted, ordinals, side="right")).astype(np.int64)
