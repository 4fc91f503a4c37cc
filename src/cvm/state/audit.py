"""The audit log: every change made through the dashboard (and `cvm users`), who and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import audit_log


def record_change(
    engine: Engine,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry (its own transaction, so it is written even if a later step fails)."""
    with engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=_now(), actor=actor, action=action, target=target, detail=detail
            )
        )


def recent_changes(
    engine: Engine, limit: int = 200, actor: str | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def count_changes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
