"""Privacy bookkeeping in the state store: the workspace salt, erasure records, and the
generic per-customer reach into every state table that has a `customer_id` column (so tables
other parts add later, such as a message outbox, are covered without changes here)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, delete, inspect, select

from cvm.state.tables import erasures, workspace_secrets

SALT_NAME = "privacy_salt"


def privacy_salt(conn: Connection) -> str:
    row = conn.execute(
        select(workspace_secrets.c.value).where(workspace_secrets.c.name == SALT_NAME)
    ).first()
    if row is not None:
        return str(row[0])
    salt = secrets.token_hex(32)
    conn.execute(workspace_secrets.insert().values(name=SALT_NAME, value=salt))
    return salt


def salted_hash(salt: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{salt}:{kind}:{value}".encode()).hexdigest()


def record_erasure(
    conn: Connection,
    erasure_id: str,
    at: datetime,
    hashes: Sequence[str],
    counts: dict[str, int],
    requested_by: str | None,
) -> None:
    conn.execute(
        erasures.insert().values(
            id=erasure_id,
            erased_at=at,
            identifier_hashes=sorted(hashes),
            counts=counts,
            requested_by=requested_by,
        )
    )


def find_erasures(conn: Connection, hashes: Sequence[str]) -> list[dict[str, Any]]:
    wanted = set(hashes)
    return [
        dict(r._mapping)
        for r in conn.execute(select(erasures).order_by(erasures.c.erased_at))
        if wanted & set(r.identifier_hashes)
    ]


_OWN = {"identities", "identity_customers", "trait_values", "consent_records"}


def customer_tables(engine: Engine) -> list[Table]:
    """State tables (other than the identity graph's own) with a customer_id column."""
    names = [
        name
        for name in inspect(engine).get_table_names()
        if name not in _OWN
        and any(c["name"] == "customer_id" for c in inspect(engine).get_columns(name))
    ]
    meta = MetaData()
    return [Table(name, meta, autoload_with=engine) for name in names]


def rows_of_customers(
    conn: Connection, tables: Sequence[Table], customer_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        rows = conn.execute(select(table).where(table.c.customer_id.in_(list(customer_ids))))
        found[table.name] = [dict(r._mapping) for r in rows]
    return found


def delete_customers(
    conn: Connection, tables: Sequence[Table], customer_ids: Sequence[str]
) -> dict[str, int]:
    return {
        table.name: int(
            conn.execute(delete(table).where(table.c.customer_id.in_(list(customer_ids)))).rowcount
            or 0
        )
        for table in tables
    }
