"""Operational tables (SQLAlchemy 2 Core). Schema changes go through Alembic migrations in
`cvm/state/migrations/versions`; this module is the current shape they produce."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(16), nullable=False),
    # Only a hash is stored; the secret is shown once at creation.
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
)

stage_runs = Table(
    "stage_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("stage", String(64), nullable=False, index=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("summary", JSON),
    Column("error", Text),
)

schema_info = Table(
    "schema_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256)),
    Column("revision", Integer),
)
