"""May we contact this person on this channel for this purpose?

The decision in force for (channel, purpose) is the latest record for that channel or for
``all`` (by the time the person decided, then by the order recorded). With no record, the
workspace policy decides: ``opt_in`` (the default) means not reachable, ``opt_out`` means
reachable. A profile that no longer exists (erased) has no records, so it falls to the policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cvm.consent.traits import CHANNELS, PURPOSES
from cvm.core.errors import UserInputError
from cvm.state.consents import consents_of_customers
from cvm.state.identity_store import IdentityStore

if TYPE_CHECKING:
    import sqlalchemy

__all__ = ["CHANNELS", "PURPOSES", "decide", "is_reachable", "reachable_customers"]


def check_channel_purpose(channel: str, purpose: str) -> None:
    if channel not in CHANNELS:
        raise UserInputError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    if purpose not in PURPOSES:
        raise UserInputError(f"unknown purpose {purpose!r}; choose one of {', '.join(PURPOSES)}")


def decide(records: Iterable[Mapping[str, Any]], channel: str, purpose: str, policy: str) -> bool:
    """Apply the rule above to one person's records."""
    best: tuple[datetime, int] | None = None
    status: str | None = None
    for r in records:
        if r["purpose"] != purpose or r["channel"] not in (channel, "all"):
            continue
        rank = (r["occurred_at"], int(r.get("id") or 0))
        if best is None or rank > best:
            best, status = rank, r["status"]
    if status is None:
        return policy == "opt_out"
    return status == "granted"


def reachable_customers(
    state: sqlalchemy.Engine,
    customer_ids: Sequence[str],
    channel: str,
    purpose: str,
    policy: str,
) -> dict[str, bool]:
    """The bulk form: one query per 400 customers, not one per customer."""
    check_channel_purpose(channel, purpose)
    by_customer: dict[str, list[dict[str, Any]]] = {}
    with state.connect() as conn:
        for row in consents_of_customers(conn, list(customer_ids)):
            by_customer.setdefault(row["customer_id"], []).append(row)
    return {cid: decide(by_customer.get(cid, ()), channel, purpose, policy) for cid in customer_ids}


def is_reachable(
    state: sqlalchemy.Engine, customer_id: str, channel: str, purpose: str, policy: str
) -> bool:
    """One person; an id that was merged into another profile reads that profile."""
    with state.connect() as conn:
        current = IdentityStore(state).resolve_customer(conn, customer_id) or customer_id
    return reachable_customers(state, [current], channel, purpose, policy)[current]
