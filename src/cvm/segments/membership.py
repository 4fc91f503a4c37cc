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
from cvm.engine.base import Engine, count_rows
from cvm.segments.classify import Schedule, classify
from cvm.segments.compile import compile_segment
from cvm.segments.context import CompileContext, utc_naive
from cvm.segments.fields import field_catalog
from cvm.segments.predicates import timestamp_literal
from cvm.segments.store import SegmentStore
from cvm.segments.tables import (
    SEGMENT_MEMBERSHIP,
    SEGMENT_MEMBERSHIP_HISTORY,
    SEGMENT_TRANSITIONS,
    ensure_membership_tables,
)

NEW, ENTERED, EXITED = "_cvm_segment_new", "_cvm_segment_entered", "_cvm_segment_exited"
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
    seconds: float


@dataclass
class RefreshReport:
    refresh_id: str
    as_of: dt.datetime
    segments: list[SegmentRefresh] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.segments)


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


def _reconcile(
    engine: Engine, name: str, members: exp.Select, ctx: CompileContext, refresh_id: str
) -> tuple[int, int, int]:
    """Diff new members against current ones (for ``ctx.customer_ids`` only when given)."""
    segment = exp.column("segment").eq(exp.Literal.string(name))
    current = _ids(SEGMENT_MEMBERSHIP.name).where(
        exp.and_(segment, *ctx.restriction(exp.column("customer_id")))
    )
    engine.execute(_temp(NEW, members))
    engine.execute(_temp(ENTERED, exp.except_(_ids(NEW), current)))
    engine.execute(_temp(EXITED, exp.except_(current.copy(), _ids(NEW))))
    at, now = timestamp_literal(ctx.as_of), timestamp_literal(utc_naive(None))
    label = exp.Literal.string(name)
    for table, transition in ((ENTERED, "entered"), (EXITED, "exited")):
        rows = exp.select(
            label,
            "customer_id",
            exp.Literal.string(transition),
            at,
            exp.Literal.string(refresh_id),
            now,
        ).from_(table)
        columns = ["segment", "customer_id", "transition", "at", "refresh_id", "recorded_at"]
        engine.execute(exp.insert(rows, SEGMENT_TRANSITIONS.name, columns=columns))
    entering = exp.select(label, "customer_id", at).from_(ENTERED)
    engine.execute(
        exp.insert(
            entering, SEGMENT_MEMBERSHIP.name, columns=["segment", "customer_id", "entered_at"]
        )
    )
    engine.execute(
        exp.insert(
            entering.copy(),
            SEGMENT_MEMBERSHIP_HISTORY.name,
            columns=["segment", "customer_id", "entered_at"],
        )
    )
    leaving = exp.column("customer_id").isin(query=_ids(EXITED))
    engine.execute(exp.delete(SEGMENT_MEMBERSHIP.name, where=exp.and_(segment, leaving)))
    still_open = exp.and_(segment, exp.column("exited_at").is_(exp.null()), leaving.copy())
    engine.execute(exp.update(SEGMENT_MEMBERSHIP_HISTORY.name, {"exited_at": at}, where=still_open))
    counts = [int(engine.fetch_scalar(count_rows(t)) or 0) for t in (NEW, ENTERED, EXITED)]  # type: ignore[call-overload]
    return counts[0], counts[1], counts[2]


def _refresh(
    store: SegmentStore, names: Sequence[str], ctx: CompileContext, schedules: dict[str, Schedule]
) -> RefreshReport:
    engine = store.engine
    ensure_membership_tables(engine)
    refresh_id = f"{ctx.as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    report = RefreshReport(refresh_id, ctx.as_of)
    catalog = field_catalog(engine)
    _check_forward(engine, names, ctx.as_of)
    with _transaction(engine):
        for name in names:
            started = time.perf_counter()
            query = compile_segment(store.resolve(name), ctx.entering(name), catalog)
            members, entered, exited = _reconcile(engine, name, query, ctx, refresh_id)
            elapsed = time.perf_counter() - started
            report.segments.append(
                SegmentRefresh(name, schedules[name], members, entered, exited, elapsed)
            )
    for table in (NEW, ENTERED, EXITED):
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
) -> RefreshReport:
    """Re-evaluate ``segments`` (default: all stored) for every customer at ``as_of``."""
    store = store or SegmentStore(engine)
    names = list(segments) if segments is not None else store.names()
    for name in names:
        store.get(name)  # unknown names fail before anything changes
    return _refresh(store, names, store.context(as_of), segment_schedules(store))


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
        return _refresh(store, names, replace(ctx, tables=LIVE_TABLES), schedules)
    finally:
        for temporary in LIVE_TABLES.values():
            engine.execute(f"DROP TABLE IF EXISTS {temporary}")
