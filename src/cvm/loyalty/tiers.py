"""Tier timelines: who held which tier when, from qualifying amounts over a rolling window.

The rules (`cvm.loyalty.programme.TierRules`), stated exactly because tests pin them:

- The rolling total on day ``d`` sums the member's qualifying amounts (net spend, or earned
  points) on the days in ``(d − window_months, d]``, counting only days from enrolment.
- **Upgrade** the same day a purchase lifts the rolling total to a higher tier's threshold
  (``total ≥ threshold``); a member can jump several tiers at once.
- **Downgrade** is checked on evaluation dates, the first day of every calendar month: when the
  total has fallen below the current tier's threshold, the grace period starts on that date; if
  on a later (or the same, for ``grace_months: 0``) evaluation date the grace period has run
  (``start + grace_months ≤ date``) and the member still qualifies lower, they move down to the
  tier they qualify for. Qualifying again for the current tier on a purchase day or an
  evaluation date cancels the grace period; qualifying higher upgrades at once.

Purchases of a day are applied before that day's evaluation. The maths below is plain Python
over one member's sorted days (prefix sums + binary search, O(days log days)); the SQL part at
the end reads the qualifying amounts from the warehouse.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import pyarrow as pa

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.loyalty.programme import TierRules, add_months

TIER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("tier", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),
        ("reason", pa.string()),
        ("rolling_total", pa.float64()),
    ]
)


@dataclass(frozen=True)
class TierSpan:
    """One member held ``tier`` from ``valid_from`` (inclusive) to ``valid_to`` (exclusive;
    None while it lasts)."""

    tier: str
    valid_from: dt.date
    valid_to: dt.date | None
    reason: str
    rolling_total: float


def _month_starts(after: dt.date, until: dt.date) -> list[dt.date]:
    """First days of the months in ``(after, until]``."""
    first = dt.date(after.year + after.month // 12, after.month % 12 + 1, 1)
    out: list[dt.date] = []
    while first <= until:
        out.append(first)
        first = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return out


def _window_start(day: dt.date, months: int) -> dt.date:
    """Days strictly after this one are inside the window ending on ``day``."""
    shifted = add_months(dt.datetime(day.year, day.month, day.day), -months)
    return shifted.date()


def tier_timeline(
    days: Sequence[tuple[dt.date, float]],
    enrolled: dt.date,
    as_of: dt.date,
    rules: TierRules,
) -> list[TierSpan]:
    """One member's tier spans from enrolment to ``as_of`` (see the module docstring).

    ``days`` are (day, qualifying amount) pairs, sorted by day, one per day; days before
    enrolment or after ``as_of`` are ignored.
    """
    kept = [(d, a) for d, a in days if enrolled <= d <= as_of]
    dates = [d for d, _ in kept]
    prefix = [0.0, *accumulate(a for _, a in kept)]
    thresholds = [level.threshold for level in rules.levels]

    def rolling(day: dt.date) -> float:
        hi = bisect.bisect_right(dates, day)
        lo = bisect.bisect_right(dates, _window_start(day, rules.window_months))
        return prefix[hi] - prefix[lo]

    def qualified(total: float) -> int:
        # Rounding noise from money sums must not miss a threshold by a hair.
        return bisect.bisect_right(thresholds, total + 1e-9) - 1

    spans: list[TierSpan] = []
    current = 0
    since = enrolled
    reason = "enrolled"
    since_total = 0.0
    below_since: dt.date | None = None

    def move(level: int, day: dt.date, why: str, total: float) -> None:
        nonlocal current, since, reason, since_total
        if day > since:
            spans.append(TierSpan(rules.levels[current].name, since, day, reason, since_total))
        current, since, reason, since_total = level, day, why, total

    # Events in time order: purchase days (kind 0) before evaluation dates (kind 1) of a day.
    events = [(d, 0) for d in dates] + [(d, 1) for d in _month_starts(enrolled, as_of)]
    for day, kind in sorted(events):
        total = rolling(day)
        level = qualified(total)
        if level > current:
            name = rules.levels[level].name
            move(level, day, f"upgrade: rolling {rules.basis} {total:,.2f} reached {name}", total)
            below_since = None
        elif level == current:
            below_since = None
        elif kind == 1:
            below_since = below_since or day
            if add_months(_midnight(below_since), rules.grace_months).date() <= day:
                why = (
                    f"downgrade: rolling {rules.basis} {total:,.2f} below "
                    f"{rules.levels[current].name} since {below_since}"
                )
                move(level, day, why, total)
                below_since = None
    spans.append(TierSpan(rules.levels[current].name, since, None, reason, since_total))
    return spans


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def timelines_table(
    members: Iterable[tuple[str, dt.date]],
    amounts: pa.Table,
    as_of: dt.date,
    rules: TierRules,
) -> pa.Table:
    """Every member's spans as one Arrow table (`TIER_SCHEMA`).

    ``amounts`` has columns customer_id, day, amount (one row per member and day).
    """
    by_member: dict[str, list[tuple[dt.date, float]]] = {}
    ids = amounts.column("customer_id").to_pylist()
    day_values = amounts.column("day").to_pylist()
    values = amounts.column("amount").to_pylist()
    for cid, day, value in zip(ids, day_values, values, strict=True):
        by_member.setdefault(cid, []).append((day, float(value or 0.0)))
    columns: dict[str, list[object]] = {name: [] for name in TIER_SCHEMA.names}
    for cid, enrolled in members:
        if enrolled > as_of:
            continue
        for span in tier_timeline(sorted(by_member.get(cid, [])), enrolled, as_of, rules):
            columns["customer_id"].append(cid)
            columns["tier"].append(span.tier)
            columns["valid_from"].append(span.valid_from)
            columns["valid_to"].append(span.valid_to)
            columns["reason"].append(span.reason)
            columns["rolling_total"].append(span.rolling_total)
    return pa.table(columns, schema=TIER_SCHEMA)


_SPEND_BY_DAY = """
SELECT t.customer_id, CAST(t.occurred_at AS DATE) AS day, CAST(SUM(t.amount) AS DOUBLE) AS amount
FROM transactions AS t
JOIN loyalty_members_in AS m ON m.customer_id = t.customer_id
WHERE t.occurred_at >= m.enrolled_at AND t.occurred_at < :until
GROUP BY 1, 2
"""

_POINTS_BY_DAY = """
SELECT e.customer_id, CAST(e.at AS DATE) AS day, CAST(SUM(e.points) AS DOUBLE) AS amount
FROM loyalty_entries AS e
WHERE e.kind IN ('earn', 'adjust') AND e.account = 'member' AND e.at < :until
GROUP BY 1, 2
"""


def qualifying_amounts(
    engine: Engine, members: pa.Table, until: dt.datetime, basis: str
) -> pa.Table:
    """Per member and day: net spend from enrolment (``spend``) or points earned net of
    return claw-backs (``points``, from the mirrored journal), before ``until``."""
    if basis == "points":
        if not engine.table_exists("loyalty_entries"):
            return pa.table({"customer_id": [], "day": pa.array([], pa.date32()), "amount": []})
        return engine.fetch_arrow(bind(_POINTS_BY_DAY, until=until))
    engine.register_arrow("loyalty_members_in", members)
    try:
        return engine.fetch_arrow(bind(_SPEND_BY_DAY, until=until))
    finally:
        engine.unregister("loyalty_members_in")


_CURRENT = """
SELECT tier, COUNT(*) AS members, MIN(valid_from) AS earliest_since
FROM loyalty_tiers WHERE valid_to IS NULL GROUP BY tier
"""

_HISTORY = """
SELECT tier, valid_from, valid_to, reason, rolling_total
FROM loyalty_tiers WHERE customer_id = :customer_id ORDER BY valid_from
"""


def current_tiers(engine: Engine, rules: TierRules) -> list[dict[str, object]]:
    """Members per current tier, in the programme's tier order (from `loyalty_tiers`)."""
    if not engine.table_exists("loyalty_tiers"):
        return []
    found = {str(r[0]): (r[1], r[2]) for r in engine.fetch_rows(_CURRENT)}
    return [
        {"tier": lv.name, "members": found.get(lv.name, (0, None))[0],
         "threshold": lv.threshold, "since (earliest)": found.get(lv.name, (0, None))[1]}
        for lv in rules.levels
    ]  # fmt: skip


def tier_history(engine: Engine, customer_id: str) -> list[dict[str, object]]:
    """One member's tier spans, oldest first."""
    if not engine.table_exists("loyalty_tiers"):
        return []
    rows = engine.fetch_arrow(bind(_HISTORY, customer_id=customer_id))
    return rows.to_pylist()
