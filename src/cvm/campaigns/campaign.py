"""Campaign definitions (pydantic), written in YAML or sent as JSON to ``/v1/campaigns``.

A campaign is either **scheduled** (an ``audience``: a segment, or the day's decisions of
`cvm.decide`, sent now, at a time — possibly each customer's own local time — or on a daily /
weekly recurrence) or **triggered** (a ``trigger``: an event with property filters, entering or
leaving a segment, or a profile score crossing a threshold; with a delay, an optional
cancelling event — "wait up to D for E, else send" — and a re-entry rule). Example::

    id: cart-rescue
    name: Abandoned cart
    trigger:
      event: cart_abandoned
      where: [{property: value, op: gt, value: 50}]
      delay: 1h
      unless: order_completed
      reentry: {every_days: 7}
    channels: [push, sms, email]          # fallback order
    content:
      email:
        en: {subject: "You left something", html: "<p>Hi {{ first_name | default('there') }}</p>"}
      sms:
        en: {text: "Your cart is waiting"}
    control_share: 0.1
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from cvm.channels.registry import CHANNELS
from cvm.core.errors import UserInputError
from cvm.core.yaml_files import read_yaml

CAMPAIGN_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> dt.timedelta:
    """``90`` (seconds), ``"30m"``, ``"1h"``, ``"2d"``, ``"1w"`` → timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float):
        return dt.timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if match:
        return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:  # ISO 8601 (PT1H), as stored definitions spell it
        return TypeAdapter(dt.timedelta).validate_python(value)
    except ValidationError:
        raise ValueError(
            f"{value!r} is not a duration; write e.g. 90s, 30m, 1h, 2d or 1w"
        ) from None


Duration = Annotated[dt.timedelta, Field(ge=dt.timedelta(0))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PropertyFilter(_Model):
    """A test on an event property (a dotted path into ``properties``)."""

    property: str = Field(min_length=1)
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists", "contains"] = "eq"
    value: Any = None


# -- audiences ------------------------------------------------------------------------------
class SegmentAudience(_Model):
    kind: Literal["segment"] = "segment"
    segment: str = Field(min_length=1)


class DecisionsAudience(_Model):
    """The day's rows of the `decisions` table with ``contact`` true (for ``offer`` when set,
    else the campaign's offer, else every offer) on this campaign's channels."""

    kind: Literal["decisions"] = "decisions"
    offer: str | None = None


Audience = Annotated[SegmentAudience | DecisionsAudience, Field(discriminator="kind")]


# -- schedules ------------------------------------------------------------------------------
class NowSchedule(_Model):
    kind: Literal["now"] = "now"


class AtSchedule(_Model):
    """Once, at ``at``: UTC, or each customer's own wall-clock time when ``local``."""

    kind: Literal["at"] = "at"
    at: dt.datetime
    local: bool = False


class RecurringSchedule(_Model):
    """Every day (or the listed weekdays) at ``time``, local to each customer by default."""

    kind: Literal["recurring"] = "recurring"
    every: Literal["daily", "weekly"] = "daily"
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list
    )
    time: dt.time = dt.time(10, 0)
    local: bool = True

    @model_validator(mode="after")
    def _weekly_days(self) -> RecurringSchedule:
        if self.every == "weekly" and not self.days:
            raise ValueError("a weekly schedule needs days, e.g. days: [mon, thu]")
        return self

    def runs_on(self, day: dt.date) -> bool:
        return self.every == "daily" and not self.days or WEEKDAYS[day.weekday()] in self.days


Schedule = Annotated[NowSchedule | AtSchedule | RecurringSchedule, Field(discriminator="kind")]


# -- triggers -------------------------------------------------------------------------------
class Unless(_Model):
    """Cancel the pending message when this event arrives before it is sent."""

    event: str = Field(min_length=1)
    where: list[PropertyFilter] = Field(default_factory=list)


class ReentryEvery(_Model):
    every_days: float = Field(gt=0)


Reentry = Literal["once", "always"] | ReentryEvery


class _TriggerBase(_Model):
    delay: Duration = dt.timedelta(0)
    unless: Unless | None = None
    reentry: Reentry = "once"

    @field_validator("delay", mode="before")
    @classmethod
    def _duration(cls, value: object) -> dt.timedelta:
        return parse_duration(value)

    @field_validator("unless", mode="before")
    @classmethod
    def _unless_name(cls, value: object) -> object:
        return {"event": value} if isinstance(value, str) else value


