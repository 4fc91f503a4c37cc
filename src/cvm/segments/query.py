"""Looking at a segment: size, a preview of members with the fields that matter, export, overlap.

All of them run the compiled query at ``as_of`` (default: now), so they agree with each other
and with a refresh at the same ``as_of``; `segment_overlap` can read the materialised
`segment_membership` instead, as the report does after a refresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.segments.compile import compile_flags, compile_segment, customer_column, profile_operand
from cvm.segments.definition import (
    LocationCondition,
    NearCondition,
    ProfileCondition,
    SegmentDefinition,
    TopCondition,
    walk,
)
from cvm.segments.fields import FieldCatalog, field_catalog
from cvm.segments.store import SegmentStore
from cvm.segments.tables import SEGMENT_MEMBERSHIP

IDENTITY_COLUMNS = ("customer_id", "first_name", "last_name")
CONTACT_COLUMNS = ("email", "phone")
ExportFormat = Literal["csv", "parquet"]


def referenced_fields(definition: SegmentDefinition) -> list[str]:
    """Profile fields the rule reads, in rule order (traits keep their ``traits.KEY`` name)."""
    found: list[str] = []
    for _, node in walk(definition.rule):
        if isinstance(node, ProfileCondition | TopCondition):
            found.append(node.field)
        elif isinstance(node, LocationCondition):
            found += [k for k in ("country", "region", "city") if getattr(node, k)]
        elif isinstance(node, NearCondition):
            found += ["latitude", "longitude"]
    return list(dict.fromkeys(found))


def member_columns(
    definition: SegmentDefinition, catalog: FieldCatalog, *, contact: bool = False
) -> list[exp.Expr]:
    """Id and name, contact details when exporting, the rule's fields, then CLV."""
    names = [*IDENTITY_COLUMNS, *(CONTACT_COLUMNS if contact else ())]
    names += [f for f in referenced_fields(definition) if f not in names]
    if "clv" not in names:
        names.append("clv")
    return [profile_operand(n, catalog).as_(n, quoted=True) for n in names]


def segment_size(store: SegmentStore, name: str, as_of: dt.datetime | None = None) -> int:
    """Number of members: ``COUNT(*)`` over the compiled query (no rows leave the engine)."""
    query = compile_segment(store.resolve(name), store.context(as_of).entering(name))
    count = exp.select(exp.Count(this=exp.Star())).from_(query.subquery("members"))
    return int(store.engine.fetch_scalar(count) or 0)  # type: ignore[call-overload]


def _members_query(
    store: SegmentStore, name: str, as_of: dt.datetime | None, contact: bool
) -> exp.Select:
    definition = store.get(name).definition
    catalog = field_catalog(store.engine)
    query = compile_segment(definition.rule, store.context(as_of).entering(name), catalog)
    columns = member_columns(definition, catalog, contact=contact)
    return query.select(*columns, append=False)


def preview_segment(
    store: SegmentStore, name: str, limit: int = 20, as_of: dt.datetime | None = None
) -> pa.Table:
    """The most valuable ``limit`` members (CLV, then id) with the fields the rule reads."""
    query = _members_query(store, name, as_of, contact=False)
    ordered = query.order_by(
        exp.Ordered(this=customer_column("clv"), desc=True, nulls_first=False),
        customer_column("customer_id"),
    ).limit(limit)
    return store.engine.fetch_arrow(ordered)


def export_segment(
    store: SegmentStore,
    name: str,
    out: Path,
    fmt: ExportFormat = "csv",
    as_of: dt.datetime | None = None,
) -> int:
    """Write every member (id, name, e-mail, phone, the rule's fields, CLV); returns the rows.

    Rows stream from the engine in batches, so a segment of millions needs little memory.
    """
    if fmt not in ("csv", "parquet"):
        raise UserInputError(f"unknown export format {fmt!r}; choose csv or parquet")
    query = _members_query(store, name, as_of, contact=True).order_by(
        customer_column("customer_id")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    writer: pacsv.CSVWriter | pq.ParquetWriter | None = None
    try:
        for batch in store.engine.fetch_batches(query):
            if writer is None:
                writer = (
                    pacsv.CSVWriter(str(out), batch.schema)
                    if fmt == "csv"
                    else pq.ParquetWriter(str(out), batch.schema)
                )
            writer.write_batch(batch)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no batch at all: still write the header / schema
        empty = store.engine.fetch_arrow(query.limit(0))
        pacsv.write_csv(empty, str(out)) if fmt == "csv" else pq.write_table(empty, str(out))
    return rows


def segment_overlap(
    store: SegmentStore,
    names: Sequence[str],
    as_of: dt.datetime | None = None,
    *,
    materialised: bool = False,
) -> pd.DataFrame:
    """Square matrix of shared members: cell (a, b) = customers in both; diagonal = sizes.

    ``materialised`` reads `segment_membership` (the last refresh) instead of evaluating.
    """
    names = list(dict.fromkeys(names))
    for name in names:
        store.get(name)
    if not names:
        return pd.DataFrame(dtype="int64")
    if not materialised:
        return _live_overlap(store, names, as_of)
    parts: list[exp.Select] = [
        exp.select(exp.Literal.string(name).as_("segment"), "customer_id")
        .from_(SEGMENT_MEMBERSHIP.name)
        .where(exp.column("segment").eq(exp.Literal.string(name)))
        for name in names
    ]
    matrix = pd.DataFrame(0, index=names, columns=names, dtype="int64")
    union: exp.Expr = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False)
    first, second = exp.column("segment", table="x"), exp.column("segment", table="y")
    pairs = (
        exp.select(first, second, exp.Count(this=exp.Star()).as_("shared"))
        .from_(exp.to_table("members").as_("x"))
        .join(
            exp.to_table("members").as_("y"),
            on=exp.column("customer_id", table="x").eq(exp.column("customer_id", table="y")),
        )
        .group_by(first.copy(), second.copy())
    )
    pairs = pairs.with_("members", as_=union)
    for a, b, shared in store.engine.fetch_rows(pairs):
        matrix.loc[str(a), str(b)] = int(shared)  # type: ignore[call-overload]
    return matrix


def _live_overlap(store: SegmentStore, names: list[str], as_of: dt.datetime | None) -> pd.DataFrame:
    """All segments in one query (shared scans), then one count per pair of flags."""
    flags, flag_of = compile_flags({n: store.resolve(n) for n in names}, store.context(as_of))
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i:]]
    counts = [
        exp.Filter(
            this=exp.Count(this=exp.Star()),
            expression=exp.Where(this=exp.and_(exp.column(flag_of[a]), exp.column(flag_of[b]))),
        )
        for a, b in pairs
    ]
    row = store.engine.fetch_rows(exp.select(*counts).from_(flags.subquery("flags")))[0]
    matrix = pd.DataFrame(0, index=names, columns=names, dtype="int64")
    for (a, b), shared in zip(pairs, row, strict=True):
        matrix.loc[a, b] = matrix.loc[b, a] = int(shared)  # type: ignore[call-overload]
    return matrix
