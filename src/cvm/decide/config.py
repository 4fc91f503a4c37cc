"""Decisioning settings of a workspace, read once from ``decide.toml`` (optional: every value
has a default). A simulation plan (`cvm.decide.simulate`) holds the same sections in YAML.

```toml
[policy]                       # cvm.decide.contact_policy.ContactPolicy
caps = [
  { channels = "all", max = 2, days = 7 },     # 2 marketing messages per 7 days
  { channels = ["sms"], max = 1, days = 14 },  # 1 SMS per 14 days
]
quiet_hours = { start = "21:00", end = "08:00" }   # customer's local time

[control.global]               # never contacted by marketing
salt = "global-control"
share = 0.05
drawn_on = 2025-01-01          # with redraw_every_days: salt:<period> changes on schedule
redraw_every_days = 365

[control]
offer_share = 0.10             # default per-offer holdout (an offer may set its own)

[arbitration]
max_offers_per_customer = 1
budget = 50000.0               # expected spend of one run (contact + incentives)
channel_capacity = { sms = 20000, email = 400000 }
solver = "auto"                # auto | lp | greedy
levers = { outcome = { retention = 1.2 }, channel = { sms = 0.9 } }
```
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cvm.core.errors import UserInputError, WorkspaceError
from cvm.decide.contact_policy import CHANNELS, ContactPolicy

DECIDE_FILE = "decide.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GlobalControl(_Section):
    """A persistent share of all customers that marketing never contacts."""

    salt: str = Field("global-control", min_length=1)
    share: float = Field(0.05, ge=0, lt=1)
    drawn_on: dt.date | None = None
    redraw_every_days: int | None = Field(None, ge=1)

    def period_start(self, on: dt.date) -> dt.date | None:
        """First day of the draw in force on ``on`` (None: no schedule)."""
        if self.drawn_on is None or self.redraw_every_days is None:
            return self.drawn_on
        periods = max(0, (on - self.drawn_on).days // self.redraw_every_days)
        return self.drawn_on + dt.timedelta(days=periods * self.redraw_every_days)

    def effective_salt(self, on: dt.date) -> str:
        """The salt in force on ``on``: a scheduled redraw appends its start date."""
        if self.redraw_every_days is None:
            return self.salt
        start = self.period_start(on)
        return f"{self.salt}:{start.isoformat()}" if start else self.salt

    def next_redraw(self, on: dt.date) -> dt.date | None:
        start = self.period_start(on)
        if start is None or self.redraw_every_days is None:
            return None
        return start + dt.timedelta(days=self.redraw_every_days)


class ControlSettings(_Section):
    global_: GlobalControl = Field(default_factory=lambda: GlobalControl(), alias="global")
    offer_share: float = Field(0.10, ge=0, lt=1)
    balance_threshold: float = Field(0.1, gt=0)


class Levers(_Section):
    """Explicit business multipliers on the score, logged with every decision."""

    outcome: dict[str, float] = Field(default_factory=dict)
    channel: dict[str, float] = Field(default_factory=dict)


class ArbitrationSettings(_Section):
    max_offers_per_customer: int = Field(1, ge=1, le=20)
    budget: float | None = Field(None, ge=0)
    channel_capacity: dict[str, int] = Field(default_factory=dict)
    solver: Literal["auto", "lp", "greedy"] = "auto"
    exact_max_pairs: int = Field(1_000_000, ge=0)
    levers: Levers = Field(default_factory=lambda: Levers())

    @field_validator("channel_capacity")
    @classmethod
    def _known_channels(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; choose from {', '.join(CHANNELS)}")
        if any(v < 0 for v in value.values()):
            raise ValueError("capacities must be ≥ 0")
        return value


class DecideSettings(_Section):
    policy: ContactPolicy = Field(default_factory=lambda: ContactPolicy())
    control: ControlSettings = Field(default_factory=lambda: ControlSettings())
    arbitration: ArbitrationSettings = Field(default_factory=lambda: ArbitrationSettings())


def validation_message(err: ValidationError, source: str) -> str:
    """Every problem as ``source: field.path: message`` (one line each)."""
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top)"
        lines.append(f"{source}: {where}: {e['msg']}")
    return "\n".join(lines)


def parse_settings(data: object, source: str) -> DecideSettings:
    try:
        return DecideSettings.model_validate(data or {})
    except ValidationError as err:
        raise UserInputError(validation_message(err, source)) from None


def load_decide_settings(root: Path) -> DecideSettings:
    """The workspace's ``decide.toml``, or the defaults when it is absent."""
    path = root / DECIDE_FILE
    if not path.is_file():
        return DecideSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise WorkspaceError(f"{path}: not valid TOML ({err})") from None
    try:
        return DecideSettings.model_validate(data)
    except ValidationError as err:
        raise WorkspaceError(validation_message(err, str(path))) from None
