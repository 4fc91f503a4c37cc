"""The event intake log: one row per accepted request, committed before the API answers 200.

Durability comes from the store: SQLite in WAL mode with synchronous=FULL (fsync at each
commit) or PostgreSQL. A row holds the request body as received (decompressed, writeKey
blanked) and the indexes of the messages refused at the door; the loader normalises the rest,
moves them to the warehouse (deduplicated there by messageId) and stamps `loaded_at`, emptying
the payload: the warehouse is then the copy of record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from cvm.state.tables import intake_batches, intake_rejects


@dataclass(frozen=True)
class IntakeRow:
    seq: int
    received_at: datetime
    kind: str | None
    event_count: int
    rejected: list[int]
    payload: str


def _row(r: Any) -> IntakeRow:
    return IntakeRow(
        seq=int(r.seq),
        received_at=r.received_at,
        kind=r.kind,
        event_count=int(r.event_count),
        rejected=list(r.rejected or []),
        payload=str(r.payload),
    )


class IntakeLog:
    """Repository over `intake_batches` and `intake_rejects`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self, rows: Sequence[dict[str, Any]], rejects: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Store accepted requests and the reasons for refused messages, in one commit."""
        with self.engine.begin() as conn:
            if rows:
                conn.execute(intake_batches.insert(), list(rows))
            if rejects:
                conn.execute(intake_rejects.insert(), list(rejects))

    def fetch_unloaded(self, max_events: int) -> list[IntakeRow]:
        """Oldest unloaded requests, up to about `max_events` messages (at least one row)."""
        query = (
            select(intake_batches)
            .where(intake_batches.c.loaded_at.is_(None))
            .order_by(intake_batches.c.seq)
            .limit(max(1, max_events // 10))
        )
        rows: list[IntakeRow] = []
        total = 0
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                if rows and total + int(r.event_count) > max_events:
                    break
                rows.append(_row(r))
                total += int(r.event_count)
        return rows

    def mark_loaded(self, seqs: Sequence[int], at: datetime) -> None:
        with self.engine.begin() as conn:
            for start in range(0, len(seqs), 900):  # stay under SQLite's bound-parameter limit
                chunk = list(seqs[start : start + 900])
                conn.execute(
                    update(intake_batches)
                    .where(intake_batches.c.seq.in_(chunk))
                    .values(loaded_at=at, payload=None)
                )

    def purge_loaded(self, before: datetime) -> int:
        """Drop the bookkeeping rows of requests loaded before `before`."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(intake_batches).where(intake_batches.c.loaded_at < before))
        return int(result.rowcount or 0)

    def pending(self) -> int:
        """Messages not yet loaded (uses the loaded_at index; also proves the store answers)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.coalesce(func.sum(intake_batches.c.event_count), 0)).where(
                    intake_batches.c.loaded_at.is_(None)
                )
            ).scalar_one()
        return int(value)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            requests, events = conn.execute(
                select(func.count(), func.coalesce(func.sum(intake_batches.c.event_count), 0))
            ).one()
            rejected = conn.execute(select(func.count()).select_from(intake_rejects)).scalar_one()
        return {
            "requests": int(requests),
            "accepted": int(events),
            "pending": self.pending(),
            "rejected": int(rejected),
        }

    def unloaded(self) -> list[IntakeRow]:
        """Every request not loaded yet (privacy requests must see these too)."""
        query = (
            select(intake_batches)
            .where(intake_batches.c.loaded_at.is_(None))
            .order_by(intake_batches.c.seq)
        )
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def rewrite(self, seq: int, payload: str, event_count: int, rejected: list[int]) -> None:
        """Replace an unloaded request's body (privacy erasure removes a person's messages);
        a request left with no message is deleted."""
        with self.engine.begin() as conn:
            if event_count == 0:
                conn.execute(
                    delete(intake_batches).where(
                        intake_batches.c.seq == seq, intake_batches.c.loaded_at.is_(None)
                    )
                )
                return
            conn.execute(
                update(intake_batches)
                .where(intake_batches.c.seq == seq, intake_batches.c.loaded_at.is_(None))
                .values(payload=payload, event_count=event_count, rejected=rejected)
            )