class EventTrigger(_TriggerBase):
    kind: Literal["event"] = "event"
    event: str = Field(min_length=1)
    where: list[PropertyFilter] = Field(default_factory=list)


class SegmentTrigger(_TriggerBase):
    kind: Literal["segment"] = "segment"
    segment: str = Field(min_length=1)
    on: Literal["entered", "exited"] = "entered"


class ScoreTrigger(_TriggerBase):
    """Fires when a `customer_360` column crosses ``threshold`` (e.g. churn_propensity > 0.7)."""

    kind: Literal["score"] = "score"
    field: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    op: Literal["gt", "gte", "lt", "lte"] = "gt"
    threshold: float


Trigger = Annotated[EventTrigger | SegmentTrigger | ScoreTrigger, Field(discriminator="kind")]


def _kind_from_keys(value: object, kinds: dict[str, str]) -> object:
    """``{segment: vip}`` reads as ``{kind: segment, segment: vip}`` (YAML shorthand)."""
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict) and "kind" not in value:
        for key, kind in kinds.items():
            if key in value:
                return {"kind": kind, **value}
    return value


# -- content --------------------------------------------------------------------------------
class Content(_Model):
    """One language's templates for one channel (Jinja2, sandboxed). ``subject`` is the
    e-mail subject or the push title; ``text`` is the SMS / messenger / push body and the
    e-mail's plain-text part."""

    subject: str | None = None
    text: str | None = None
    html: str | None = None


class Budget(_Model):
    max_messages: int | None = Field(None, ge=0)
    max_cost: float | None = Field(None, ge=0)
    costs: dict[str, float] = Field(default_factory=dict)


class PointsGrant(_Model):
    """Loyalty points every treated member receives when their message is sent (exactly once:
    the posting's idempotency key is the message's)."""

    points: int = Field(gt=0)
    expires_in_days: int | None = Field(None, gt=0)
    reason: str = ""


class Campaign(_Model):
    id: str = Field(pattern=CAMPAIGN_ID)
    name: str = Field(min_length=1)
    description: str = ""
    purpose: Literal["marketing", "service"] = "marketing"
    audience: Audience | None = None
    trigger: Trigger | None = None
    offer: str | None = None
    channels: list[str] = Field(min_length=1)
    content: dict[str, dict[str, Content]]
    default_language: str = "en"
    schedule: Schedule = Field(default_factory=lambda: NowSchedule())
    control_share: float = Field(0.0, ge=0, le=0.9)
    control_salt: str = ""
    global_control: bool = True
    budget: Budget = Field(default_factory=lambda: Budget())
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    track_opens: bool = True
    track_clicks: bool = True
    grant_points: PointsGrant | None = None

    @field_validator("audience", mode="before")
    @classmethod
    def _audience(cls, value: object) -> object:
        return _kind_from_keys(value, {"segment": "segment", "offer": "decisions"})

    @field_validator("trigger", mode="before")
    @classmethod
    def _trigger(cls, value: object) -> object:
        return _kind_from_keys(value, {"event": "event", "segment": "segment", "field": "score"})

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        return _kind_from_keys(value, {"at": "at", "every": "recurring"})

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if (self.audience is None) == (self.trigger is None):
            raise ValueError("a campaign has either an audience (scheduled) or a trigger")
        for channel in self.channels:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; choose from {', '.join(CHANNELS)}")
            variants = self.content.get(channel)
            if not variants:
                raise ValueError(f"content.{channel}: no template for a listed channel")
            if self.default_language not in variants:
                raise ValueError(
                    f"content.{channel}: no variant for the default language "
                    f"{self.default_language!r}"
                )
            for lang, c in variants.items():
                where = f"content.{channel}.{lang}"
                if channel == "email" and (not c.subject or not (c.html or c.text)):
                    raise ValueError(f"{where}: an e-mail needs a subject and html or text")
                if channel != "email" and not c.text:
                    raise ValueError(f"{where}: needs text")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    @property
    def triggered(self) -> bool:
        return self.trigger is not None

    def active_at(self, moment: dt.datetime) -> bool:
        return (self.starts_at is None or moment >= self.starts_at) and (
            self.ends_at is None or moment < self.ends_at
        )


def parse_campaign(data: object, source: str = "campaign") -> Campaign:
    """Validate; every problem is reported as ``source: field.path: message``."""
    try:
        return Campaign.model_validate(data)
    except ValidationError as err:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
            for e in err.errors()
        ]
        raise UserInputError("\n".join(lines)) from None


def load_campaign_file(path: Path) -> Campaign:
    return parse_campaign(read_yaml(path), str(path))
