"""Loyalty: a member's points (read keys), redemptions (write keys), manual postings (admin).

Redemptions are idempotent by the ``Idempotency-Key`` header or the ``idempotency_key`` field:
a retry answers 200 with ``duplicate: true`` and redeems nothing more; a new redemption is 201.
A refusal (out of stock, not valid now, tier too low, not enough points) is 409 with the reason
code in ``errors``; an unknown reward or member is 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from cvm.api.deps import ReadKey, ServicesDep, authorize, key_from_header
from cvm.api.schemas.loyalty import (
    MemberPublic,
    PostingCreate,
    PostingResult,
    RedemptionCreate,
    RedemptionPublic,
)
from cvm.core.errors import ConflictError, NotFoundError, UserInputError
from cvm.loyalty.members import member_view, open_catalogue, open_ledger
from cvm.state.keys import ApiKey
from cvm.state.loyalty_ledger import Posting

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])


def _write_key(request: Request, services: ServicesDep) -> ApiKey:
    return authorize(services, key_from_header(request.headers.get("authorization")), "write")


def _admin_key(request: Request, services: ServicesDep) -> ApiKey:
    return authorize(services, key_from_header(request.headers.get("authorization")), "admin")


WriteKey = Annotated[ApiKey, Depends(_write_key)]
AdminKey = Annotated[ApiKey, Depends(_admin_key)]


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


@router.get("/members/{customer_id}", response_model=MemberPublic, summary="A member's points")
def member(customer_id: str, services: ServicesDep, _: ReadKey, days: int = 30) -> dict[str, Any]:
    if not 0 <= days <= 3660:
        raise UserInputError("days: must be between 0 and 3660")
    return member_view(open_ledger(services.workspace), customer_id, _utc(None), days)


@router.post(
    "/redemptions", response_model=RedemptionPublic, status_code=201, summary="Redeem a reward"
)
def redeem(
    body: RedemptionCreate,
    response: Response,
    services: ServicesDep,
    _: WriteKey,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    key = idempotency_key or body.idempotency_key
    if not key:
        raise UserInputError("idempotency_key: send the Idempotency-Key header or the field")
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise UserInputError("idempotency_key: the header and the field differ")
    catalogue, tier_check = open_catalogue(services.workspace)
    done = catalogue.redeem(body.customer_id, body.reward_id, key, _utc(body.at), tier_check)
    if done.duplicate:
        response.status_code = 200
    return {**done.__dict__, "balance": catalogue.ledger.balance(body.customer_id)}


@router.post(
    "/postings", response_model=PostingResult, status_code=201, summary="Post an adjustment"
)
def post(
    body: PostingCreate, response: Response, services: ServicesDep, _: AdminKey
) -> dict[str, Any]:
    ledger = open_ledger(services.workspace)
    posting = Posting(
        body.idempotency_key, body.customer_id, body.kind, body.points, _utc(body.at),
        body.reason, body.reference,
        _utc(body.expires_at) if body.expires_at is not None else None,
    )  # fmt: skip
    report = ledger.post([posting])
    if report.rejected:
        reason = report.rejected[0][1]
        if reason == "not a member":
            raise NotFoundError(f"customer {body.customer_id!r} is not a loyalty member")
        if reason.startswith("insufficient balance"):
            raise ConflictError(f"posting {body.idempotency_key!r} rejected: {reason}")
        raise UserInputError(f"points: {reason}")
    if report.duplicates:
        response.status_code = 200
    return {
        "key": body.idempotency_key,
        "posted": report.posted == 1,
        "duplicate": report.duplicates == 1,
        "balance": ledger.balance(body.customer_id),
    }
