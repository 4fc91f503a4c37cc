"""Measurement settings of a workspace, read once from ``measure.toml`` (optional).

```toml
window_days = 14          # attribution window after assignment
pre_days = 365            # pre-period of the CUPED covariates
cuped = false
alpha = 0.05
by = ["segment"]          # breakdowns stored by the measure stage
retrain_uplift = true     # retrain uplift models on campaigns whose window has ended
prior_strength = 20.0     # strength of an offer's prior when its definition is unknown

[campaigns.CMP-WINBACK-01]  # per-campaign overrides
window_days = 30
cost_per_contact = 0.05
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cvm.core.errors import WorkspaceError

MEASURE_FILE = "measure.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignOverride(_Section):
    window_days: int | None = Field(None, ge=1, le=365)
    cost_per_contact: float | None = Field(None, ge=0)
    cuped: bool | None = None


class MeasureSettings(_Section):
    window_days: int = Field(14, ge=1, le=365)
    pre_days: int = Field(365, ge=1)
    cuped: bool = False
    alpha: float = Field(0.05, gt=0, lt=1)
    by: list[str] = Field(default_factory=lambda: ["segment", "channel", "offer_id"])
    retrain_uplift: bool = True
    prior_strength: float = Field(20.0, gt=0)
    campaigns: dict[str, CampaignOverride] = Field(default_factory=dict)

    def window_for(self, campaign_id: str) -> int:
        override = self.campaigns.get(campaign_id)
        return override.window_days if override and override.window_days else self.window_days

    def cost_for(self, campaign_id: str) -> float | None:
        override = self.campaigns.get(campaign_id)
        return override.cost_per_contact if override else None

    def cuped_for(self, campaign_id: str) -> bool:
        override = self.campaigns.get(campaign_id)
        return override.cuped if override and override.cuped is not None else self.cuped


def load_measure_settings(root: Path) -> MeasureSettings:
    """The workspace's ``measure.toml``, or the defaults when it is absent."""
    path = root / MEASURE_FILE
    if not path.is_file():
        return MeasureSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise WorkspaceError(f"{path}: not valid TOML ({err})") from None
    try:
        return MeasureSettings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkspaceError(f"{path}: setting '{where}': {first['msg']}") from None
