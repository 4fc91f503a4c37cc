"""API keys: created with a secret shown once, stored as a SHA-256 hash, revoked by id.

A key is ``cvm_<scope letter>_<43 url-safe characters>``: 256 bits from `secrets`, so a plain
SHA-256 is the right hash (a slow password hash only helps low-entropy secrets, and it would
cost milliseconds on every request). Lookup is by the hash's unique index.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from cvm.core.errors import NotFoundError, UserInputError
from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import api_keys

SCOPES = ("write", "read", "admin")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(engine: Engine, scope: str, name: str | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns the record and the secret (the only time it exists in clear)."""
    if scope not in SCOPES:
        raise UserInputError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    secret = f"cvm_{scope[0]}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=uuid.uuid4().hex,
        name=name or f"{scope} key",
        scope=scope,
        prefix=secret[:10],
        created_at=_now(),
    )
    with engine.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                id=key.id,
                name=key.name,
                scope=key.scope,
                key_hash=hash_secret(secret),
                prefix=key.prefix,
                created_at=key.created_at,
            )
        )
    return key, secret


def _row_to_key(row: object) -> ApiKey:
    m = row._mapping  # type: ignore[attr-defined]
    return ApiKey(
        id=m["id"],
        name=m["name"],
        scope=m["scope"],
        prefix=m["prefix"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


def list_keys(engine: Engine, include_revoked: bool = False) -> list[ApiKey]:
    query = select(api_keys).order_by(api_keys.c.created_at)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    with engine.connect() as conn:
        return [_row_to_key(r) for r in conn.execute(query)]


def find_active_key(engine: Engine, secret: str) -> ApiKey | None:
    """The active key whose hash matches `secret`, or None."""
    query = select(api_keys).where(
        api_keys.c.key_hash == hash_secret(secret), api_keys.c.revoked_at.is_(None)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _row_to_key(row) if row is not None else None


def revoke_key(engine: Engine, key_id: str) -> ApiKey:
    """Revoke a key by its id (or a unique prefix of it)."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(api_keys.c.id).where(api_keys.c.id.startswith(key_id, autoescape=True))
        ).all()
        if len(rows) != 1:
            raise NotFoundError(
                f"no key with id {key_id!r}"
                if not rows
                else f"key id prefix {key_id!r} is ambiguous; give more characters"
            )
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == rows[0][0], api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        row = conn.execute(select(api_keys).where(api_keys.c.id == rows[0][0])).one()
    return _row_to_key(row)


def touch_key(engine: Engine, key_id: str) -> None:
    """Record use (callers throttle this: one write per key per minute, not per request)."""
    with engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=_now()))
