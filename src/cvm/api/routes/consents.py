"""Consents: record a decision (admin keys), ask whether a person is reachable (read keys)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cvm.api.deps import AdminKey, ReadKey, ServicesDep
from cvm.api.routes.lookup import one_identifier
from cvm.api.schemas.profiles import ConsentCreate, ConsentRecorded, Reachability
from cvm.consent.reachability import check_channel_purpose, is_reachable
from cvm.consent.service import record_consent

router = APIRouter(prefix="/v1/consents", tags=["consents"])


@router.post("", response_model=ConsentRecorded, status_code=201, summary="Record a decision")
def create(body: ConsentCreate, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    target = one_identifier(
        customer_id=body.customer_id, user_id=body.user_id, email=body.email,
        phone=body.phone, anonymous_id=body.anonymous_id,
    )  # fmt: skip
    occurred = body.occurred_at
    if occurred is not None and occurred.tzinfo is not None:
        from datetime import UTC

        occurred = occurred.astimezone(UTC).replace(tzinfo=None)
    identity = services.settings.identity
    return record_consent(
        services.workspace.state, target, body.channel, body.purpose, body.status,
        occurred_at=occurred, source=body.source,
        default_country=identity.default_phone_country,
        max_user_ids=identity.max_user_ids_per_identifier, lock=services.loader.lock,
    )  # fmt: skip


@router.get("/{customer_id}/reachable", response_model=Reachability, summary="May we contact them?")
def reachable(
    customer_id: str,
    services: ServicesDep,
    _: ReadKey,
    channel: str = "email",
    purpose: str = "marketing",
) -> Reachability:
    check_channel_purpose(channel, purpose)
    ok = is_reachable(services.workspace.state, customer_id, channel, purpose, services.policy)
    return Reachability(customer_id=customer_id, channel=channel, purpose=purpose, reachable=ok)
