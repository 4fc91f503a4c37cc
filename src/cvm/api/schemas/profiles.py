"""Profile, consent, privacy and identity shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class TraitPublic(BaseModel):
    value: Any
    source: str
    observed_at: str


class IdentityPublic(BaseModel):
    kind: str
    value: str
    blocked: bool
    first_seen: str
    last_seen: str


class ConsentsPublic(BaseModel):
    policy: str
    reachable: dict[str, bool] = Field(description="`channel.purpose` → may we contact them")
    history: list[dict[str, Any]]


class ProfilePublic(BaseModel):
    customer_id: str
    merged_ids: list[str]
    traits: dict[str, TraitPublic]
    identities: list[IdentityPublic]
    metrics: dict[str, Any] = Field(
        description="customer_360 columns (customers + profiles) that are not null"
    )
    segments: list[dict[str, Any]]
    consents: ConsentsPublic
    recent_events: list[dict[str, Any]]


class ConsentCreate(BaseModel):
    customer_id: str | None = None
    user_id: str | None = None
    email: str | None = None
    phone: str | None = None
    anonymous_id: str | None = None
    channel: Literal["email", "sms", "push", "messenger", "phone", "all"]
    purpose: Literal["marketing", "service"] = "marketing"
    status: Literal["granted", "denied"]
    occurred_at: datetime | None = None
    source: str = Field("api", max_length=64)


class ConsentRecorded(BaseModel):
    customer_id: str
    channel: str
    purpose: str
    status: str
    occurred_at: str
    recorded: bool = Field(description="False when it repeats the decision already in force.")


class Reachability(BaseModel):
    customer_id: str
    channel: str
    purpose: str
    reachable: bool


class ErasureRecord(BaseModel):
    erasure_id: str
    erased_at: str
    counts: dict[str, int]
    identifiers_erased: int


class UnmergeResult(BaseModel):
    merge_id: int
    kept: str
    restored: list[str]
