"""Profiles: by customer id, or looked up by any identifier (read keys)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from cvm.api.deps import ReadKey, ServicesDep
from cvm.api.routes.lookup import one_identifier
from cvm.api.schemas.profiles import ProfilePublic
from cvm.identity.profile_lookup import LookupKey, find_customer_id, lookup_profile

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])
EventsLimit = Query(20, ge=0, le=1000, description="How many recent events to include.")


def _profile(services: Any, key: LookupKey, events: int) -> dict[str, Any]:
    ws = services.workspace
    country = services.settings.identity.default_phone_country
    customer_id = find_customer_id(ws.state, key, country)
    return lookup_profile(ws.engine, ws.state, customer_id, services.policy, events)


@router.get("/{customer_id}", response_model=ProfilePublic, summary="A profile by customer id")
def by_id(
    customer_id: str, services: ServicesDep, _: ReadKey, events: int = EventsLimit
) -> dict[str, Any]:
    return _profile(services, LookupKey("customer_id", customer_id), events)


@router.get("", response_model=ProfilePublic, summary="A profile by one identifier")
def by_identifier(
    services: ServicesDep,
    _: ReadKey,
    email: str | None = None,
    user_id: str | None = None,
    phone: str | None = None,
    anonymous_id: str | None = None,
    events: int = EventsLimit,
) -> dict[str, Any]:
    key = one_identifier(email=email, user_id=user_id, phone=phone, anonymous_id=anonymous_id)
    return _profile(services, key, events)
