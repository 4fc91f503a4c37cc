"""Programme figures from the warehouse mirrors: members, activity, redemption, liability, tiers.

All figures count journal lines on the `member` account before the report's end; a reversal
counts as the kind it reverses (a reversed redemption is no redemption), so the figures are
net of corrections.

- **Active member**: earned or redeemed in the 90 days before the end.
- **Redemption rate**: points redeemed / points earned over the last 12 months (365 days).
- **Points liability**: outstanding points × point value. **Expected breakage** is the share
  of points that leave the programme by expiring rather than by redemption so far,
  ``expired / (expired + redeemed)`` (all time): the liability net of breakage is
  ``outstanding × point value × (1 − breakage)``, the usual estimate of what will be redeemed
  (IFRS 15 §B46 allows recognising expected breakage in proportion to the pattern of rights
  exercised). None until anything has expired or been redeemed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from cvm.engine.base import Engine
from cvm.engine.sql import bind

NOT_A_MEMBER = "not a member"

_FIGURES = """
WITH lines AS (
  SELECT e.customer_id, e.points, e.at, COALESCE(o.kind, e.kind) AS kind
  FROM loyalty_entries AS e
  LEFT JOIN (SELECT DISTINCT entry_key, kind FROM loyalty_entries) AS o
    ON o.entry_key = e.reverses
  WHERE e.account = 'member' AND e.at < :end
)
SELECT
  (SELECT COUNT(*) FROM loyalty_accounts WHERE enrolled_at < :end) AS members,
  (SELECT COUNT(DISTINCT customer_id) FROM lines
     WHERE kind IN ('earn', 'redeem') AND at >= :days90) AS active,
  (SELECT COALESCE(SUM(points), 0) FROM lines WHERE kind = 'earn' AND at >= :days365)
    AS earned_12m,
  (SELECT COALESCE(-SUM(points), 0) FROM lines WHERE kind = 'redeem' AND at >= :days365)
    AS redeemed_12m,
  (SELECT COUNT(DISTINCT customer_id) FROM lines WHERE kind = 'redeem' AND at >= :days365)
    AS redeemers_12m,
  (SELECT COALESCE(SUM(points), 0) FROM lines) AS outstanding,
  (SELECT COALESCE(-SUM(points), 0) FROM lines WHERE kind = 'expire') AS expired_all,
  (SELECT COALESCE(-SUM(points), 0) FROM lines WHERE kind = 'redeem') AS redeemed_all
"""

_TIERS_ON = """
SELECT a.customer_id, COALESCE(t.tier, :none) AS tier
FROM loyalty_accounts AS a
LEFT JOIN loyalty_tiers AS t
  ON t.customer_id = a.customer_id AND t.valid_from <= :day
 AND (t.valid_to IS NULL OR t.valid_to > :day)
WHERE a.enrolled_at < :end
"""


@dataclass(frozen=True)
class ProgrammeFigures:
    members: int
    active: int
    earned_12m: int
    redeemed_12m: int
    redeemers_12m: int
    outstanding: int
    expired_all: int
    redeemed_all: int

    @property
    def redemption_rate(self) -> float | None:
        return self.redeemed_12m / self.earned_12m if self.earned_12m else None

    @property
    def breakage(self) -> float | None:
        gone = self.expired_all + self.redeemed_all
        return self.expired_all / gone if gone else None

    def liability(self, point_value: float) -> float:
        return self.outstanding * point_value

    def liability_net(self, point_value: float) -> float | None:
        rate = self.breakage
        return None if rate is None else self.liability(point_value) * (1 - rate)


def programme_figures(engine: Engine, end: dt.datetime) -> ProgrammeFigures:
    """The headline figures at ``end`` (exclusive), see the module docstring."""
    query = bind(
        _FIGURES,
        end=end,
        days90=end - dt.timedelta(days=90),
        days365=end - dt.timedelta(days=365),
    )
    row = engine.fetch_rows(query)[0]
    return ProgrammeFigures(*(int(v or 0) for v in row))  # type: ignore[call-overload]


def tiers_on(engine: Engine, day: dt.date, end: dt.datetime) -> pd.DataFrame:
    """Each member's tier on ``day`` (members who joined later: ``not a member``)."""
    query = bind(_TIERS_ON, day=day, end=end, none=NOT_A_MEMBER)
    return engine.fetch_arrow(query).to_pandas()


def tier_migration(
    engine: Engine, start: dt.date, end_day: dt.date, end: dt.datetime, order: list[str]
) -> pd.DataFrame:
    """Members by tier on ``start`` (rows) and on ``end_day`` (columns), in tier order."""
    before = tiers_on(engine, start, end).rename(columns={"tier": "from"})
    after = tiers_on(engine, end_day, end).rename(columns={"tier": "to"})
    both = before.merge(after, on="customer_id")
    labels = [NOT_A_MEMBER, *order]
    matrix = pd.crosstab(both["from"], both["to"]).reindex(index=labels, columns=order)
    return matrix.fillna(0).astype(int)
