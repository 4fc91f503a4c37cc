"""API key management (admin keys only)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from cvm.api.deps import AdminKey, ServicesDep
from cvm.api.schemas.keys import KeyCreate, KeyCreated, KeyPublic
from cvm.state.keys import create_key, list_keys, revoke_key

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", response_model=KeyCreated, status_code=201, summary="Create a key")
def create(body: KeyCreate, services: ServicesDep, _: AdminKey) -> KeyCreated:
    key, secret = create_key(services.workspace.state, body.scope, body.name)
    return KeyCreated(**asdict(key), secret=secret)


@router.get("", response_model=list[KeyPublic], summary="List keys")
def index(services: ServicesDep, _: AdminKey, include_revoked: bool = False) -> list[KeyPublic]:
    return [KeyPublic(**asdict(k)) for k in list_keys(services.workspace.state, include_revoked)]


@router.delete("/{key_id}", response_model=KeyPublic, summary="Revoke a key")
def revoke(key_id: str, services: ServicesDep, _: AdminKey) -> KeyPublic:
    key = revoke_key(services.workspace.state, key_id)
    services.keys.forget()  # take effect now, not after the cache's few seconds
    return KeyPublic(**asdict(key))
