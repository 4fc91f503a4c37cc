"""Record a consent decision given through the API or the CLI.

The decision is anchored on the identifier named (an e-mail unsubscribing is recorded on
that e-mail, which may not have a profile yet: one is created so the decision is kept), or on
the profile's anchor identifier when a customer_id is given.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cvm.consent.reachability import check_channel_purpose
from cvm.core.errors import NotFoundError, UserInputError
from cvm.core.timewindows import utc_now as _now
from cvm.identity.graph import Observation
from cvm.identity.identifiers import LOOKUP_KINDS, USER_ID, normalize_identifier
from cvm.identity.live import open_graph, save_graph
from cvm.identity.profile_lookup import LookupKey
from cvm.state.consents import record_consents
from cvm.state.identity_store import IdentityStore

if TYPE_CHECKING:
    import sqlalchemy


def record_consent(
    state: sqlalchemy.Engine,
    target: LookupKey,
    channel: str,
    purpose: str,
    status: str,
    *,
    occurred_at: datetime | None = None,
    source: str = "api",
    default_country: str = "US",
    max_user_ids: int = 3,
    lock: threading.RLock | None = None,
) -> dict[str, Any]:
    check_channel_purpose(channel, purpose)
    if status not in ("granted", "denied"):
        raise UserInputError("status must be 'granted' or 'denied'")
    at = occurred_at or _now()
    store = IdentityStore(state)
    with lock or threading.RLock(), state.begin() as conn:
        if target.kind == "customer_id":
            cid = store.resolve_customer(conn, target.value)
            rows = store.customers(conn, [cid]) if cid else []
            if not rows:
                raise NotFoundError(f"no profile {target.value!r}")
            identity_id, customer_id = int(rows[0]["anchor_id"]), str(cid)
        else:
            if target.kind not in LOOKUP_KINDS:
                raise UserInputError(f"cannot record consent by {target.kind!r}")
            ident = normalize_identifier(target.kind, target.value, default_country)
            if ident is None:
                raise UserInputError(f"{target.kind} is not valid")
            graph = open_graph(store, conn, [ident], max_user_ids)
            if ident not in graph.nodes:
                user = ident if ident.kind == USER_ID else None
                graph.observe(Observation((ident,), at, "consent", user))
                save_graph(store, conn, graph)
            node = graph.nodes[ident]
            identity_id, customer_id = node.id, node.customer_id
        stored = record_consents(
            conn,
            [{"identity_id": identity_id, "channel": channel, "purpose": purpose,
              "status": status, "occurred_at": at, "source": source, "recorded_at": _now()}],
        )  # fmt: skip
    return {"customer_id": customer_id, "channel": channel, "purpose": purpose,
            "status": status, "occurred_at": at.isoformat(), "recorded": bool(stored)}  # fmt: skip
