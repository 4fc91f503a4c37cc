"""Staging: scan every source once into one temporary table, with progress.

The stage's columns are the union over the run's sources (files of one folder may carry
different optional columns; a column a file lacks is NULL in its rows, which an upsert never
writes over a stored value). Each source is scanned exactly once, by the statement
`validate.stage_select` builds; the reader reports the scan's progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import sqlglot.expressions as exp

from cvm.engine.base import Engine, count_rows
from cvm.engine.sources import OpenedSource, SourceReader
from cvm.ingest.load import create_temp
from cvm.ingest.plan import ColumnPlan, IngestPlan
from cvm.ingest.validate import BAD, CONTENT, DETAIL, derived_key_update, stage_select

MEGABYTE = 1024 * 1024


def union_plan(plans: list[IngestPlan]) -> IngestPlan:
    """One plan whose columns are every column any source provides, in contract order."""
    if len(plans) == 1:
        return plans[0]
    chosen: dict[str, ColumnPlan] = {}
    for plan in plans:
        for column in plan.columns:
            chosen.setdefault(column.name, column)
    order = [c.name for c in plans[0].contract.columns]
    columns = tuple(chosen[name] for name in order if name in chosen)
    return replace(
        plans[0], columns=columns, compute_is_return=any(p.compute_is_return for p in plans)
    )


def _stage_schema(plans: list[IngestPlan]) -> list[tuple[str, str]]:
    merged = union_plan(plans)
    columns = [("_file", "INTEGER"), ("_rec", "BIGINT")]
    columns += [(c.name, c.column.sql_type) for c in merged.columns]
    if merged.compute_is_return:
        columns.append(("is_return", "BOOLEAN"))
    if merged.derived is not None:
        columns.append((CONTENT, "VARCHAR"))
    columns += [(BAD, "BOOLEAN"), (DETAIL, "VARCHAR")]
    return columns


def stage_sources(
    engine: Engine,
    reader: SourceReader,
    opened: list[OpenedSource],
    plans: list[IngestPlan],
    stage: str,
    progress: Callable[[str, float, float], None] | None,
) -> list[int]:
    """Fill the stage table from every source, one scan each; returns each source's first
    stage rowid (rows of one source are contiguous and in file order)."""
    empty = exp.select(
        *[
            exp.cast(exp.Null(), sql_type).as_(name, quoted=True)
            for name, sql_type in _stage_schema(plans)
        ]
    ).where(exp.false())
    create_temp(engine, stage, empty)
    sizes = [(o.size_bytes or 0) / MEGABYTE for o in opened]
    total = sum(sizes)
    done = 0.0
    starts: list[int] = []
    rows = 0
    for index, (source, plan) in enumerate(zip(opened, plans, strict=True)):
        starts.append(rows)
        select = stage_select(
            plan, source.view, index, source.raw, source.malformed, source.numbered
        )
        target = exp.Schema(
            this=exp.to_table(stage, quoted=True),
            expressions=[exp.to_identifier(n, quoted=True) for n in select.named_selects],
        )
        report = None
        if progress is not None:
            label = (
                f"reading {source.source.label}"
                if len(opened) == 1
                else f"reading file {index + 1}/{len(opened)}"
            )

            def report(
                fraction: float, start: float = done, size: float = sizes[index], text: str = label
            ) -> None:
                progress(text, round(start + fraction * size, 1), round(total, 1))

        reader.scan(source, exp.Insert(this=target, expression=select), report)
        done += sizes[index]
        rows = int(str(engine.fetch_scalar(count_rows(stage))))
    update = derived_key_update(stage, union_plan(plans))
    if update is not None:
        engine.execute(update)
    return starts
