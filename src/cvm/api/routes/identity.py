"""Identity graph (admin keys): a profile's merge history, and undoing a wrong merge."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cvm.api.deps import AdminKey, ServicesDep
from cvm.api.schemas.profiles import UnmergeResult
from cvm.identity.profile_lookup import plain
from cvm.identity.unmerge import unmerge
from cvm.state.identity_store import IdentityStore

router = APIRouter(prefix="/v1/identity", tags=["identity"])


@router.get("/{customer_id}/merges", summary="Merges that built this profile")
def merges(customer_id: str, services: ServicesDep, _: AdminKey) -> list[dict[str, Any]]:
    store = IdentityStore(services.workspace.state)
    with store.engine.connect() as conn:
        ids = [customer_id, *store.aliases_of(conn, customer_id)]
        return [{k: plain(v) for k, v in m.items()} for m in store.merges_for(conn, ids)]


@router.post("/merges/{merge_id}/unmerge", response_model=UnmergeResult, summary="Undo a merge")
def undo(merge_id: int, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    with services.loader.lock:
        result = unmerge(services.workspace.state, merge_id)
    return result
