"""Contact policy: quiet hours in local time, rolling caps counting history and schedule,
cool-downs, transactional exemption; the batch SQL agrees with the pure functions."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from cvm.decide.contact_policy import (
    ContactPolicy,
    FrequencyCap,
    QuietHours,
    check_contact,
    in_cooldown,
    next_allowed_send_time,
    remaining_by_cap,
)
from cvm.decide.policy_sql import history_counts
from tests.decide.conftest import NOW

QUIET = QuietHours(start=dt.time(21), end=dt.time(8))


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        (
            dt.datetime(2025, 3, 10, 12),
            "Europe/Berlin",
            dt.datetime(2025, 3, 10, 12),
        ),  # 13:00 local
        (
            dt.datetime(2025, 3, 10, 21),
            "Europe/Berlin",
            dt.datetime(2025, 3, 11, 7),
        ),  # 22:00 → 08:00 CET
        (
            dt.datetime(2025, 3, 10, 3),
            "Europe/Berlin",
            dt.datetime(2025, 3, 10, 7),
        ),  # 04:00 → 08:00
        (dt.datetime(2025, 3, 10, 12), "Asia/Tokyo", dt.datetime(2025, 3, 10, 23)),  # 21:00 JST
        (
            dt.datetime(2025, 3, 10, 12),
            "Not/AZone",
            dt.datetime(2025, 3, 10, 12),
        ),  # falls back to UTC
        # the night before the spring DST change in Berlin: 08:00 CEST is 06:00 UTC
        (dt.datetime(2025, 3, 29, 22), "Europe/Berlin", dt.datetime(2025, 3, 30, 6)),
    ],
)
def test_next_allowed_send_time(now: dt.datetime, zone: str, expected: dt.datetime) -> None:
    assert next_allowed_send_time(now, zone, QUIET) == expected


def test_quiet_hours_must_differ() -> None:
    with pytest.raises(ValidationError):
        QuietHours(start=dt.time(8), end=dt.time(8))


def _history() -> pd.DataFrame:
    rows = [
        ("a", "email", "marketing", NOW - dt.timedelta(days=2), "sent"),
        ("a", "email", "marketing", NOW + dt.timedelta(days=3), "scheduled"),
        ("a", "sms", "marketing", NOW - dt.timedelta(days=13), "sent"),
        ("b", "email", "marketing", NOW - dt.timedelta(days=8), "sent"),  # outside 7 days
        ("b", "email", "service", NOW - dt.timedelta(days=1), "sent"),  # transactional
        ("b", "sms", "marketing", NOW - dt.timedelta(days=1), "cancelled"),  # not counted
        ("c", "sms", "marketing", NOW + dt.timedelta(days=13), "scheduled"),
    ]
    return pd.DataFrame(rows, columns=["customer_id", "channel", "purpose", "at", "status"])


def test_caps_count_sent_and_scheduled_in_both_directions() -> None:
    caps = ContactPolicy().caps  # 2 per 7 days on all channels, 1 SMS per 14 days
    left = remaining_by_cap(_history(), caps, NOW)
    assert left.loc["a"].tolist() == [0, 0]
    assert left.loc["b"].tolist() == [2, 1]
    assert left.loc["c"].tolist() == [2, 0]


def test_sql_counts_equal_pandas(decide_ws: object) -> None:
    engine = decide_ws.engine  # type: ignore[attr-defined]
    engine.execute("DELETE FROM contact_history")
    engine.write_arrow("contact_history", _history())
    caps = ContactPolicy().caps
    sql = engine.fetch_arrow(history_counts(caps, NOW)).to_pandas().set_index("customer_id")
    expected = remaining_by_cap(_history(), caps, NOW)
    for j, cap in enumerate(caps):
        used = (cap.max - expected[f"cap_{j}"]).astype(int)
        got = sql[f"n_{j}"].reindex(used.index).fillna(0).astype(int)
        assert got.tolist() == used.tolist()


def test_check_contact_order_and_exemption() -> None:
    policy = ContactPolicy()
    common = {
        "caps": policy.caps,
        "now_utc": dt.datetime(2025, 3, 10, 22),
        "time_zone": "Europe/Berlin",
        "policy": policy,
    }
    no_consent = check_contact(
        channel="email",
        purpose="marketing",
        consented=False,
        remaining=[2, 1],
        cooldown_reason=None,
        **common,
    )
    assert not no_consent.allowed and "consent" in no_consent.reason
    capped = check_contact(
        channel="sms",
        purpose="marketing",
        consented=True,
        remaining=[2, 0],
        cooldown_reason=None,
        **common,
    )
    assert not capped.allowed and "1 per 14 days on sms" in capped.reason
    deferred = check_contact(
        channel="email",
        purpose="marketing",
        consented=True,
        remaining=[1, 1],
        cooldown_reason=None,
        **common,
    )
    assert deferred.allowed and deferred.send_after == dt.datetime(2025, 3, 11, 7)
    service = check_contact(
        channel="sms",
        purpose="service",
        consented=True,
        remaining=[0, 0],
        cooldown_reason="x",
        **common,
    )
    assert service.allowed and service.exempt and service.send_after == dt.datetime(2025, 3, 10, 22)
    web = check_contact(
        channel="web",
        purpose="marketing",
        consented=False,
        remaining=[2, 1],
        cooldown_reason=None,
        **common,
    )
    assert web.allowed  # inbound: the customer came to us


def test_cooldowns() -> None:
    events = pd.DataFrame(
        [("a", "offer_redeemed", NOW - dt.timedelta(days=3)), ("b", "offer_redeemed", NOW - dt.timedelta(days=9)),
         ("c", "complaint", NOW - dt.timedelta(days=60))],
        columns=["customer_id", "name", "occurred_at"],
    )  # fmt: skip
    found = in_cooldown(events, ContactPolicy().cooldowns, NOW)
    assert set(found) == {"a", "c"} and "complaint" in found["c"]


def test_cap_validation_names_channel() -> None:
    with pytest.raises(ValidationError, match="unknown channel"):
        FrequencyCap(channels=["fax"], max=1, days=7)
