"""The loyalty programme of a workspace: `loyalty.yaml`, validated by pydantic.

No file means no programme (every loyalty stage and report section is skipped); an invalid file
is one sentence naming the key (`loyalty.yaml: key 'tiers.levels.1.threshold': Input should be
greater than or equal to 0`). A minimal example (the demo's is `examples/demo/loyalty.yaml`)::

    name: Demo Rewards
    point_value: 0.01            # currency per point, for the liability
    expiry: {months_after_earn: 24}
    earn:
      points_per_unit: 1         # points per currency unit of net line amount
      categories: {electronics: 0.5}
      channels: {app: 1.5}
    bonuses:
      - {kind: birthday, name: birthday_month, multiplier: 2}
      - {kind: offer, name: spring_double, offer_id: double_points,
         starts: 2024-03-01, ends: 2024-03-31, multiplier: 2}
      - {kind: grant, name: welcome_back, campaign_id: CMP-WINBACK-01, points: 500}
    caps: {per_order: 5000, per_month: 20000}
    tiers:
      basis: spend
      window_months: 12
      grace_months: 3
      levels:
        - {name: member, threshold: 0}
        - {name: gold, threshold: 1000, benefits: {earn_multiplier: 1.5, free_shipping: true}}
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cvm.core.errors import UserInputError
from cvm.core.yaml_files import read_yaml

PROGRAMME_FILE = "loyalty.yaml"

Multiplier = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpiryRule(_Strict):
    """When an earn lot expires: N months after it was earned, or at the end of the Nth year
    after the year it was earned (``end_of_year_after: 1`` → lots of 2024 expire 2025-12-31).
    Neither set: points never expire."""

    months_after_earn: int | None = Field(default=None, ge=1)
    end_of_year_after: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_rule(self) -> ExpiryRule:
        if self.months_after_earn is not None and self.end_of_year_after is not None:
            raise ValueError("set either months_after_earn or end_of_year_after, not both")
        return self

    def expires_at(self, earned_at: dt.datetime) -> dt.datetime | None:
        """The moment a lot earned at ``earned_at`` expires (naive UTC), None when never."""
        if self.months_after_earn is not None:
            return add_months(earned_at, self.months_after_earn)
        if self.end_of_year_after is not None:
            # Expires when the last day of that year ends, i.e. at the next year's first moment.
            return dt.datetime(earned_at.year + self.end_of_year_after + 1, 1, 1)
        return None


class EarnRules(_Strict):
    """Base earning: ``points = amount × points_per_unit × category × channel`` per line,
    summed per order and rounded down. Unlisted categories and channels count ×1."""

    points_per_unit: float = Field(default=1.0, gt=0)
    categories: dict[str, Multiplier] = Field(default_factory=dict)
    channels: dict[str, Multiplier] = Field(default_factory=dict)
    claw_back_returns: bool = True


class BirthdayBonus(_Strict):
    """Orders placed in the member's birth month earn ``(multiplier − 1) × base`` extra."""

    kind: Literal["birthday"]
    name: str = "birthday"
    multiplier: float = Field(gt=1)


class OfferBonus(_Strict):
    """A double-points campaign granted as an offer: members assigned the offer (or campaign)
    in `campaign_assignments`, not in its control group, earn ``(multiplier − 1) × base`` extra
    on orders from their assignment and within [starts, ends] (whole days, inclusive)."""

    kind: Literal["offer"]
    name: str
    offer_id: str | None = None
    campaign_id: str | None = None
    starts: dt.date
    ends: dt.date
    multiplier: float = Field(gt=1)

    @model_validator(mode="after")
    def _target(self) -> OfferBonus:
        if self.offer_id is None and self.campaign_id is None:
            raise ValueError("name the offer_id or the campaign_id that grants the bonus")
        if self.ends < self.starts:
            raise ValueError(f"ends ({self.ends}) is before starts ({self.starts})")
        return self


