"""The operational state store: SQLite by default, PostgreSQL by URL. Schema via Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect

MIGRATIONS = Path(__file__).with_name("migrations")


def resolve_url(url: str, workspace: Path) -> str:
    """Make a relative SQLite path absolute against the workspace folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((workspace / url[len(prefix) :]).resolve())
    return url


def connect_state(url: str) -> Engine:
    """An SQLAlchemy engine with the settings each backend needs for safe concurrent use."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL + synchronous=FULL: an acknowledged write survives a crash of the process.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade_state(engine: Engine, revision: str = "head") -> None:
    """Bring the state schema to `revision` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def state_tables(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
