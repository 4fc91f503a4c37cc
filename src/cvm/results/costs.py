"""What contacting each treated customer cost, for the ROI.

In order of precedence:

1. a cost per contact given by the user (``--cost-per-contact``) for every treated customer;
2. the campaign definition's ``budget.costs`` per channel (cvm campaigns, state store);
3. the offer definition: the channel's contact cost plus the expected incentive cost
   (``incentive.cost × redemption_probability``, `cvm.decide.scoring.expected_cost`);
4. otherwise the cost is unknown and the ROI is not computed.

A treated customer without a channel was never contacted (no address, no consent, capped)
and costs nothing under 2 and 3. Control customers cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace


@dataclass(frozen=True)
class ContactCosts:
    per_contact: float | None = None
    by_channel: dict[str, float] = field(default_factory=dict)
    by_offer_channel: dict[tuple[str, str], float] = field(default_factory=dict)
    source: str = "unknown"

    @property
    def known(self) -> bool:
        return self.per_contact is not None or bool(self.by_channel or self.by_offer_channel)

    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """The frame with a ``cost`` column (absent when nothing is known), and warnings."""
        if not self.known:
            return frame.drop(columns=["cost"], errors="ignore"), []
        treated = ~frame["is_control"].astype(bool).to_numpy()
        if self.per_contact is not None:
            cost = np.where(treated, self.per_contact, 0.0)
            return frame.assign(cost=cost), []
        channels = frame["channel"].astype(object).to_numpy()
        offers = frame["offer_id"].astype(object).to_numpy()
        cost = np.zeros(len(frame))
        unknown = 0
        for i in np.flatnonzero(treated):
            ch, off = channels[i], offers[i]
            if ch is None or (isinstance(ch, float) and np.isnan(ch)):
                continue
            value = self.by_offer_channel.get((str(off), str(ch)), self.by_channel.get(str(ch)))
            if value is None:
                unknown += 1
                continue
            cost[i] = value
        warnings = (
            [f"contact cost unknown for {unknown:,} treated customer(s): counted as 0"]
            if unknown
            else []
        )
        return frame.assign(cost=cost), warnings


def campaign_costs(ws: Workspace, campaign_id: str, per_contact: float | None) -> ContactCosts:
    """Costs from the user, the campaign definition or the offers (see the module docstring)."""
    if per_contact is not None:
        return ContactCosts(per_contact=per_contact, source="given per contact")
    by_channel = _campaign_budget_costs(ws, campaign_id)
    by_offer = _offer_costs(ws)
    if by_channel:
        return ContactCosts(by_channel=by_channel, source="campaign budget.costs")
    if by_offer:
        return ContactCosts(by_offer_channel=by_offer, source="offer definitions")
    return ContactCosts()


def campaign_definition(ws: Workspace, campaign_id: str) -> dict[str, Any] | None:
    """The stored cvm campaign definition (state store), or None for campaigns run elsewhere."""
    from cvm.state.campaign_store import CampaignRows

    try:
        row = CampaignRows(ws.state).get(campaign_id)
    except Exception:  # noqa: BLE001 (a workspace without campaigns tables is fine here)
        return None
    if row is None:
        return None
    definition = row.get("definition")
    return definition if isinstance(definition, dict) else None


def _campaign_budget_costs(ws: Workspace, campaign_id: str) -> dict[str, float]:
    definition = campaign_definition(ws, campaign_id) or {}
    costs = (definition.get("budget") or {}).get("costs") or {}
    return {str(k): float(v) for k, v in costs.items()}


def _offer_costs(ws: Workspace) -> dict[tuple[str, str], float]:
    from cvm.decide.offer_store import load_offers
    from cvm.decide.scoring import expected_cost

    return {(o.id, ch): expected_cost(o, ch) for o in load_offers(ws.engine) for ch in o.channels}
