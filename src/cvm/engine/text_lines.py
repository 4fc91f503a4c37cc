"""Text-file facts every reader needs and no SQL engine gives: header names, the delimiter,
the keys of a JSON Lines file, and the physical line on which each record starts.

Line numbers are the subtle part. A CSV parser numbers *records*: a quoted field that spans
two lines is one record, a blank line is skipped without a row, and a line it refuses is gone
from its output. A person fixing a file needs the *physical* line (what an editor shows), so
`record_lines` walks the bytes once, with numpy, chunk by chunk (memory stays bounded):

- a newline ends a record only when an even number of quote characters precede it (with the
  RFC 4180 escape, a doubled quote, the parity is unchanged, so this holds);
- records are counted the way DuckDB counts its reject "line" (every record, the skipped
  preamble, the header and blank lines included), so a reject maps back to its record;
- data records (after the preamble and header, not blank, not rejected) get ordinals 1, 2, ...
  in file order, the ordinals the reader gave its rows, and each ordinal's record start line
  is returned.

Only ASCII-compatible encodings (UTF-8, Latin-1) are supported, where newline and quote are
single bytes.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

import numpy as np
import numpy.typing as npt

from cvm.core.errors import UserInputError

CHUNK_BYTES = 32 * 1024 * 1024
DELIMITER_CANDIDATES = (",", "\t", ";", "|")
NEWLINE = 10
CARRIAGE_RETURN = 13


def open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _decode(line: bytes, encoding: str) -> str:
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    return line.decode(codec)


def _leading_line(path: Path, encoding: str, skip_rows: int) -> str:
    """The first line after `skip_rows`, decoded on its own (later bad bytes do not matter)."""
    try:
        with open_binary(path) as handle:
            for _ in range(skip_rows):
                handle.readline()
            return _decode(handle.readline(), encoding)
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None
    except (OSError, EOFError) as err:
        raise UserInputError(f"cannot read {path}: {err}") from None


def _decode_error(path: Path, encoding: str) -> UserInputError:
    hint = "latin-1" if encoding == "utf-8" else "utf-8"
    return UserInputError(
        f"the first lines of {path} are not valid {encoding}; declare the file's encoding in "
        f"the mapping (source: {{encoding: {hint}}})"
    )


def sniff_delimiter(line: str) -> str:
    """The candidate delimiter that occurs most often in the header line (',' on a tie)."""
    counts = {d: line.count(d) for d in DELIMITER_CANDIDATES}
    best = max(DELIMITER_CANDIDATES, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def unique_names(names: list[str]) -> list[str]:
    """Header names made usable: trimmed, blanks named `columnN`, repeats suffixed `_2`."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def read_csv_header(
    path: Path, *, encoding: str, delimiter: str | None, quote: str | None, skip_rows: int
) -> tuple[str, list[str]]:
    """The delimiter (given or sniffed) and the header's field names."""
    first = _leading_line(path, encoding, skip_rows)
    if not first.strip():
        raise UserInputError(
            f"{path} has no header line (it is empty after {skip_rows} skipped rows)"
        )
    delim = delimiter or sniff_delimiter(first)
    quoting: Literal[0, 3] = csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE
    reader = csv.reader(
        [first.rstrip("\r\n")], delimiter=delim, quotechar=quote or None, quoting=quoting
    )
    return delim, unique_names(next(reader))


def read_first_line(path: Path, *, encoding: str, skip_rows: int) -> str:
    return _leading_line(path, encoding, skip_rows).strip()


