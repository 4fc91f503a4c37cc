"""The SQL of DuckDB's source views, as sqlglot expressions (no execution here).

- CSV/TSV: `read_csv` with every column as VARCHAR, no auto-detection (the header was read
  in Python, so the column list is explicit), and `store_rejects`: a line with too many or too
  few fields, or bytes that are not valid in the declared encoding, lands in a rejects table
  with its record index instead of failing the load.
- Whitespace-separated text (CDNOW style) and JSON Lines: `read_csv` in *line mode* (one
  VARCHAR column, no quoting), so every physical line is one row and its number is exact;
  fields are split with `regexp_extract_all(line, '\\S+')` or extracted with `->>`, and a line
  with the wrong number of fields, or that is not a JSON object, is flagged `_malformed`.
- Parquet: `read_parquet(file_row_number = true)`.

Line-mode views number lines with `row_number() OVER ()` (DuckDB keeps insertion order, so it
is the line's position); the CSV view is left unnumbered so its scan stays parallel, and the
stage numbers its rows by insertion order instead.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from cvm.engine.sources import FileSource

LINE = "_line"
REC = "_rec"
FIELDS = "_fields"
MALFORMED = "_malformed"
# A byte text files do not hold: line mode must never split a line into fields.
LINE_MODE_DELIMITER = "\x1e"


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def named(**options: object) -> list[exp.Expression]:
    """Named table-function arguments (`header = true`) as sqlglot expressions."""
    out: list[exp.Expression] = []
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, exp.Expression):
            lit: exp.Expression = value
        elif isinstance(value, bool):
            lit = exp.Boolean(this=value)
        elif isinstance(value, int):
            lit = exp.Literal.number(value)
        else:
            lit = exp.Literal.string(str(value))
        out.append(exp.EQ(this=exp.column(key), expression=lit))
    return out


def _varchar_struct(names: list[str]) -> exp.Struct:
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.Literal.string(n), expression=exp.Literal.string("VARCHAR"))
            for n in names
        ]
    )


def _row_number() -> exp.Window:
    return exp.Window(this=exp.RowNumber())


def _is_not_null(expression: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=expression, expression=exp.Null()))


def csv_view(
    source: FileSource, delimiter: str, names: list[str], rejects: str
) -> tuple[exp.Select, exp.Expression]:
    """The view over a delimited file, and the raw-row expression (fields re-joined)."""
    text = source.text
    call = exp.ReadCSV(
        this=exp.Literal.string(str(source.path)),
        expressions=named(
            columns=_varchar_struct(names),
            header=text.header,
            delim=delimiter,
            quote=text.quote or "",
            escape=text.escape if text.escape is not None else (text.quote or ""),
            encoding=text.encoding,
            skip=text.skip_rows,
            auto_detect=False,
            null_padding=False,
            store_rejects=True,
            rejects_table=rejects,
            rejects_scan=f"{rejects}_scans",
        ),
    )
    # No row_number() here: it would run the whole scan on one thread. DuckDB's parallel CSV
    # reader keeps rows in file order when they are inserted, so the stage numbers them.
    select = exp.select(*[col(n) for n in names]).from_(exp.Table(this=call))
    raw = exp.ConcatWs(
        expressions=[exp.Literal.string(delimiter)]
        + [exp.Coalesce(this=col(n), expressions=[exp.Literal.string("")]) for n in names]
    )
    return select, raw


def _whitespace_fields(
    names: list[str],
) -> tuple[exp.Expression, list[exp.Expr], exp.Expression, exp.Expression]:
    fields = exp.RegexpExtractAll(this=col(LINE), expression=exp.Literal.string(r"\S+"))
    count = exp.ArraySize(this=col(FIELDS))
    columns: list[exp.Expr] = [
        exp.Bracket(this=col(FIELDS), expressions=[exp.Literal.number(i)]).as_(n, quoted=True)
        for i, n in enumerate(names)  # sqlglot indexes from 0; DuckDB shows 1
    ]
    width = exp.Literal.number(len(names))
    malformed = (
        exp.Case()
        .when(exp.GT(this=count, expression=width), exp.Literal.string("too many columns"))
        .when(exp.LT(this=count, expression=width), exp.Literal.string("missing columns"))
    )
    keep = exp.GT(this=count, expression=exp.Literal.number(0))
    return fields, columns, malformed, keep


def _json_fields(
    names: list[str],
) -> tuple[exp.Expression, list[exp.Expr], exp.Expression, exp.Expression]:
    # Only valid JSON reaches `->>` (which raises on malformed text); others become NULL.
    fields = exp.Case().when(exp.Anonymous(this="json_valid", expressions=[col(LINE)]), col(LINE))
    doc = col(FIELDS)
    columns: list[exp.Expr] = [
        exp.JSONExtractScalar(
            this=doc,
            expression=exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=n)]),
        ).as_(n, quoted=True)
        for n in names
    ]
    malformed = (
        exp.Case()
        .when(exp.Is(this=doc, expression=exp.Null()), exp.Literal.string("invalid JSON"))
        .when(
            exp.NEQ(this=exp.JSONType(this=doc), expression=exp.Literal.string("OBJECT")),
            exp.Literal.string("not a JSON object"),
        )
    )
    keep = exp.NEQ(this=exp.Trim(this=col(LINE)), expression=exp.Literal.string(""))
    return fields, columns, malformed, keep


def lines_view(source: FileSource, names: list[str], leading: int, rejects: str) -> exp.Select:
    """The view over a whitespace-separated or JSON Lines file, read one line per row.

    `_rec` numbers every line the parser kept (blank ones too), so it is the physical line
    once the few rejected lines are accounted for; the first `leading` lines (skipped rows and
    the header) and blank lines are then left out.
    """
    build = _whitespace_fields if source.format == "whitespace" else _json_fields
    fields, columns, malformed, keep = build(names)
    call = exp.ReadCSV(
        this=exp.Literal.string(str(source.path)),
        expressions=named(
            columns=_varchar_struct([LINE]),
            header=False,
            delim=LINE_MODE_DELIMITER,
            quote="",
            escape="",
            encoding=source.text.encoding,
            auto_detect=False,
            # One column and no quoting: non-strict mode only lets a file mix \r\n and \n
            # line ends (concatenated exports), which the strict parser refuses outright.
            strict_mode=False,
            store_rejects=True,
            rejects_table=rejects,
            rejects_scan=f"{rejects}_scans",
        ),
    )
    numbered = (
        exp.select(_row_number().as_(REC), col(LINE))
        .from_(exp.Table(this=call))
        .subquery("numbered")
    )
    split = (
        exp.select(col(REC), col(LINE), fields.as_(FIELDS))
        .from_(numbered)
        .where(exp.GT(this=col(REC), expression=exp.Literal.number(leading)))
        .subquery("split")
    )
    return (
        exp.select(col(REC), col(LINE), *columns, malformed.as_(MALFORMED))
        .from_(split)
        .where(exp.And(this=_is_not_null(col(LINE)), expression=keep))
    )


def parquet_call(source: FileSource) -> exp.Table:
    return exp.Table(
        this=exp.Anonymous(
            this="read_parquet",
            expressions=[exp.Literal.string(str(source.path)), *named(file_row_number=True)],
        )
    )


def parquet_view(call: exp.Table, types: dict[str, str]) -> exp.Select:
    """Every Parquet column as text; nested values as JSON so they survive as traits."""
    columns = []
    for name, sql_type in types.items():
        value: exp.Expression = col(name)
        if any(t in sql_type.upper() for t in ("STRUCT", "MAP", "[]", "LIST", "UNION")):
            value = exp.Anonymous(this="to_json", expressions=[value])
        columns.append(exp.cast(value, "VARCHAR").as_(name, quoted=True))
    rec = exp.Add(this=exp.column("file_row_number"), expression=exp.Literal.number(1))
    return exp.select(rec.as_(REC), *columns).from_(call)


def json_of(names: list[str]) -> exp.Expression:
    """A row as a JSON object of its source columns (the raw row of Parquet and queries)."""
    pairs = [exp.JSONKeyValue(this=exp.Literal.string(n), expression=col(n)) for n in names]
    return exp.cast(exp.JSONObject(expressions=pairs), "VARCHAR")
