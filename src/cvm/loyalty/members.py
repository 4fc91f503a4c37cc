"""Opening the loyalty stores of a workspace, and the member view the CLI and API show.

The ledger's `allow_negative` comes from the programme (`loyalty.yaml`); without a programme
file the ledger still works (points posted by hand, rewards, referrals) with no negative
balances.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cvm.core.errors import NotFoundError
from cvm.loyalty.programme import load_programme
from cvm.loyalty.tier_check import warehouse_tier_check
from cvm.state.loyalty_ledger import LoyaltyLedger
from cvm.state.loyalty_rewards import RewardsCatalogue, TierCheck
from cvm.workspace import Workspace


def open_ledger(ws: Workspace) -> LoyaltyLedger:
    programme = load_programme(ws.root)
    return LoyaltyLedger(ws.state, allow_negative=bool(programme and programme.allow_negative))


def open_catalogue(ws: Workspace) -> tuple[RewardsCatalogue, TierCheck]:
    """The catalogue and the tier check its redemptions use (tiers from the warehouse)."""
    programme = load_programme(ws.root)
    ledger = LoyaltyLedger(ws.state, allow_negative=bool(programme and programme.allow_negative))
    return RewardsCatalogue(ledger), warehouse_tier_check(ws.engine, programme)


def member_view(
    ledger: LoyaltyLedger, customer_id: str, now: datetime, soon_days: int = 30, recent: int = 20
) -> dict[str, Any]:
    """Balance, totals, the lots expiring within `soon_days` and the latest entries."""
    account = ledger.account(customer_id)
    if account is None:
        raise NotFoundError(f"customer {customer_id!r} is not a loyalty member")
    horizon = now + timedelta(days=soon_days)
    expiring = [
        {"points": lot["remaining"], "expires_at": lot["expires_at"]}
        for lot in ledger.lots(customer_id)
        if lot["expires_at"] is not None and lot["expires_at"] <= horizon
    ]
    return {
        "customer_id": customer_id,
        "enrolled_at": account["enrolled_at"],
        "balance": account["balance"],
        "earned": account["earned"],
        "redeemed": account["redeemed"],
        "expired": account["expired"],
        "adjusted": account["adjusted"],
        "referral_code": account["referral_code"],
        "expiring_soon": expiring,
        "expiring_soon_points": sum(lot["points"] for lot in expiring),
        "recent_entries": ledger.statement(customer_id, recent),
    }
