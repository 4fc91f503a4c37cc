"""The contact policy: who may be contacted, on which channel, how often and when.

Pure functions over small frames, so the batch decision run, the real-time decider and the
campaign dispatcher apply one and the same policy (the batch reads the same counts through the
SQL in `cvm.decide.policy_sql`):

- **Consent** per channel and purpose is always enforced (the workspace policy decides a
  customer with no recorded decision: ``opt_in`` → not reachable, ``opt_out`` → reachable).
- **Frequency caps** over rolling windows, per channel or across channels ("at most 2 marketing
  messages per 7 days, 1 SMS per 14 days"). Both ``sent`` and ``scheduled`` messages count. A
  new message at time *s* must keep *every* window of length *W* that contains *s* within the
  cap; we count the messages in ``(s − W, s + W)``, which bounds the count of every such window
  from above, so the check is safe (it may refuse a message an exact sliding-window check would
  allow, never the reverse).
- **Quiet hours** in the customer's own time zone (``customers.time_zone``, else the
  workspace's): `next_allowed_send_time` moves a send to the end of the quiet period.
- **Cool-downs** after a response (e.g. a redemption) or a complaint: no marketing for N days.
- **Transactional** messages (purpose ``service``) are exempt from caps, quiet hours and
  cool-downs, but still need consent for ``service`` and are logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cvm.segments.context import utc_naive

OUTBOUND_CHANNELS: tuple[str, ...] = ("email", "sms", "push", "messenger", "phone")
"""Channels cvm sends on; each needs consent (the channels of `cvm.consent`)."""
INBOUND_CHANNELS: tuple[str, ...] = ("web", "app", "store", "call_center")
"""Channels where the customer came to us (a web banner, a call): no consent or quiet hours
apply; caps count them only when a cap names them."""
CHANNELS: tuple[str, ...] = OUTBOUND_CHANNELS + INBOUND_CHANNELS
COUNTED_STATUSES: tuple[str, ...] = ("sent", "scheduled")
EXEMPT_PURPOSE = "service"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _channel_list(value: object) -> object:
    if isinstance(value, str) and value != "all":
        return [value]
    return value


class FrequencyCap(_Model):
    """At most ``max`` messages on ``channels`` (``all`` = every channel) per ``days`` days."""

    channels: Literal["all"] | list[str] = "all"
    max: int = Field(ge=0)
    days: float = Field(gt=0, le=366)
    purposes: list[str] = Field(default_factory=lambda: ["marketing"])

    _channels = field_validator("channels", mode="before")(_channel_list)

    @field_validator("channels")
    @classmethod
    def _known(cls, value: object) -> object:
        if isinstance(value, list):
            unknown = [c for c in value if c not in CHANNELS]
            if unknown:
                raise ValueError(f"unknown channel(s) {unknown}; choose from {', '.join(CHANNELS)}")
        return value

    def covers(self, channel: str) -> bool:
        if self.channels == "all":
            return channel in OUTBOUND_CHANNELS
        return channel in self.channels

    @property
    def label(self) -> str:
        where = "all channels" if self.channels == "all" else "+".join(self.channels)
        return f"{self.max} per {self.days:g} days on {where}"


class QuietHours(_Model):
    """No outbound marketing between ``start`` and ``end`` local time (may wrap midnight)."""

    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(8, 0)

    @model_validator(mode="after")
    def _distinct(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet_hours.start and quiet_hours.end must differ")
        return self

    def is_quiet(self, local: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Cooldown(_Model):
    """No marketing for ``days`` days after one of ``events`` (a response or a complaint)."""

    after: Literal["response", "complaint"]
    events: list[str] = Field(min_length=1)
    days: float = Field(gt=0, le=3650)


def _default_cooldowns() -> list[Cooldown]:
    return [
        Cooldown(after="response", events=["offer_redeemed"], days=7),
        Cooldown(
            after="complaint",
            events=["email_complained", "spam_complaint", "complaint"],
            days=90,
        ),
    ]


class ContactPolicy(_Model):
    """The workspace's contact policy (section ``[policy]`` of ``decide.toml``)."""

    caps: list[FrequencyCap] = Field(
        default_factory=lambda: [
            FrequencyCap(channels="all", max=2, days=7),
            FrequencyCap(channels=["sms"], max=1, days=14),
        ]
    )
    quiet_hours: QuietHours | None = Field(default_factory=lambda: QuietHours())
    cooldowns: list[Cooldown] = Field(default_factory=_default_cooldowns)
    timezone: str | None = Field(
        None, description="Time zone for customers without one (default: the workspace's)."
    )

    @property
    def longest_window_days(self) -> float:
        return max((c.days for c in self.caps), default=0.0)


@dataclass(frozen=True)
class Verdict:
    """May we send this message now? ``send_after`` is the earliest allowed time (UTC)."""

    allowed: bool
    reason: str
    send_after: dt.datetime | None = None
    exempt: bool = False


