"""DuckDB's `SourceReader`: streamed reads with DuckDB's own table functions.

The views themselves are built in `cvm.engine.duckdb_source_views`; this module opens them
(reading a header or a sample first, so a bad source fails before anything is written), runs
the one scan with a progress callback (`query_progress`, polled from a thread), collects the
parser's rejects, and maps row ordinals back to physical line numbers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import numpy.typing as npt
import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.engine.duckdb_source_views import (
    MALFORMED,
    col,
    csv_view,
    json_of,
    lines_view,
    parquet_call,
    parquet_view,
)
from cvm.engine.query_sources import QueryStream
from cvm.engine.sources import (
    FileSource,
    OpenedSource,
    ProgressFn,
    QuerySource,
    Source,
    StructuralReject,
    nth_unrejected,
)
from cvm.engine.text_lines import (
    read_csv_header,
    read_first_line,
    record_lines,
    sample_json_keys,
    unique_names,
)

if TYPE_CHECKING:
    from cvm.engine.duckdb_engine import DuckDBEngine

REJECT_REASONS = {
    "MISSING COLUMNS": "missing columns",
    "TOO MANY COLUMNS": "too many columns",
    "UNQUOTED VALUE": "stray or unterminated quote",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID STATE": "malformed line",
    "CAST": "malformed line",
}


def _default_names(width: int) -> list[str]:
    return [f"column{i}" for i in range(1, width + 1)]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    prefixes = ("IO Error", "Invalid Input Error", "Binder Error", "Catalog Error")
    return first.split(": ", 1)[1] if first.startswith(prefixes) and ": " in first else first


class DuckDBSourceReader:
    """Reads sources into temporary views on the engine's connection."""

    def __init__(self, engine: DuckDBEngine) -> None:
        self.engine = engine

    def open(self, source: Source, name: str) -> OpenedSource:
        if isinstance(source, QuerySource):
            stream = QueryStream(source)
            self.engine.register_arrow(name, stream.reader())
            return OpenedSource(
                source,
                name,
                stream.columns,
                raw=json_of(stream.columns),
                malformed=exp.Null(),
                state={"mode": "query", "stream": stream},
            )
        if not source.path.is_file():
            raise UserInputError(f"{source.path} does not exist or is not a file")
        size = source.path.stat().st_size
        text = source.text
        rejects = f"{name}_rejects"
        match source.format:
            case "csv":
                delimiter, names = read_csv_header(
                    source.path,
                    encoding=text.encoding,
                    delimiter=text.delimiter,
                    quote=text.quote,
                    skip_rows=text.skip_rows,
                )
                if not text.header:
                    names = list(text.names) if text.names else _default_names(len(names))
                select, raw = csv_view(source, delimiter, names, rejects)
                self._create_view(name, select, source.label)
                first_data = text.skip_rows + int(text.header) + 1
                state = {"mode": "csv", "rejects": rejects, "first_data_record": first_data}
                return OpenedSource(source, name, names, raw, exp.Null(), size, False, state)
            case "whitespace" | "jsonl":
                if source.format == "jsonl":
                    names = sample_json_keys(
                        source.path,
                        encoding=text.encoding,
                        skip_rows=text.skip_rows,
                        sample_lines=text.sample_lines,
                    )
                    leading = text.skip_rows
                else:
                    first = read_first_line(
                        source.path, encoding=text.encoding, skip_rows=text.skip_rows
                    ).split()
                    if text.header:
                        names = unique_names(first)
                    else:
                        names = list(text.names) if text.names else _default_names(len(first))
                    leading = text.skip_rows + int(text.header)
                self._create_view(name, lines_view(source, names, leading, rejects), source.label)
                state = {"mode": "lines", "rejects": rejects, "leading": leading}
                return OpenedSource(
                    source, name, names, col("_line"), col(MALFORMED), size, True, state
                )
            case "parquet":
                call = parquet_call(source)
                try:
                    described = self.engine.fetch_rows(
                        exp.Describe(this=exp.select("*").from_(call))
                    )
                except duckdb.Error as err:
                    raise UserInputError(
                        f"cannot read {source.label} as Parquet: {_first_line(err)}"
                    ) from None
                types = {str(r[0]): str(r[1]) for r in described if r[0] != "file_row_number"}
                self._create_view(name, parquet_view(call, types), source.label)
                names = list(types)
                return OpenedSource(
                    source, name, names, json_of(names), exp.Null(), size, True, {"mode": "rows"}
                )

    def _create_view(self, name: str, select: exp.Expression, label: str) -> None:
        create = exp.Create(
            this=exp.to_table(name, quoted=True),
            kind="VIEW",
            replace=True,
            expression=select,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
        try:
            self.engine.execute(create)
        except duckdb.Error as err:
            raise UserInputError(f"cannot read {label}: {_first_line(err)}") from None

    def scan(
        self, opened: OpenedSource, statement: exp.Expression, progress: ProgressFn | None
    ) -> None:
        cursor = self.engine.connection
        done = threading.Event()
        poller: threading.Thread | None = None
        if progress is not None:
            cursor.execute("SET enable_progress_bar = true").fetchall()
            cursor.execute("SET enable_progress_bar_print = false").fetchall()

            def poll() -> None:
                while not done.wait(0.25):
                    value = cursor.query_progress()
                    if value >= 0:
                        progress(min(value, 100.0) / 100.0)

            poller = threading.Thread(target=poll, name="cvm-ingest-progress", daemon=True)
            poller.start()
        try:
            self.engine.execute(statement)
        except (duckdb.IOException, duckdb.InvalidInputException) as err:
            reason = _first_line(err)
            if "invalid state" in reason:
                # DuckDB's strict CSV parser stops (no reject) on mixed line ends.
                reason = (
                    "the CSV parser stopped (mixed \\r\\n and \\n line ends?); normalise the "
                    "file's line ends (e.g. dos2unix) and run again"
                )
            raise UserInputError(f"cannot read {opened.source.label}: {reason}") from None
        finally:
            done.set()
            if poller is not None:
                poller.join()
        if progress is not None:
            progress(1.0)

    def locate(
        self, opened: OpenedSource, records: npt.NDArray[np.int64]
    ) -> tuple[list[StructuralReject], npt.NDArray[np.int64]]:
        records = np.asarray(records, dtype=np.int64)
        mode = opened.state["mode"]
        if mode in ("rows", "query"):
            return [], records.copy()
        assert isinstance(opened.source, FileSource)
        found = self._rejects(opened)
        reject_index = np.array(sorted(found), dtype=np.int64)
        if mode == "lines":
            # Line mode has no quoting, so DuckDB's reject "line" is the physical line.
            leading = int(opened.state["leading"])
            rejects = [StructuralReject(n, *found[n]) for n in sorted(found) if n > leading]
            return rejects, nth_unrejected(records, reject_index)
        if reject_index.size == 0 and records.size == 0:
            return [], records.copy()
        wanted, inverse = np.unique(records, return_inverse=True)
        lines, reject_lines = record_lines(
            opened.source.path,
            quote=opened.source.text.quote,
            first_data_record=int(opened.state["first_data_record"]),
            rejected_records=reject_index,
            wanted=wanted,
        )
        rejects = [
            StructuralReject(int(line), *found[int(index)])
            for index, line in zip(reject_index, reject_lines, strict=True)
        ]
        return rejects, lines[inverse]

    def _rejects(self, opened: OpenedSource) -> dict[int, tuple[str, str | None]]:
        """DuckDB's rejects, one per record (a record can fail on several columns)."""
        table = exp.to_table(str(opened.state["rejects"]), quoted=True)
        try:
            rows = self.engine.fetch_rows(
                exp.select("line", "error_type", "csv_line").from_(table).order_by("line")
            )
        except duckdb.CatalogException:  # no scan ran, so DuckDB made no rejects table
            return {}
        encoding = opened.source.text.encoding if isinstance(opened.source, FileSource) else ""
        found: dict[int, tuple[str, str | None]] = {}
        for line, error_type, csv_line in rows:
            key = int(str(line))
            if key in found:
                continue
            if str(error_type) == "INVALID ENCODING":
                reason = "invalid UTF-8" if encoding == "utf-8" else f"invalid {encoding}"
            elif opened.state["mode"] == "lines":
                reason = "malformed line"
            else:
                reason = REJECT_REASONS.get(str(error_type), "malformed line")
            # DuckDB keeps the previous line's line feed in front of a CRLF line.
            found[key] = (reason, None if csv_line is None else str(csv_line).strip("\r\n"))
        return found

    @contextmanager
    def unordered(self) -> Iterator[None]:
        """Bulk inserts without DuckDB's order-preserving sink: about a third faster here."""
        before = self.engine.fetch_scalar("SELECT current_setting('preserve_insertion_order')")
        self.engine.execute("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            if before:
                self.engine.execute("SET preserve_insertion_order = true")

    def close(self, opened: OpenedSource) -> None:
        if opened.state.get("mode") == "query":
            self.engine.unregister(opened.view)
            opened.state["stream"].close()
            return
        self.engine.execute(
            exp.Drop(tables=[exp.to_table(opened.view, quoted=True)], kind="VIEW", exists=True)
        )
        if "rejects" in opened.state:
            for name in (opened.state["rejects"], f"{opened.state['rejects']}_scans"):
                table = exp.to_table(name, quoted=True)
                self.engine.execute(exp.Drop(tables=[table], kind="TABLE", exists=True))
