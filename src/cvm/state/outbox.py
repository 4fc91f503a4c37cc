"""The message outbox: rendered messages waiting to be sent, claimed by dispatch workers.

A message moves ``queued → sending → sent`` (or back to ``queued`` with a later ``not_before``
on a temporary error, or to ``dead`` with the reason). Claiming sets ``sending`` with a lease
in one statement: on PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` then ``UPDATE``, so
concurrent workers never block on or share a row; on SQLite one ``UPDATE … WHERE id IN
(SELECT … LIMIT n) RETURNING`` under SQLite's single-writer lock. A row still ``sending`` after
its lease ran out belongs to a worker that died: it is claimed again and resent with the same
idempotency key (the provider-side dedup key), which is the whole of the crash story.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, or_, select, update

from cvm.state.tables import intake_batches, outbox
from cvm.state.upsert import chunks, insert_ignore

CLAIMABLE = ("queued",)
FINAL = ("sent", "dead", "cancelled", "skipped")
_CLAIM_COLUMNS = [
    outbox.c.id, outbox.c.idempotency_key, outbox.c.campaign_id, outbox.c.run_id,
    outbox.c.customer_id, outbox.c.step, outbox.c.channel, outbox.c.purpose, outbox.c.address,
    outbox.c.language, outbox.c.time_zone, outbox.c.subject, outbox.c.body, outbox.c.html,
    outbox.c.meta, outbox.c.not_before, outbox.c.attempts, outbox.c.cancel_event,
]  # fmt: skip


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's own SQLite DateTime spelling (always with microseconds), so stored and
    # bound timestamps compare correctly as text.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if value is not None else None


def _sqlite_json(value: Any) -> str | None:
    return (
        json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value is not None else None
    )


def _insert_sqlite(conn: Any, rows: Sequence[dict[str, Any]]) -> None:
    """The driver's executemany with plain tuples: Core's per-row processing costs more than
    SQLite itself at a million messages."""
    if not rows:
        return
    # A big launch inserts into indexes far larger than SQLite's default 2 MB page cache; a
    # larger cache on this connection keeps the index pages in memory (a memory setting only).
    conn.exec_driver_sql("PRAGMA cache_size = -262144")
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    # Identifiers come from our own table; every value is bound.
    sql = f'INSERT OR IGNORE INTO "outbox" ({names}) VALUES ({marks})'  # noqa: S608
    kinds = {c.name: type(c.type).__name__ for c in outbox.columns}
    convert = [
        (i, _sqlite_time if kinds[c] == "DateTime" else _sqlite_json)
        for i, c in enumerate(columns)
        if kinds[c] in ("DateTime", "JSON")
    ]
    params = []
    for r in rows:
        values = [r[c] for c in columns]
        for i, fn in convert:
            values[i] = fn(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


class OutboxStore:
    """Repository over `outbox`; one instance per process, safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    # -- writing ----------------------------------------------------------------------------
    def enqueue(
        self,
        rows: Sequence[dict[str, Any]],
        conn: Any = None,
        before_insert: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Insert rendered messages in one transaction; rows whose idempotency key exists are
        skipped (a re-run of the same occurrence adds nothing). ``before_insert`` sees the new
        rows first (and may change them). Returns the rows inserted."""
        if not rows:
            return []
        if conn is None:
            with self.engine.begin() as own:
                return self.enqueue(rows, own, before_insert)
        keys = [r["idempotency_key"] for r in rows]
        before = self._existing(conn, keys)
        fresh = [r for r in rows if r["idempotency_key"] not in before]
        if before_insert is not None and fresh:
            before_insert(fresh)
        if conn.dialect.name == "sqlite":
            _insert_sqlite(conn, fresh)
        else:
            insert_ignore(conn, outbox, fresh, ["idempotency_key"])
        return fresh

    @staticmethod
    def _existing(conn: Any, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(keys, 900):
            query = select(outbox.c.idempotency_key).where(outbox.c.idempotency_key.in_(chunk))
            found.update(r[0] for r in conn.execute(query))
        return found

    def claim(
        self,
        worker: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        watermark: datetime | None,
        channels: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` due messages (and expired leases) for ``worker``.

        A message that waits for a cancelling event is due only once every event received
        up to its send time has been checked (its time is before ``watermark``, written by the
        trigger evaluator).
        """
        due = and_(outbox.c.status == "queued", outbox.c.not_before <= now)
        if watermark is None:
            due = and_(due, outbox.c.cancel_event.is_(None))
        else:
            due = and_(due, or_(outbox.c.cancel_event.is_(None), outbox.c.not_before < watermark))
        expired = and_(outbox.c.status == "sending", outbox.c.lease_until < now)
        where = or_(due, expired)
        if channels:
            where = and_(where, outbox.c.channel.in_(list(channels)))
        pick = select(outbox.c.id).where(where).order_by(outbox.c.not_before, outbox.c.id)
        values = {
            "status": "sending",
            "lease_until": lease_until,
            "worker": worker,
            "attempts": outbox.c.attempts + 1,
        }
        with self.engine.begin() as conn:
            if self.postgres:
                ids = [
                    r[0] for r in conn.execute(pick.limit(limit).with_for_update(skip_locked=True))
                ]
                if not ids:
                    return []
                target = outbox.c.id.in_(ids)
            else:
                target = outbox.c.id.in_(pick.limit(limit).scalar_subquery())
            statement = update(outbox).where(target).values(**values).returning(*_CLAIM_COLUMNS)
            rows = [dict(r._mapping) for r in conn.execute(statement)]
        rows.sort(key=lambda r: (r["not_before"], r["id"]))
        return rows

    def complete(
        self,
        worker: str,
        sent: Sequence[dict[str, Any]] = (),
        retry: Sequence[dict[str, Any]] = (),
        dead: Sequence[dict[str, Any]] = (),
        skipped: Sequence[dict[str, Any]] = (),
        events: Sequence[dict[str, Any]] = (),
        conn: Any = None,
    ) -> None:
        """Record a batch's outcomes (and their message events) in one transaction.

        Each update is guarded by ``worker`` and ``status = 'sending'``: a worker whose lease
        ran out and whose row was taken over cannot overwrite the newer outcome.
        """
        if conn is None:
            with self.engine.begin() as own:
                self.complete(worker, sent, retry, dead, skipped, events, own)
            return
        guard = and_(
            outbox.c.id == bindparam("b_id"),
            outbox.c.worker == worker,
            outbox.c.status == "sending",
        )
        if sent:
            conn.execute(
                update(outbox).where(guard).values(
                    status="sent", sent_at=bindparam("b_at"), provider_id=bindparam("b_pid"),
                    lease_until=None, last_error=bindparam("b_err"), history_pending=True,
                ),
                [{"b_id": r["id"], "b_at": r["at"], "b_pid": r.get("provider_id"),
                  "b_err": r.get("detail")} for r in sent],
            )  # fmt: skip
        if retry:
            conn.execute(
                update(outbox).where(guard).values(
                    status="queued", not_before=bindparam("b_nb"), lease_until=None,
                    last_error=bindparam("b_err"), attempts=bindparam("b_att"),
                ),
                [{"b_id": r["id"], "b_nb": r["not_before"], "b_err": r.get("detail"),
                  "b_att": r["attempts"]} for r in retry],
            )  # fmt: skip
        for status, rows in (("dead", dead), ("skipped", skipped)):
            if rows:
                conn.execute(
                    update(outbox).where(guard).values(
                        status=status, lease_until=None, last_error=bindparam("b_err"),
                        history_pending=True,
                    ),
                    [{"b_id": r["id"], "b_err": r.get("detail")} for r in rows],
                )  # fmt: skip
        if events:
            from cvm.state.message_events import add_events

            add_events(conn, events)

    # -- bulk status changes ----------------------------------------------------------------
    def move(self, campaign_id: str, from_status: Sequence[str], to_status: str) -> int:
        """Pause (queued → paused), resume (paused → queued), stop (… → cancelled)."""
        values: dict[str, Any] = {"status": to_status}
        if to_status == "cancelled":
            values.update(history_pending=True, last_error="campaign stopped")
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.campaign_id == campaign_id, outbox.c.status.in_(list(from_status)))
                .values(**values)
            )
        return int(result.rowcount or 0)

    def cancel_waiting(
        self,
        campaign_id: str,
        event: str,
        customer_ids: Sequence[str],
        occurred: dict[str, datetime],
    ) -> list[str]:
        """Cancel messages waiting for ``event`` from these customers (the abandoned cart
        bought after all); ``occurred`` gives each customer's earliest such event. Returns the
        cancelled keys."""
        cancelled: list[str] = []
        with self.engine.begin() as conn:
            for chunk in chunks(list(customer_ids)):
                query = select(
                    outbox.c.id, outbox.c.idempotency_key, outbox.c.customer_id,
                    outbox.c.cancel_after,
                ).where(
                    outbox.c.campaign_id == campaign_id, outbox.c.cancel_event == event,
                    outbox.c.customer_id.in_(chunk),
                    outbox.c.status.in_(["queued", "paused"]),
                )  # fmt: skip
                hits = [
                    r
                    for r in conn.execute(query)
                    if r.cancel_after is None or occurred[r.customer_id] >= r.cancel_after
                ]
                if not hits:
                    continue
                conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id.in_([r.id for r in hits]),
                        outbox.c.status.in_(["queued", "paused"]),
                    )
                    .values(status="cancelled", history_pending=True, last_error=f"{event} arrived")
                )
                cancelled += [r.idempotency_key for r in hits]
        return cancelled

    # -- reading ----------------------------------------------------------------------------
    def in_flight(self) -> int:
        """How many messages are being sent (claimed, not completed), leases expired or not.

        A worker that drains the queue (`--once`) waits until this is zero: a lease held by a
        worker that died is taken over only once it expires, and leaving before that would
        strand the message until the next run."""
        query = select(func.count()).where(outbox.c.status == "sending")
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def counts(self, campaign_id: str | None = None) -> dict[str, int]:
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        if campaign_id is not None:
            query = query.where(outbox.c.campaign_id == campaign_id)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query)}

    def by_key(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.idempotency_key == key)).first()
        return dict(row._mapping) if row is not None else None

    def by_provider_id(self, provider_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.provider_id == provider_id)).first()
        return dict(row._mapping) if row is not None else None

    def messages(
        self, campaign_id: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        query = select(outbox).order_by(outbox.c.id).limit(limit)
        if campaign_id is not None:
            query = query.where(outbox.c.campaign_id == campaign_id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def recent_sends(
        self, customer_ids: Sequence[str], since: datetime, exclude_ids: Sequence[int] = ()
    ) -> list[dict[str, Any]]:
        """Messages sent (or being sent) to these customers since ``since``: the send-time
        frequency-cap count (customer_id, channel, purpose, at)."""
        rows: list[dict[str, Any]] = []
        skip = set(exclude_ids)
        with self.engine.connect() as conn:
            for chunk in chunks(list(customer_ids)):
                query = select(
                    outbox.c.id, outbox.c.customer_id, outbox.c.channel, outbox.c.purpose,
                    func.coalesce(outbox.c.sent_at, outbox.c.not_before).label("at"),
                ).where(
                    outbox.c.customer_id.in_(chunk), outbox.c.status.in_(["sent", "sending"]),
                    func.coalesce(outbox.c.sent_at, outbox.c.not_before) > since,
                )  # fmt: skip
                rows += [dict(r._mapping) for r in conn.execute(query) if r.id not in skip]
        return rows

    def spent(self, campaign_id: str) -> dict[str, int]:
        """Messages per channel that count against a campaign's budget (not cancelled,
        skipped or dead)."""
        query = (
            select(outbox.c.channel, func.count())
            .where(
                outbox.c.campaign_id == campaign_id,
                outbox.c.status.notin_(["cancelled", "skipped", "dead"]),
            )
            .group_by(outbox.c.channel)
        )
        with self.engine.connect() as conn:
            return {str(c): int(n) for c, n in conn.execute(query)}

    def intake_backlog_since(self) -> datetime | None:
        """Receipt time of the oldest intake request not loaded yet (None: all loaded)."""
        query = select(func.min(intake_batches.c.received_at)).where(
            intake_batches.c.loaded_at.is_(None)
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one()
        return value if isinstance(value, datetime) else None

    # -- contact history mirror -------------------------------------------------------------
    def pending_history(self, limit: int) -> list[dict[str, Any]]:
        query = (
            select(
                outbox.c.id, outbox.c.idempotency_key, outbox.c.campaign_id,
                outbox.c.customer_id, outbox.c.channel, outbox.c.purpose, outbox.c.status,
                outbox.c.not_before, outbox.c.sent_at, outbox.c.meta,
            )
            .where(outbox.c.history_pending.is_(True))
            .order_by(outbox.c.id)
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def clear_history(self, rows: Sequence[dict[str, Any]]) -> None:
        """Clear the flag where the status is still the one mirrored (compare and set)."""
        by_status: dict[str, list[int]] = {}
        for r in rows:
            by_status.setdefault(r["status"], []).append(int(r["id"]))
        with self.engine.begin() as conn:
            for status, ids in by_status.items():
                for chunk in chunks(ids, 900):
                    conn.execute(
                        update(outbox)
                        .where(outbox.c.id.in_(chunk), outbox.c.status == status)
                        .values(history_pending=False)
                    )