@lru_cache(maxsize=1024)
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The IANA zone, or the fallback when the name is empty or unknown."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def next_allowed_send_time(
    now_utc: dt.datetime, time_zone: str | None, quiet: QuietHours | None, fallback: str = "UTC"
) -> dt.datetime:
    """The first moment at or after ``now_utc`` outside quiet hours in the customer's zone.

    Naive datetimes are UTC (the warehouse convention); the answer is naive UTC too.
    """
    now = now_utc.replace(tzinfo=dt.UTC) if now_utc.tzinfo is None else now_utc
    now = now.astimezone(dt.UTC)
    if quiet is None:
        return now.replace(tzinfo=None)
    local = now.astimezone(zone(time_zone, fallback))
    if not quiet.is_quiet(local.time().replace(tzinfo=None)):
        return now.replace(tzinfo=None)
    end_today = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    target = end_today if end_today > local else end_today + dt.timedelta(days=1)
    # Rebuild from the wall-clock time so a DST change between now and then is respected.
    wall = dt.datetime.combine(target.date(), quiet.end, tzinfo=local.tzinfo)
    return wall.astimezone(dt.UTC).replace(tzinfo=None)


def next_allowed_send_times(
    now_utc: dt.datetime, time_zones: Sequence[str | None], quiet: QuietHours | None, fallback: str
) -> np.ndarray:
    """`next_allowed_send_time` for many customers (computed once per distinct zone)."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(time_zones, dtype=object)))
    table = np.array(
        [next_allowed_send_time(now_utc, z or None, quiet, fallback) for z in uniques]
        + [next_allowed_send_time(now_utc, None, quiet, fallback)],  # missing zone (code -1)
        dtype="datetime64[us]",
    )
    return table[codes]


def count_window(history: pd.DataFrame, cap: FrequencyCap, send_at: dt.datetime) -> pd.Series:
    """Messages per customer that count towards ``cap`` for a send at ``send_at``.

    ``history`` has columns customer_id, channel, purpose, at, status (naive UTC ``at``).
    """
    if history.empty:
        return pd.Series(dtype="int64")
    window = dt.timedelta(days=cap.days)
    at = pd.to_datetime(history["at"])
    mask = (
        history["status"].isin(COUNTED_STATUSES)
        & history["purpose"].isin(cap.purposes)
        & history["channel"].map(cap.covers).astype(bool)
        & (at > pd.Timestamp(send_at - window))
        & (at < pd.Timestamp(send_at + window))
    )
    return history.loc[mask].groupby("customer_id").size()


def remaining_by_cap(
    history: pd.DataFrame, caps: Sequence[FrequencyCap], send_at: dt.datetime
) -> pd.DataFrame:
    """Messages still allowed per customer (rows) and cap (columns ``cap_0``, …)."""
    customers = pd.Index(sorted(set(history["customer_id"])) if not history.empty else [])
    out = pd.DataFrame(index=customers)
    for i, cap in enumerate(caps):
        used = count_window(history, cap, send_at).reindex(customers, fill_value=0)
        out[f"cap_{i}"] = (cap.max - used).clip(lower=0).astype("int64")
    return out


def channel_remaining(
    remaining: Iterable[int], caps: Sequence[FrequencyCap], channel: str
) -> int | None:
    """Messages still allowed on ``channel``: the tightest cap covering it (None: no cap)."""
    values = [r for r, cap in zip(remaining, caps, strict=True) if cap.covers(channel)]
    return min(values) if values else None


def in_cooldown(
    events: pd.DataFrame, cooldowns: Sequence[Cooldown], now: dt.datetime
) -> dict[str, str]:
    """Customers in a cool-down at ``now`` → the reason (events: customer_id, name, occurred_at)."""
    out: dict[str, str] = {}
    if events.empty:
        return out
    at = pd.to_datetime(events["occurred_at"])
    for rule in cooldowns:
        mask = events["name"].isin(rule.events) & (
            at > pd.Timestamp(now - dt.timedelta(days=rule.days))
        )
        mask &= at <= pd.Timestamp(now)
        for cid in events.loc[mask, "customer_id"].unique():
            out.setdefault(str(cid), f"cool-down after a {rule.after} ({rule.days:g} days)")
    return out


def check_contact(
    *,
    channel: str,
    purpose: str,
    consented: bool,
    remaining: Sequence[int],
    caps: Sequence[FrequencyCap],
    cooldown_reason: str | None,
    now_utc: dt.datetime,
    time_zone: str | None,
    policy: ContactPolicy,
    fallback_zone: str = "UTC",
) -> Verdict:
    """One message to one customer: the whole policy, in the order a person would check it."""
    now_utc = utc_naive(now_utc)
    inbound = channel in INBOUND_CHANNELS
    if not inbound and not consented:
        return Verdict(False, f"no {purpose} consent for {channel}")
    if purpose == EXEMPT_PURPOSE:
        reason = "transactional: exempt from caps, quiet hours and cool-downs"
        return Verdict(True, reason, now_utc, True)
    if cooldown_reason:
        return Verdict(False, cooldown_reason)
    for left, cap in zip(remaining, caps, strict=True):
        if cap.covers(channel) and purpose in cap.purposes and left <= 0:
            return Verdict(False, f"frequency cap reached: {cap.label}")
    if inbound:
        return Verdict(True, "allowed", now_utc)
    send_after = next_allowed_send_time(now_utc, time_zone, policy.quiet_hours, fallback_zone)
    reason = "allowed" if send_after <= now_utc else "deferred: quiet hours"
    return Verdict(True, reason, send_after)
