"""Event intake figures for the data-health page: rate, backlog and lag of the intake log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, select

from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import intake_batches, intake_rejects, outbox


def intake_health(engine: Engine, window: dt.timedelta = dt.timedelta(hours=1)) -> dict[str, Any]:
    """Events received in ``window`` (and per minute), waiting to load, the oldest waiting
    request's age (lag), the last load time, and messages refused at the door in ``window``."""
    now = _now()
    since = now - window
    b = intake_batches
    with engine.connect() as conn:
        received = conn.execute(
            select(func.coalesce(func.sum(b.c.event_count), 0)).where(b.c.received_at >= since)
        ).scalar_one()
        pending, oldest = conn.execute(
            select(func.coalesce(func.sum(b.c.event_count), 0), func.min(b.c.received_at)).where(
                b.c.loaded_at.is_(None)
            )
        ).one()
        last_loaded = conn.execute(select(func.max(b.c.loaded_at))).scalar_one()
        rejected = conn.execute(
            select(func.count()).where(intake_rejects.c.received_at >= since)
        ).scalar_one()
    minutes = window.total_seconds() / 60
    return {
        "received": int(received),
        "per_minute": float(received) / minutes,
        "pending": int(pending),
        "lag_seconds": (now - oldest).total_seconds() if oldest is not None else 0.0,
        "last_loaded_at": last_loaded,
        "rejected": int(rejected),
        "window_minutes": minutes,
    }


def failed_messages(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """Outbox rows that ended dead (retries exhausted or permanent errors), newest first."""
    keep = ("campaign_id", "customer_id", "channel", "address", "status", "attempts",
            "last_error", "created_at")  # fmt: skip
    query = (
        select(*(outbox.c[c] for c in keep))
        .where(outbox.c.status == "dead")
        .order_by(outbox.c.created_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
