"""`loyalty_profile`: the loyalty fields of every customer, for segments, offers and models.

Built from the warehouse mirrors in one statement and joined into the `customer_360` view
(`cvm.profiles.views.PROFILE_EXTENSIONS`), so a segment or an offer's eligibility can say
``{kind: profile, field: loyalty_tier, op: in, value: [gold, platinum]}`` and the churn and
uplift features can read the balance and redemption behaviour. Every customer gets a row
(``loyalty_member`` false for non-members), so "not a member" is a plain condition too.

A redemption counts unless it was reversed (a reversal entry names it in ``reverses``). The
current tier's benefits come along (``loyalty_free_shipping``, ``loyalty_earn_multiplier``), so
an offer can target "members with free shipping" without listing tiers.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.loyalty.programme import Programme
from cvm.loyalty.tables import LOYALTY_PROFILE
from cvm.profiles.views import ensure_profile_tables

_PROFILE_SQL = """
WITH redeemed AS (
  SELECT e.customer_id,
         COUNT(DISTINCT CASE WHEN e.at >= :year_ago THEN e.entry_key END) AS redemptions_12m,
         MAX(e.at) AS last_redeemed_at
  FROM loyalty_entries AS e
  WHERE e.kind = 'redeem' AND e.account = 'member' AND e.at < :as_of
    AND NOT EXISTS (SELECT 1 FROM loyalty_entries AS r WHERE r.reverses = e.entry_key)
  GROUP BY e.customer_id
),
everyone AS (
  SELECT customer_id FROM customers WHERE customer_id IS NOT NULL
  UNION
  SELECT customer_id FROM loyalty_accounts
)
SELECT p.customer_id,
       a.customer_id IS NOT NULL AS loyalty_member,
       a.enrolled_at AS loyalty_enrolled_at,
       a.balance AS loyalty_points_balance,
       t.tier AS loyalty_tier,
       CASE WHEN a.customer_id IS NOT NULL THEN COALESCE(r.redemptions_12m, 0) END
         AS loyalty_redemptions_12m,
       r.last_redeemed_at AS loyalty_last_redeemed_at,
       b.free_shipping AS loyalty_free_shipping,
       b.earn_multiplier AS loyalty_earn_multiplier
FROM everyone AS p
LEFT JOIN loyalty_accounts AS a ON a.customer_id = p.customer_id
LEFT JOIN loyalty_tiers AS t ON t.customer_id = p.customer_id AND t.valid_to IS NULL
LEFT JOIN loyalty_benefits_in AS b ON b.tier = t.tier
LEFT JOIN redeemed AS r ON r.customer_id = p.customer_id
"""


def profile_fields_query(as_of: dt.datetime) -> exp.Expression:
    """The `loyalty_profile` rows at ``as_of`` (exclusive end); 12 months = 365 days back."""
    return bind(_PROFILE_SQL, as_of=as_of, year_ago=as_of - dt.timedelta(days=365))


def _benefits(programme: Programme) -> pa.Table:
    levels = programme.tiers.levels if programme.tiers is not None else []
    return pa.table(
        {
            "tier": pa.array([lv.name for lv in levels], pa.string()),
            "free_shipping": pa.array([lv.benefits.free_shipping for lv in levels], pa.bool_()),
            "earn_multiplier": pa.array(
                [lv.benefits.earn_multiplier for lv in levels], pa.float64()
            ),
        }
    )


def write_profile_fields(engine: Engine, programme: Programme, as_of: dt.datetime) -> int:
    """Rewrite `loyalty_profile` and refresh `customer_360` so it carries the fields."""
    engine.register_arrow("loyalty_benefits_in", _benefits(programme))
    try:
        data = engine.fetch_arrow(profile_fields_query(as_of))
    finally:
        engine.unregister("loyalty_benefits_in")
    data = data.select([c.name for c in LOYALTY_PROFILE.columns])
    engine.write_arrow(LOYALTY_PROFILE.name, data, mode="replace")
    ensure_profile_tables(engine)
    return data.num_rows
