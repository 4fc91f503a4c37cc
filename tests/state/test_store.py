"""The state store on both backends: SQLite (default) and a real PostgreSQL cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from cvm.state.runs import last_stage_runs, record_stage_run
from cvm.state.store import connect_state, state_tables, upgrade_state
from cvm.state.tables import stage_runs
from cvm.workspace import init_workspace, open_workspace


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return str(request.getfixturevalue("fresh_postgres_db"))


def test_migrations_create_tables_and_are_idempotent(state_url: str) -> None:
    engine = connect_state(state_url)
    upgrade_state(engine)
    upgrade_state(engine)
    tables = state_tables(engine)
    assert {"api_keys", "stage_runs", "alembic_version"} <= set(tables)


def test_stage_run_log_records_success_and_failure(state_url: str) -> None:
    engine = connect_state(state_url)
    upgrade_state(engine)
    with record_stage_run(engine, "value") as summary:
        summary["customers"] = 3
    with pytest.raises(RuntimeError), record_stage_run(engine, "report"):
        raise RuntimeError("boom")
    latest = {r["stage"]: r for r in last_stage_runs(engine)}
    assert latest["value"]["status"] == "ok" and latest["value"]["summary"] == {"customers": 3}
    assert latest["report"]["status"] == "failed" and "boom" in latest["report"]["error"]


def test_transactions_roll_back(state_url: str) -> None:
    engine = connect_state(state_url)
    upgrade_state(engine)
    import datetime as dt

    with pytest.raises(ValueError), engine.begin() as conn:
        conn.execute(
            insert(stage_runs).values(
                id="x", stage="s", started_at=dt.datetime(2024, 1, 1), status="ok"
            )
        )
        raise ValueError
    with engine.connect() as conn:
        assert conn.execute(select(stage_runs).where(stage_runs.c.id == "x")).first() is None


def test_workspace_with_postgres_state(tmp_path: Path, fresh_postgres_db: str) -> None:
    ws = init_workspace(tmp_path / "w", state_url=fresh_postgres_db)
    assert ws.state.dialect.name == "postgresql"
    ws.close()
    ws = open_workspace(tmp_path / "w")
    assert "api_keys" in state_tables(ws.state)
    ws.close()
