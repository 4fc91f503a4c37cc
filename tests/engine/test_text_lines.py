"""Physical line numbers of CSV records: checked against a byte-by-byte reference on random
files (quoted newlines, blank lines, CRLF, rejects, chunk boundaries anywhere) and against
DuckDB's own reader."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvm.engine import text_lines
from cvm.engine.sources import nth_unrejected
from cvm.engine.text_lines import record_lines


def reference(
    data: bytes, first_data: int, rejected: set[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Walk the bytes one at a time: (ordinal -> line, reject record -> line)."""
    ordinals: dict[int, int] = {}
    rejects: dict[int, int] = {}
    line, start_line, record, ordinal, in_quotes, content = 1, 1, 0, 0, False, b""

    def finish() -> None:
        nonlocal record, ordinal
        record += 1
        if record in rejected:
            rejects[record] = start_line
        elif record >= first_data and content not in (b"", b"\r"):
            ordinal += 1
            ordinals[ordinal] = start_line

    for byte in data:
        char = bytes([byte])
        if char == b'"':
            in_quotes = not in_quotes
        if char == b"\n":
            line += 1
            if not in_quotes:
                finish()
                content, start_line = b"", line
                continue
        content += char
    if content:
        finish()
    return ordinals, rejects


records = st.lists(
    st.one_of(
        st.just(b""),
        st.just(b"\r"),
        st.just(b'a,"x\ny",b'),
        st.just(b'"q""uote",1'),
        st.text(alphabet="abc,1 ", max_size=6).map(str.encode),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(
    rows=records,
    trailing_newline=st.booleans(),
    chunk=st.integers(min_value=1, max_value=7),
    data=st.data(),
)
def test_matches_reference(
    rows: list[bytes],
    trailing_newline: bool,
    chunk: int,
    data: st.DataObject,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    body = b"h1,h2\n" + b"\n".join(rows) + (b"\n" if trailing_newline and rows else b"")
    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(body)
    total_records = body.count(b"\n") + 2
    rejected = sorted(
        data.draw(st.sets(st.integers(min_value=2, max_value=total_records), max_size=3))
    )
    want, want_rejects = reference(body, 2, set(rejected))
    wanted = np.array(sorted(want), dtype=np.int64)
    original = text_lines.CHUNK_BYTES
    text_lines.CHUNK_BYTES = chunk  # boundaries fall inside records, quotes and CRLFs
    try:
        lines, reject_lines = record_lines(
            path,
            quote='"',
            first_data_record=2,
            rejected_records=np.array(rejected, dtype=np.int64),
            wanted=wanted,
        )
    finally:
        text_lines.CHUNK_BYTES = original
    assert lines.tolist() == [want[o] for o in wanted.tolist()]
    assert reject_lines.tolist() == [want_rejects.get(r, 0) for r in rejected]


def test_gzip_and_unknown_ordinals(tmp_path: Path) -> None:
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(b'h\n1\n"2\n2"\n\n3'))
    lines, _ = record_lines(
        path,
        quote='"',
        first_data_record=2,
        rejected_records=np.array([], dtype=np.int64),
        wanted=np.array([1, 2, 3, 9]),
    )
    assert lines.tolist() == [2, 3, 6, 0]


def test_nth_unrejected() -> None:
    rejected = np.array([2, 3, 7], dtype=np.int64)
    survivors = [n for n in range(1, 20) if n not in {2, 3, 7}]
    got = nth_unrejected(np.arange(1, 11, dtype=np.int64), rejected)
    assert got.tolist() == survivors[:10]


def test_duckdb_reader_agrees(tmp_path: Path) -> None:
    """End to end through DuckDB: ordinals of accepted rows and reject lines are physical lines."""
    import sqlglot.expressions as exp

    from cvm.engine.duckdb_engine import DuckDBEngine
    from cvm.engine.sources import FileSource, source_reader

    path = tmp_path / "t.csv"
    path.write_bytes(b'id,v\r\n1,a\r\n2,"x\r\ny"\r\n3,b,extra\r\n\r\n4,c\r\n5\r\n6,\xff\r\n7,d')
    engine = DuckDBEngine()
    reader = source_reader(engine)
    opened = reader.open(FileSource(path, "csv"), "v")
    copy = exp.Create(this=exp.to_table("t"), kind="TABLE", expression=exp.select("*").from_("v"))
    reader.scan(opened, copy, None)  # scanned once, as in a run; CSV rows come unnumbered
    rows = engine.fetch_rows("SELECT rowid + 1, id FROM t ORDER BY rowid")  # insertion order
    recs, ids = np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]
    rejects, lines = reader.locate(opened, recs)
    assert dict(zip(ids, lines.tolist(), strict=True)) == {"1": 2, "2": 3, "4": 7, "7": 10}
    assert [(r.line, r.reason, r.raw) for r in rejects] == [
        (5, "too many columns", "3,b,extra"),
        (8, "missing columns", "5"),
        (9, "invalid UTF-8", "6,?"),
    ]
    reader.close(opened)