class GrantBonus(_Strict):
    """A campaign that grants points: every member assigned the offer (or campaign), outside
    its control group, gets ``points`` once (an earn lot dated at the assignment)."""

    kind: Literal["grant"]
    name: str
    offer_id: str | None = None
    campaign_id: str | None = None
    points: int = Field(gt=0)

    @model_validator(mode="after")
    def _target(self) -> GrantBonus:
        if self.offer_id is None and self.campaign_id is None:
            raise ValueError("name the offer_id or the campaign_id that grants the points")
        return self


Bonus = Annotated[BirthdayBonus | OfferBonus | GrantBonus, Field(discriminator="kind")]


class Caps(_Strict):
    """Most points one member earns per order, per calendar day and per calendar month (UTC)."""

    per_order: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)
    per_month: int | None = Field(default=None, ge=0)


class TierBenefits(_Strict):
    """What a tier gives. ``earn_multiplier`` adds ``(m − 1) × base`` points per order; the
    other flags are read by offers and campaigns through the `loyalty_tier` profile field."""

    earn_multiplier: float = Field(default=1.0, ge=1)
    free_shipping: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)


class TierLevel(_Strict):
    name: str = Field(min_length=1)
    threshold: float = Field(ge=0)
    benefits: TierBenefits = Field(default_factory=TierBenefits)


class TierRules(_Strict):
    """Tiers by qualifying spend (net of returns) or earned points over a rolling window.

    A member moves up the day the rolling total crosses a higher threshold and moves down only
    when, on a monthly evaluation date, they have stayed below their tier's threshold for
    ``grace_months`` (re-qualifying during the grace period cancels it).
    """

    basis: Literal["spend", "points"] = "spend"
    window_months: int = Field(default=12, ge=1, le=60)
    grace_months: int = Field(default=3, ge=0, le=24)
    levels: list[TierLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> TierRules:
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        thresholds = [level.threshold for level in self.levels]
        if thresholds[0] != 0:
            raise ValueError("the first tier is the entry tier: its threshold must be 0")
        if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            raise ValueError(f"tier thresholds must increase strictly, got {thresholds}")
        return self

    def level(self, name: str) -> TierLevel:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)


class Programme(_Strict):
    name: str = "Loyalty programme"
    point_value: float = Field(default=0.01, ge=0)
    allow_negative: bool = False
    expiry: ExpiryRule = Field(default_factory=ExpiryRule)
    earn: EarnRules = Field(default_factory=EarnRules)
    bonuses: list[Bonus] = Field(default_factory=list)
    caps: Caps = Field(default_factory=Caps)
    tiers: TierRules | None = None

    @model_validator(mode="after")
    def _unique_bonuses(self) -> Programme:
        names = [b.name for b in self.bonuses]
        if len(set(names)) != len(names):
            raise ValueError(f"bonus names must be unique (they name postings), got {names}")
        return self


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` shifted by whole calendar months, the day clamped to the month's length."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    last = _days_in_month(year, month + 1)
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last))


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _explain(err: ValidationError, origin: str) -> UserInputError:
    errors = err.errors()
    # A misspelt key also shows up as "field required" for the right spelling: name the typo.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(p) for p in first["loc"]]
    where = ".".join(loc) or "(top level)"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        known = list(Programme.model_fields) + list(TierRules.model_fields)
        known += list(EarnRules.model_fields) + list(Caps.model_fields)
        known += list(TierLevel.model_fields) + list(TierBenefits.model_fields)
        known += list(OfferBonus.model_fields) + list(ExpiryRule.model_fields)
        known += list(GrantBonus.model_fields)
        close = difflib.get_close_matches(loc[-1], known, n=1)
        message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    return UserInputError(f"{origin}: key '{where}': {message}")


def parse_programme(data: object, origin: str = PROGRAMME_FILE) -> Programme:
    """Validate already-parsed YAML, with errors naming the key."""
    if not isinstance(data, dict):
        raise UserInputError(f"{origin}: the programme must be a YAML mapping of keys")
    try:
        return Programme.model_validate(data)
    except ValidationError as err:
        raise _explain(err, origin) from None


def load_programme(root: Path) -> Programme | None:
    """The programme in ``root/loyalty.yaml``; None when the workspace has no such file."""
    path = root / PROGRAMME_FILE
    if not path.is_file():
        return None
    return parse_programme(read_yaml(path), str(path))
