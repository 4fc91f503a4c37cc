"""Campaign definitions in the state store: create (validated), read, list, change status.

Lifecycle: ``draft`` → (launch) ``active`` ⇄ (pause / resume) ``paused`` → (stop)
``stopped``. Only a draft may be edited (``replace``); a running campaign is paused or stopped
and a new one created, so what was sent always matches a stored definition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cvm.campaigns.campaign import Campaign
from cvm.campaigns.templates import CampaignTemplates
from cvm.core.errors import ConflictError, NotFoundError
from cvm.state.campaign_store import CampaignRows

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "active": ("draft",),
    "paused": ("active",),
    "resumed": ("paused",),
    "stopped": ("draft", "active", "paused"),
}


@dataclass(frozen=True)
class StoredCampaign:
    campaign: Campaign
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    launched_at: dt.datetime | None
    stopped_at: dt.datetime | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.campaign.id, "name": self.campaign.name, "status": self.status,
            "kind": "triggered" if self.campaign.triggered else "scheduled",
            "channels": self.campaign.channels, "created_at": self.created_at,
            "updated_at": self.updated_at, "launched_at": self.launched_at,
            "stopped_at": self.stopped_at,
        }  # fmt: skip


def _stored(row: dict[str, Any]) -> StoredCampaign:
    return StoredCampaign(
        Campaign.model_validate(row["definition"]), row["status"], row["created_at"],
        row["updated_at"], row["launched_at"], row["stopped_at"],
    )  # fmt: skip


class CampaignStore:
    def __init__(self, state: Any) -> None:
        self.rows = CampaignRows(state)

    def create(self, campaign: Campaign, *, replace: bool = False) -> StoredCampaign:
        CampaignTemplates(campaign)  # template syntax errors are refused here, with their place
        definition = campaign.model_dump(mode="json")
        if not self.rows.insert(campaign.id, campaign.name, definition):
            current = self.get(campaign.id)
            if not replace:
                raise ConflictError(
                    f"campaign {campaign.id!r} exists; use --replace to edit a draft"
                )
            if current.status != "draft":
                raise ConflictError(
                    f"campaign {campaign.id!r} is {current.status}; only a draft can be edited "
                    "(stop it and create a new one)"
                )
            self.rows.replace_definition(campaign.id, campaign.name, definition)
        return self.get(campaign.id)

    def get(self, campaign_id: str) -> StoredCampaign:
        row = self.rows.get(campaign_id)
        if row is None:
            raise NotFoundError(f"no campaign {campaign_id!r}")
        return _stored(row)

    def all(self, statuses: list[str] | None = None) -> list[StoredCampaign]:
        return [_stored(r) for r in self.rows.all(statuses)]

    def move(self, campaign_id: str, action: str) -> StoredCampaign:
        """Apply a lifecycle action (active, paused, resumed, stopped) or explain why not."""
        current = self.get(campaign_id)
        allowed = TRANSITIONS[action]
        target = "active" if action == "resumed" else action
        if current.status not in allowed or not self.rows.set_status(campaign_id, target, allowed):
            verb = {"active": "launch", "paused": "pause", "resumed": "resume", "stopped": "stop"}
            raise ConflictError(
                f"cannot {verb[action]} campaign {campaign_id!r}: it is {current.status} "
                f"(needs {' or '.join(allowed)})"
            )
        return self.get(campaign_id)
