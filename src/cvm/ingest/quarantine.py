"""The quarantine: every refused row, with its run, source, line, column, reason and raw text.

A run collects its refusals from three places: rows the parser could not split (the reader's
structural rejects), rows whose values failed a check (re-derived from the stage's bad rows,
one entry per failing check), and rows refused after staging (duplicates, unknown
customers). Line numbers are looked up once per source for all of them together
(`SourceReader.locate`), then everything is written to the `quarantine` table in the run's
transaction. `list_quarantine` and `show_quarantine` read it back for `cvm quarantine`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.engine.base import Engine
from cvm.engine.sources import OpenedSource, SourceReader, StructuralReject
from cvm.engine.sql import literal
from cvm.engine.warehouse import INGEST_RUNS, QUARANTINE
from cvm.ingest.load import RunTables, create_temp
from cvm.ingest.plan import IngestPlan
from cvm.ingest.staging import union_plan
from cvm.ingest.validate import (
    BAD,
    MALFORMED,
    RAW,
    checks,
    col,
    p_name,
    stores_prepared,
    unpack_detail,
    value_columns,
)


def _table(name: str, alias: str | None = None) -> exp.Table:
    table = exp.to_table(name, quoted=True)
    return table.as_(alias) if alias else table  # type: ignore[return-value]


def _ref(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


def collect_failures(engine: Engine, plans: list[IngestPlan], tables: RunTables, name: str) -> None:
    """A temp table of (row, file, rec, column, reason, raw) for every value-level refusal.

    The stage's bad rows (few) are unpacked first, then each check is re-evaluated on them."""
    bad_rows = f"{name}_bad"
    prepared = sorted({p_name(c.name) for p in plans for c in p.columns if stores_prepared(c)})
    unpacked = (
        exp.select(
            exp.column("rowid").as_("_row"),
            col("_file"),
            col("_rec"),
            *[col(c) for c in value_columns(union_plan(plans))],
            *[unpack_detail(n).as_(n, quoted=True) for n in [*prepared, RAW, MALFORMED]],
        )
        .from_(_table(tables.stage))
        .where(col(BAD))
    )
    create_temp(engine, bad_rows, unpacked)
    identity = [col("_row"), col("_file"), col("_rec")]
    parts: list[exp.Select] = []
    for file_index, plan in enumerate(plans):
        in_file = exp.EQ(this=col("_file"), expression=exp.Literal.number(file_index))
        malformed = exp.Not(this=exp.Is(this=col(MALFORMED), expression=exp.Null()))
        parts.append(
            exp.select(
                *[i.copy() for i in identity],
                exp.Literal.string("").as_("column_name"),
                col(MALFORMED).as_("reason"),
                col(RAW),
            )
            .from_(_table(bad_rows))
            .where(exp.And(this=in_file.copy(), expression=malformed))
        )
        well_formed = exp.Is(this=col(MALFORMED), expression=exp.Null())
        for check in checks(plan):
            condition = exp.And(
                this=exp.And(this=in_file.copy(), expression=well_formed.copy()),
                expression=check.safe,
            )
            parts.append(
                exp.select(
                    *[i.copy() for i in identity],
                    exp.Literal.string(check.column),
                    exp.Literal.string(check.reason),
                    col(RAW),
                )
                .from_(_table(bad_rows))
                .where(condition)
            )
    # Rows refused after staging have no raw text kept; their typed values stand in for it.
    names = value_columns(union_plan(plans))
    pairs = [exp.JSONKeyValue(this=exp.Literal.string(c), expression=_ref("s", c)) for c in names]
    parts.append(
        exp.select(
            _ref("l", "_row"),
            _ref("s", "_file"),
            _ref("s", "_rec"),
            _ref("l", "column_name"),
            _ref("l", "reason"),
            exp.cast(exp.JSONObject(expressions=pairs), "VARCHAR"),
        )
        .from_(_table(tables.late, "l"))
        .join(
            _table(tables.stage, "s"),
            on=exp.EQ(this=_ref("l", "_row"), expression=exp.column("rowid", table="s")),
        )
    )
    union: exp.Expression = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False)
    create_temp(engine, name, union)
    engine.execute(exp.Drop(tables=[_table(bad_rows)], kind="TABLE", exists=True))


def locate_failures(
    engine: Engine,
    reader: SourceReader,
    opened: list[OpenedSource],
    tables: RunTables,
    failures: str,
) -> tuple[pa.Table, list[tuple[int, StructuralReject]]]:
    """The line of every refused row (by stage row), and each source's structural rejects.

    A row's ordinal in its source is the reader's `_rec`, or else its stage position within
    the file (rowid - the file's first rowid + 1)."""
    ordinal = exp.Coalesce(
        this=_ref("q", "_rec"),
        expressions=[
            exp.Add(
                this=exp.Sub(this=_ref("q", "_row"), expression=_ref("f", "_start")),
                expression=exp.Literal.number(1),
            )
        ],
    )
    query = (
        exp.select(_ref("q", "_row"), _ref("q", "_file"), ordinal.as_("_ord"))
        .distinct()
        .from_(_table(failures, "q"))
        .join(tables.files(), on=exp.EQ(this=_ref("q", "_file"), expression=_ref("f", "_file")))
    )
    rows = engine.fetch_rows(query)
    refused = np.array([r[0] for r in rows], dtype=np.int64)
    files = np.array([r[1] for r in rows], dtype=np.int64)
    ordinals = np.array([r[2] for r in rows], dtype=np.int64)
    lines = np.zeros(refused.size, dtype=np.int64)
    rejects: list[tuple[int, StructuralReject]] = []
    for index, source in enumerate(opened):
        mine = files == index
        found, mine_lines = reader.locate(source, ordinals[mine])
        rejects.extend((index, r) for r in found)
        lines[mine] = mine_lines
    return pa.table({"_row": refused, "line": lines}), rejects


