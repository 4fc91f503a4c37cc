"""Loyalty shapes: the member view, redemptions, manual postings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class LotExpiring(BaseModel):
    points: int
    expires_at: datetime


class EntryPublic(BaseModel):
    key: str
    kind: str
    points: int
    at: datetime
    reason: str
    reference: str | None
    reverses: str | None


class MemberPublic(BaseModel):
    customer_id: str
    enrolled_at: datetime
    balance: int
    earned: int
    redeemed: int
    expired: int
    adjusted: int
    referral_code: str | None
    expiring_soon: list[LotExpiring] = Field(description="Open lots expiring within `days`")
    expiring_soon_points: int
    recent_entries: list[EntryPublic] = Field(description="Latest entries, newest first")


class RedemptionCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=200)
    reward_id: str = Field(min_length=1, max_length=64)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Or the Idempotency-Key header: a retry with the same key redeems once",
    )
    at: datetime | None = None


class RedemptionPublic(BaseModel):
    key: str
    customer_id: str
    reward_id: str
    points: int
    at: datetime
    duplicate: bool = Field(description="True when this key had already redeemed (a retry)")
    balance: int


class PostingCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=200)
    points: int = Field(description="Signed: positive credits the member")
    kind: Literal["adjust", "earn"] = "adjust"
    idempotency_key: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="manual", max_length=200)
    reference: str | None = Field(default=None, max_length=200)
    at: datetime | None = None
    expires_at: datetime | None = None


class PostingResult(BaseModel):
    key: str
    posted: bool
    duplicate: bool
    balance: int