def sample_json_keys(path: Path, *, encoding: str, skip_rows: int, sample_lines: int) -> list[str]:
    """Keys of the JSON objects in the first `sample_lines` lines, in order of first sight."""
    keys: dict[str, None] = {}
    try:
        with open_binary(path) as handle:
            for number, raw in enumerate(handle):
                line = raw.decode("utf-8" if encoding == "utf-8" else encoding, errors="replace")
                if number < skip_rows:
                    continue
                if number >= skip_rows + sample_lines:
                    break
                try:
                    value = json.loads(line)
                except ValueError:
                    continue  # malformed lines are quarantined later, with their line number
                if isinstance(value, dict):
                    keys.update(dict.fromkeys(str(k) for k in value))
    except (OSError, EOFError) as err:
        raise UserInputError(f"cannot read {path}: {err}") from None
    if not keys:
        raise UserInputError(
            f"{path} has no JSON object in its first {sample_lines} lines; cvm reads JSON Lines "
            "(one object per line), so convert a JSON array first (e.g. jq -c '.[]')"
        )
    return list(keys)


def _chunks(path: Path) -> Iterator[bytes]:
    with open_binary(path) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def record_lines(
    path: Path,
    *,
    quote: str | None,
    first_data_record: int,
    rejected_records: npt.NDArray[np.int64],
    wanted: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Physical start lines of the `wanted` data ordinals and of the `rejected_records`.

    `first_data_record` is the record index of the first data row (skipped rows + header + 1);
    `rejected_records` are DuckDB reject "line" values (record indices, sorted, unique);
    `wanted` are data ordinals (sorted, unique). Unknown ordinals come back as 0.
    """
    quote_byte = quote.encode()[0] if quote else None
    wanted_lines = np.zeros(wanted.size, dtype=np.int64)
    reject_lines = np.zeros(rejected_records.size, dtype=np.int64)
    offset = newlines_before = parity = records = ordinals = 0
    start, start_line, previous_byte = 0, 1, -1

    def assign(
        starts: npt.NDArray[np.int64],
        lines: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
        first_bytes: npt.NDArray[np.int64],
    ) -> None:
        nonlocal records, ordinals
        length = ends - starts
        blank = (length == 0) | ((length == 1) & (first_bytes == CARRIAGE_RETURN))
        index = records + 1 + np.arange(starts.size, dtype=np.int64)
        is_data = (index >= first_data_record) & ~blank & ~np.isin(index, rejected_records)
        data_lines = lines[is_data]
        lo, hi = ordinals + 1, ordinals + data_lines.size
        take = (wanted >= lo) & (wanted <= hi)
        wanted_lines[take] = data_lines[wanted[take] - lo]
        hit = (rejected_records > records) & (rejected_records <= records + starts.size)
        reject_lines[hit] = lines[rejected_records[hit] - records - 1]
        records += starts.size
        ordinals = hi

    for chunk in _chunks(path):
        arr = np.frombuffer(chunk, dtype=np.uint8)
        newlines = np.flatnonzero(arr == NEWLINE)
        ended_lines = newlines_before + np.arange(1, newlines.size + 1, dtype=np.int64)
        if quote_byte is not None:
            quotes = np.flatnonzero(arr == quote_byte)
            even = (parity + np.searchsorted(quotes, newlines)) % 2 == 0
            parity = (parity + quotes.size) % 2
            terminators, term_lines = newlines[even], ended_lines[even]
        else:
            terminators, term_lines = newlines, ended_lines
        if terminators.size:
            ends = terminators.astype(np.int64) + offset
            starts = np.concatenate(([start], ends[:-1] + 1))
            lines = np.concatenate(([start_line], term_lines[:-1] + 1))
            local = starts - offset
            first_bytes = np.where(
                local >= 0, arr[np.clip(local, 0, arr.size - 1)], previous_byte
            ).astype(np.int64)
            assign(starts, lines, ends, first_bytes)
            start, start_line = int(ends[-1]) + 1, int(term_lines[-1]) + 1
        offset += arr.size
        newlines_before += newlines.size
        previous_byte = int(arr[-1])
    if start < offset:  # a last record without a final newline
        first = previous_byte if start == offset - 1 else -1
        assign(
            np.array([start], dtype=np.int64),
            np.array([start_line], dtype=np.int64),
            np.array([offset], dtype=np.int64),
            np.array([first], dtype=np.int64),
        )
    return wanted_lines, reject_lines
