"""The event intake log: every accepted message, committed before the API answers 200.

Durability comes from the store: SQLite in WAL mode with synchronous=FULL (fsync at each
commit) or PostgreSQL. Deduplication is the unique index on `message_id`: a retried or
replayed message is skipped inside the same statement. The loader later moves rows to the
warehouse and stamps `loaded_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update

from cvm.state.tables import intake_events, intake_rejects
from cvm.state.upsert import insert_ignore


@dataclass(frozen=True)
class IntakeRow:
    seq: int
    message_id: str
    payload: str


class IntakeLog:
    """Repository over `intake_events` and `intake_rejects`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self, rows: Sequence[dict[str, Any]], rejects: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Store accepted rows (duplicates by message_id skipped) and rejects, in one commit."""
        with self.engine.begin() as conn:
            insert_ignore(conn, intake_events, rows, ["message_id"])
            if rejects:
                conn.execute(intake_rejects.insert(), list(rejects))

    def fetch_unloaded(self, limit: int) -> list[IntakeRow]:
        query = (
            select(intake_events.c.seq, intake_events.c.message_id, intake_events.c.payload)
            .where(intake_events.c.loaded_at.is_(None))
            .order_by(intake_events.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [IntakeRow(int(s), str(m), str(p)) for s, m, p in conn.execute(query)]

    def mark_loaded(self, seqs: Sequence[int], at: datetime) -> None:
        with self.engine.begin() as conn:
            for start in range(0, len(seqs), 900):  # stay under SQLite's bound-parameter limit
                chunk = list(seqs[start : start + 900])
                conn.execute(
                    update(intake_events).where(intake_events.c.seq.in_(chunk)).values(loaded_at=at)
                )

    def purge_loaded(self, before: datetime) -> int:
        """Drop rows loaded before `before` (the warehouse holds them; dedup there is by id)."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(intake_events).where(intake_events.c.loaded_at < before))
        return int(result.rowcount or 0)

    def pending(self) -> int:
        """Rows not yet loaded (uses the loaded_at index; also proves the store answers)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(intake_events)
                    .where(intake_events.c.loaded_at.is_(None))
                ).scalar_one()
            )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(intake_events)).scalar_one()
            pending = conn.execute(
                select(func.count())
                .select_from(intake_events)
                .where(intake_events.c.loaded_at.is_(None))
            ).scalar_one()
            rejected = conn.execute(select(func.count()).select_from(intake_rejects)).scalar_one()
        return {"stored": int(total), "pending": int(pending), "rejected": int(rejected)}

    def stored_message_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(select(intake_events.c.message_id))]

    def payloads_for(self, user_ids: Iterable[str], anonymous_ids: Iterable[str]) -> list[str]:
        """A person's messages still in the log (privacy export)."""
        users, anons = list(user_ids), list(anonymous_ids)
        query = select(intake_events.c.payload).where(
            or_(intake_events.c.user_id.in_(users), intake_events.c.anonymous_id.in_(anons))
        )
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(query)]

    def delete_for(self, user_ids: Iterable[str], anonymous_ids: Iterable[str]) -> int:
        """Remove a person's rows (privacy erasure), loaded or not."""
        users, anons = list(user_ids), list(anonymous_ids)
        if not users and not anons:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(intake_events).where(
                    or_(
                        intake_events.c.user_id.in_(users),
                        intake_events.c.anonymous_id.in_(anons),
                    )
                )
            )
        return int(result.rowcount or 0)
