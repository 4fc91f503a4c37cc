"""Stage run log in the state store: when each stage ran, how it ended, and its summary."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, insert, select, update

from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import stage_runs


@contextmanager
def record_stage_run(engine: Engine, stage: str) -> Iterator[dict[str, Any]]:
    """Record a run; the caller fills the yielded dict with its summary."""
    run_id = uuid.uuid4().hex
    summary: dict[str, Any] = {}
    with engine.begin() as conn:
        conn.execute(
            insert(stage_runs).values(id=run_id, stage=stage, started_at=_now(), status="running")
        )
    try:
        yield summary
    except BaseException as err:
        with engine.begin() as conn:
            conn.execute(
                update(stage_runs)
                .where(stage_runs.c.id == run_id)
                .values(finished_at=_now(), status="failed", error=str(err)[:2000])
            )
        raise
    with engine.begin() as conn:
        conn.execute(
            update(stage_runs)
            .where(stage_runs.c.id == run_id)
            .values(finished_at=_now(), status="ok", summary=summary)
        )


def last_stage_runs(engine: Engine) -> list[dict[str, Any]]:
    """The latest run of each stage (for data health)."""
    with engine.connect() as conn:
        rows = (
            conn.execute(select(stage_runs).order_by(stage_runs.c.started_at.desc()))
            .mappings()
            .all()
        )
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest.setdefault(row["stage"], dict(row))
    return list(latest.values())
