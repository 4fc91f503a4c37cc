"""API key shapes: the secret appears only in the creation response."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class KeyCreate(BaseModel):
    scope: Literal["write", "read", "admin"]
    name: str | None = Field(None, max_length=200)


class KeyPublic(BaseModel):
    id: str
    name: str
    scope: str
    prefix: str = Field(description="First characters of the secret, to recognise it.")
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class KeyCreated(KeyPublic):
    secret: str = Field(description="Shown once; only its SHA-256 hash is stored.")
