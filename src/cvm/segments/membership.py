"""Membership over time: current members, their history, and the entry/exit transitions.

`refresh_memberships` evaluates segments at ``as_of`` and reconciles the result with
`segment_membership`: new members enter (a history row opens, an ``entered`` transition is
written), departed ones exit (their history row closes, an ``exited`` transition is written).
All segments of one refresh change in one transaction, and ``as_of`` may not go back before a
change already recorded, so history never runs backwards.

`refresh_event_driven` does the same for a few customers and only the event-driven segments
(`cvm.segments.classify`); it first copies those customers' events, purchases and consents to
small temporary tables, so its cost hardly depends on the size of the warehouse.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import sqlglot.expressions as exp

from cvm.core.errors import ConflictError
from cvm.engine.base import Engine
from cvm.segments.classify import Schedule, classify
from cvm.segments.compile import compile_flags
from cvm.segments.context import CompileContext, utc_naive
from cvm.segments.definition import Node
from cvm.segments.fields import FieldCatalog, field_catalog
from cvm.segments.predicates import timestamp_literal
from cvm.segments.store import SegmentStore
from cvm.segments.tables import (
    SEGMENT_MEMBERSHIP,
    SEGMENT_MEMBERSHIP_HISTORY,
    SEGMENT_TRANSITIONS,
    ensure_membership_tables,
)

NEW, ENTERED, EXITED = "_cvm_segment_new", "_cvm_segment_entered", "_cvm_segment_exited"
FLAGS, CURRENT = "_cvm_segment_flags", "_cvm_segment_current"
LIVE_TABLES = {
    "events": "_cvm_live_events",
    "transactions": "_cvm_live_transactions",
    "consents": "_cvm_live_consents",
}


@dataclass(frozen=True)
class SegmentRefresh:
    segment: str
    schedule: Schedule
    members: int
    entered: int
    exited: int


@dataclass
class RefreshReport:
    refresh_id: str
    as_of: dt.datetime
    segments: list[SegmentRefresh] = field(default_factory=list)
    seconds: float = 0.0


def _temp(name: str, query: exp.Expression) -> exp.Create:
    return exp.Create(
        this=exp.to_table(name),
        kind="TABLE",
        replace=True,
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def _ids(table: str) -> exp.Select:
    return exp.select("customer_id").from_(exp.to_table(table))


@contextmanager
def _transaction(engine: Engine) -> Iterator[None]:
    engine.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        engine.execute("ROLLBACK")
        raise
    engine.execute("COMMIT")


def _check_forward(engine: Engine, names: Sequence[str], as_of: dt.datetime) -> None:
    query = (
        exp.select(exp.Max(this=exp.column("at")))
        .from_(SEGMENT_TRANSITIONS.name)
        .where(exp.column("segment").isin(*(exp.Literal.string(n) for n in names)))
    )
    latest = engine.fetch_scalar(query) if names else None
    if isinstance(latest, dt.datetime) and as_of < latest:
        raise ConflictError(
            f"as_of {as_of} is before the last recorded change ({latest}); "
            "membership history only moves forward"
        )


def _same_pair(table: str, target: str) -> exp.Exists:
    """``EXISTS (SELECT 1 FROM table x WHERE x.segment = target.segment AND …customer_id)``."""
    match = exp.and_(
        *(
            exp.column(c, table="x").eq(exp.column(c, table=target))
            for c in ("segment", "customer_id")
        )
    )
    return exp.Exists(this=exp.select("1").from_(exp.to_table(table).as_("x")).where(match))


def _reconcile(
    engine: Engine,
    nodes: dict[str, Node],
    ctx: CompileContext,
    refresh_id: str,
    catalog: FieldCatalog,
) -> dict[str, tuple[int, int, int]]:
    """Diff new members of a group of segments against the current ones (only for
    ``ctx.customer_ids`` when given); returns (members, entered, exited) per segment."""
    names = [exp.Literal.string(n) for n in nodes]
    flags, flag_of = compile_flags(nodes, ctx, catalog)
    engine.execute(_temp(FLAGS, flags))
    pairs = [
        exp.select(exp.Literal.string(name).as_("segment"), "customer_id")
        .from_(FLAGS)
        .where(exp.column(flag_of[name]))
        for name in nodes
    ]
    new: exp.Expr = pairs[0]
    for pair in pairs[1:]:
        new = exp.Union(this=new, expression=pair, distinct=False)  # no copies: O(n), not O(n²)
    members_of = SEGMENT_MEMBERSHIP.name
    restriction = ctx.restriction(exp.column("customer_id"))
    if restriction:
        # The customers' rows first, alone: a filter on customer_id only is what lets the
        # engine use the index of ensure_live_indexes (mixed with segment it scans everything).
        mine = exp.select("segment", "customer_id").from_(members_of).where(*restriction)
        engine.execute(_temp(CURRENT, mine))
        members_of = CURRENT
    current = (
        exp.select("segment", "customer_id")
        .from_(members_of)
        .where(exp.column("segment").isin(*names))
    )
    both = exp.select("segment", "customer_id")
    engine.execute(_temp(NEW, new))  # type: ignore[arg-type]
    engine.execute(_temp(ENTERED, exp.except_(both.from_(NEW), current)))
    engine.execute(_temp(EXITED, exp.except_(current.copy(), both.copy().from_(NEW))))
    at, now = timestamp_literal(ctx.as_of), timestamp_literal(utc_naive(None))
    moves = [
        exp.select(
            "segment",
            "customer_id",
            exp.Literal.string(kind),
            at,
            exp.Literal.string(refresh_id),
            now,
        ).from_(table)
        for table, kind in ((ENTERED, "entered"), (EXITED, "exited"))
    ]
    columns = ["segment", "customer_id", "transition", "at", "refresh_id", "recorded_at"]
    engine.execute(
        exp.insert(exp.union(*moves, distinct=False), SEGMENT_TRANSITIONS.name, columns=columns)
    )
    entering = exp.select("segment", "customer_id", at).from_(ENTERED)
    for table in (SEGMENT_MEMBERSHIP.name, SEGMENT_MEMBERSHIP_HISTORY.name):
        engine.execute(
            exp.insert(entering.copy(), table, columns=["segment", "customer_id", "entered_at"])
        )
    members = SEGMENT_MEMBERSHIP.name
    engine.execute(exp.delete(members, where=_same_pair(EXITED, members)))
    history = SEGMENT_MEMBERSHIP_HISTORY.name
    still_open = exp.and_(exp.column("exited_at").is_(exp.null()), _same_pair(EXITED, history))
    engine.execute(exp.update(history, {"exited_at": at}, where=still_open))
    counted = [
        exp.select(exp.Literal.string(t).as_("t"), "segment", exp.Count(this=exp.Star()).as_("n"))
        .from_(t)
        .group_by("segment")
        for t in (NEW, ENTERED, EXITED)
    ]
    counts = {name: [0, 0, 0] for name in nodes}
    for source, segment, n in engine.fetch_rows(exp.union(*counted, distinct=False)):
        counts[str(segment)][(NEW, ENTERED, EXITED).index(str(source))] = int(n)  # type: ignore[call-overload]
    return {name: (c[0], c[1], c[2]) for name, c in counts.items()}


def _refresh(
    store: SegmentStore,
    names: Sequence[str],
    ctx: CompileContext,
    schedules: dict[str, Schedule],
    group_size: int,
) -> RefreshReport:
    engine = store.engine
    ensure_membership_tables(engine)
    refresh_id = f"{ctx.as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    report = RefreshReport(refresh_id, ctx.as_of)
    catalog = field_catalog(engine)
    _check_forward(engine, names, ctx.as_of)
    started = time.perf_counter()
    with _transaction(engine):
        # One query evaluates a whole group, reading each table once for all its conditions
        # (cvm.segments.plan); groups bound the width of that query and of its scans.
        for first in range(0, len(names), group_size):
            nodes = {n: store.resolve(n) for n in names[first : first + group_size]}
            changes = _reconcile(engine, nodes, ctx, refresh_id, catalog)
            for name, (members, entered, exited) in changes.items():
                report.segments.append(
                    SegmentRefresh(name, schedules[name], members, entered, exited)
                )
    report.seconds = time.perf_counter() - started
    for table in (FLAGS, CURRENT, NEW, ENTERED, EXITED):
        engine.execute(f"DROP TABLE IF EXISTS {table}")
    return report


def segment_schedules(store: SegmentStore) -> dict[str, Schedule]:
    return {s.name: classify(s.definition.rule, store.resolve) for s in store.all_segments()}


def refresh_memberships(
    engine: Engine,
    segments: Sequence[str] | None = None,
    as_of: dt.datetime | None = None,
    *,
    store: SegmentStore | None = None,
    group_size: int = 60,
) -> RefreshReport:
    """Re-evaluate ``segments`` (default: all stored) for every customer at ``as_of``."""
    store = store or SegmentStore(engine)
    names = list(segments) if segments is not None else store.names()
    for name in names:
        store.get(name)  # unknown names fail before anything changes
    return _refresh(store, names, store.context(as_of), segment_schedules(store), group_size)


LIVE_INDEXES = (
    ("events", "cvm_events_customer"),
    ("transactions", "cvm_transactions_customer"),
    ("consents", "cvm_consents_customer"),
    (SEGMENT_MEMBERSHIP.name, "cvm_segment_membership_customer"),
)


def ensure_live_indexes(engine: Engine) -> None:
    """Index ``customer_id`` where the live path looks customers up (opt-in, for the API).

    Without them every `refresh_event_driven` scans the whole events table (DuckDB, 20M
    events: ~2-5 s); with them a handful of customers is found in milliseconds. The price is
    memory and slower bulk writes to those tables, so a batch-only workspace skips this.
    """
    ensure_membership_tables(engine)
    for table, index in LIVE_INDEXES:
        if engine.table_exists(table):
            target = exp.to_table(table)
            engine.execute(
                exp.Create(
                    this=exp.Index(
                        this=exp.to_identifier(index),
                        table=target,
                        params=exp.IndexParameters(columns=[exp.column("customer_id")]),
                    ),
                    kind="INDEX",
                    exists=True,
                )
            )


def refresh_event_driven(
    engine: Engine,
    customer_ids: Sequence[str],
    as_of: dt.datetime | None = None,
    *,
    store: SegmentStore | None = None,
) -> RefreshReport:
    """Re-evaluate the event-driven segments for ``customer_ids`` only (the live path)."""
    store = store or SegmentStore(engine)
    ids = sorted(set(customer_ids))
    schedules = segment_schedules(store)
    names = [n for n, s in schedules.items() if s == "event_driven"]
    ctx = store.context(as_of, ids)
    if not ids or not names:
        return RefreshReport("", ctx.as_of)
    for logical, temporary in LIVE_TABLES.items():
        rows = (
            exp.select("*")
            .from_(logical)
            .where(exp.and_(*ctx.restriction(exp.column("customer_id"))))
        )
        engine.execute(_temp(temporary, rows))
    try:
        return _refresh(store, names, replace(ctx, tables=LIVE_TABLES), schedules, len(names))
    finally:
        for temporary in LIVE_TABLES.values():
            engine.execute(f"DROP TABLE IF EXISTS {temporary}")