def failure_reasons(
    engine: Engine, failures: str, rejects: list[tuple[int, StructuralReject]]
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    query = (
        exp.select(col("reason"), exp.Count(this=exp.Star()))
        .from_(_table(failures))
        .group_by(col("reason"))
    )
    for reason, count in engine.fetch_rows(query):
        counts[str(reason)] += int(str(count))
    counts.update(r.reason for _, r in rejects)
    return dict(counts.most_common())


def write_quarantine(
    engine: Engine,
    *,
    run_id: str,
    table: str,
    tables: RunTables,
    failures: str,
    located: str,
    rejects: str,
    at: dt.datetime,
) -> int:
    """Insert the run's refusals into the warehouse `quarantine` table."""
    columns = [c.name for c in QUARANTINE.columns]
    run, target, when = literal(run_id), literal(table), literal(at)
    from_failures = (
        exp.select(
            run,
            target,
            _ref("f", "_source"),
            _ref("n", "line"),
            _ref("q", "column_name"),
            _ref("q", "reason"),
            _ref("q", RAW),
            when,
        )
        .from_(_table(failures, "q"))
        .join(_table(located, "n"), on=exp.EQ(this=_ref("q", "_row"), expression=_ref("n", "_row")))
        .join(tables.files(), on=exp.EQ(this=_ref("q", "_file"), expression=_ref("f", "_file")))
    )
    from_rejects = (
        exp.select(
            run.copy(),
            target.copy(),
            _ref("f", "_source"),
            _ref("r", "line"),
            exp.Literal.string(""),
            _ref("r", "reason"),
            _ref("r", "raw"),
            when.copy(),
        )
        .from_(_table(rejects, "r"))
        .join(tables.files(), on=exp.EQ(this=_ref("r", "_file"), expression=_ref("f", "_file")))
    )
    target_schema = exp.Schema(
        this=_table(QUARANTINE.name),
        expressions=[exp.to_identifier(c, quoted=True) for c in columns],
    )
    statement = exp.Insert(
        this=target_schema, expression=exp.union(from_failures, from_rejects, distinct=False)
    )
    return int(engine.fetch_scalar(statement) or 0)  # type: ignore[call-overload]


def rejects_table(rejects: list[tuple[int, StructuralReject]]) -> pa.Table:
    return pa.table(
        {
            "_file": pa.array([f for f, _ in rejects], pa.int64()),
            "line": pa.array([r.line for _, r in rejects], pa.int64()),
            "reason": pa.array([r.reason for _, r in rejects], pa.string()),
            "raw": pa.array([r.raw for _, r in rejects], pa.string()),
        }
    )


def _records(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def list_quarantine(engine: Engine, run: str | None = None) -> list[dict[str, Any]]:
    """Without a run: one line per ingestion run that quarantined rows. With one: its reasons
    (reason, column, rows, first line)."""
    if run is None:
        started = exp.func(
            "strftime", exp.column("started_at"), exp.Literal.string("%Y-%m-%d %H:%M:%S")
        )
        query = (
            exp.select(
                exp.column("ingest_run").as_("run"),
                exp.column("table_name").as_("table"),
                exp.column("source"),
                started.as_("started"),
                exp.column("rows_read").as_("read"),
                exp.column("rows_quarantined").as_("quarantined"),
            )
            .from_(_table(INGEST_RUNS.name))
            .where(exp.GT(this=exp.column("rows_quarantined"), expression=exp.Literal.number(0)))
            .order_by(exp.Ordered(this=exp.column("started_at"), desc=True))
        )
        return _records(engine.fetch_arrow(query))
    query = (
        exp.select(
            exp.column("reason"),
            exp.column("column_name"),
            exp.Count(this=exp.Star()).as_("rows"),
            exp.Min(this=exp.column("row_number")).as_("first_row"),
        )
        .from_(_table(QUARANTINE.name))
        .where(exp.EQ(this=exp.column("ingest_run"), expression=literal(run)))
        .group_by(exp.column("reason"), exp.column("column_name"))
        .order_by(exp.Ordered(this=exp.column("rows"), desc=True), exp.column("reason"))
    )
    return _records(engine.fetch_arrow(query))


def show_quarantine(engine: Engine, run: str, limit: int = 50) -> list[dict[str, Any]]:
    """The quarantined rows of one run, in file order."""
    query = (
        exp.select("source", "row_number", "column_name", "reason", "raw")
        .from_(_table(QUARANTINE.name))
        .where(exp.EQ(this=exp.column("ingest_run"), expression=literal(run)))
        .order_by("source", "row_number", "column_name")
        .limit(limit)
    )
    return _records(engine.fetch_arrow(query))
