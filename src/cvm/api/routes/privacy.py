"""Privacy requests (admin keys): export everything held about a person, or erase it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cvm.api.deps import AdminKey, ServicesDep
from cvm.api.schemas.profiles import ErasureRecord
from cvm.identity.profile_lookup import LookupKey, find_customer_id
from cvm.privacy import erase_person, export_person

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])


def _customer(services: Any, customer_id: str) -> str:
    country = services.settings.identity.default_phone_country
    return find_customer_id(
        services.workspace.state, LookupKey("customer_id", customer_id), country
    )


@router.get("/{customer_id}/export", summary="Everything held about a person (JSON)")
def export(customer_id: str, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    ws = services.workspace
    country = services.settings.identity.default_phone_country
    with services.loader.lock:  # a consistent picture, not one half-way through a flush
        return export_person(ws.engine, ws.state, _customer(services, customer_id), country)


@router.post("/{customer_id}/erase", response_model=ErasureRecord, summary="Erase a person")
def erase(customer_id: str, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    ws = services.workspace
    return erase_person(
        ws.engine, ws.state, _customer(services, customer_id), requested_by=key.id,
        default_country=services.settings.identity.default_phone_country,
        lock=services.loader.lock,
    )  # fmt: skip
