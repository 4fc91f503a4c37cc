"""Earn rules → point postings, computed set-based in the warehouse from `transactions`.

One statement (below) turns the order lines of enrolled members into one earn posting per
order and one claw-back posting per return receipt:

1. **Base** per line: ``amount × points_per_unit × category multiplier × channel multiplier``
   (unlisted → ×1); only lines at or after the member's enrolment count. Sale lines of an
   order are summed into ``gained``, return lines (negative amounts) into ``returned``.
2. **Bonuses** add ``floor(gained × (m − 1))`` each, so a ×2 birthday and a ×2 double-points
   offer together give ×3, not ×4: the birthday month (`customers.birth_date`), the member's
   tier on the order day (its ``earn_multiplier``), and every offer bonus whose window holds the
   order and whose offer (or campaign) the member was assigned, outside its control group, no
   later than the order (`campaign_assignments`).
3. **Caps**, in this order: per order ``min(total, cap)``; then per calendar day and per
   calendar month, as running totals in order time: with ``S_i`` the running sum up to order
   ``i`` inclusive, order ``i`` keeps ``min(C, S_i) − min(C, S_{i−1})`` — exactly what capping
   the orders one by one would keep, in one window function.
4. **Returns** claw back ``floor(|returned|)`` points as an ``adjust`` posting (bonuses are not
   clawed back), when ``claw_back_returns`` is on.

Campaign grants (`grant_postings`) give each treated member of a campaign a fixed number of
points once, keyed ``grant:<bonus name>:<customer_id>``.

Idempotency keys are ``earn:<transaction_id>`` and ``return:<transaction_id>``, so a rerun over
the same orders posts nothing new. Caps need the month's earlier orders: the stage recomputes
from the first day of the month of its watermark and lets the ledger drop the duplicates.
Orders with zero points after caps produce no posting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.loyalty.programme import BirthdayBonus, GrantBonus, OfferBonus, Programme

NO_CAP = 10**15
POSTING_COLUMNS = ("key", "customer_id", "kind", "points", "at", "reason", "reference")

_EARN_SQL = """
WITH lines AS (
  SELECT t.transaction_id, t.customer_id, t.occurred_at,
         CAST(t.amount AS DOUBLE) * :ppu * COALESCE(cm.multiplier, 1.0)
           * COALESCE(ch.multiplier, 1.0) AS raw_points
  FROM transactions AS t
  JOIN loyalty_members_in AS m
    ON m.customer_id = t.customer_id AND t.occurred_at >= m.enrolled_at
   AND t.occurred_at >= m.since
  LEFT JOIN loyalty_category_in AS cm ON cm.category = t.category
  LEFT JOIN loyalty_channel_in AS ch ON ch.channel = t.channel
  WHERE t.occurred_at >= :since AND t.occurred_at < :until
),
orders AS (
  SELECT transaction_id, customer_id, MIN(occurred_at) AS at,
         SUM(CASE WHEN raw_points > 0 THEN raw_points ELSE 0 END) AS gained,
         SUM(CASE WHEN raw_points < 0 THEN raw_points ELSE 0 END) AS returned
  FROM lines
  GROUP BY transaction_id, customer_id
),
offer_bonus AS (
  SELECT o.transaction_id, o.customer_id,
         SUM(FLOOR(o.gained * (b.multiplier - 1))) AS points,
         STRING_AGG(b.name, '+' ORDER BY b.name) AS names
  FROM orders AS o
  JOIN loyalty_offer_bonus_in AS b ON o.at >= b.starts AND o.at < b.ends
  WHERE o.gained > 0 AND EXISTS (
    SELECT 1 FROM campaign_assignments AS a
    WHERE a.customer_id = o.customer_id
      AND (a.offer_id = b.offer_id OR a.campaign_id = b.campaign_id)
      AND NOT COALESCE(a.is_control, a.arm = 'control', FALSE)
      AND a.assigned_at <= o.at
  )
  GROUP BY o.transaction_id, o.customer_id
),
scored AS (
  SELECT o.transaction_id, o.customer_id, o.at, o.returned,
         FLOOR(o.gained) AS base,
         CASE WHEN :birthday_mult > 1 AND MONTH(c.birth_date) = MONTH(o.at)
              THEN FLOOR(o.gained * (:birthday_mult - 1)) ELSE 0 END AS birthday,
         COALESCE(MAX(FLOOR(o.gained * (s.multiplier - 1))), 0) AS tier_bonus,
         COALESCE(MAX(ob.points), 0) AS offer_points,
         MAX(ob.names) AS offer_names
  FROM orders AS o
  LEFT JOIN customers AS c ON c.customer_id = o.customer_id
  LEFT JOIN loyalty_tier_spans_in AS s
    ON s.customer_id = o.customer_id AND CAST(o.at AS DATE) >= s.valid_from
   AND (s.valid_to IS NULL OR CAST(o.at AS DATE) < s.valid_to)
  LEFT JOIN offer_bonus AS ob
    ON ob.transaction_id = o.transaction_id AND ob.customer_id = o.customer_id
  WHERE o.gained > 0
  GROUP BY o.transaction_id, o.customer_id, o.at, o.returned, o.gained, c.birth_date
),
per_order AS (
  SELECT *, LEAST(base + birthday + tier_bonus + offer_points, :cap_order) AS capped
  FROM scored
),
running_day AS (
  SELECT *, SUM(capped) OVER (
      PARTITION BY customer_id, CAST(at AS DATE) ORDER BY at, transaction_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS day_sum
  FROM per_order
),
per_day AS (
  SELECT *, LEAST(:cap_day, day_sum) - LEAST(:cap_day, day_sum - capped) AS day_capped
  FROM running_day
),
running_month AS (
  SELECT *, SUM(day_capped) OVER (
      PARTITION BY customer_id, DATE_TRUNC('month', at) ORDER BY at, transaction_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS month_sum
  FROM per_day
),
earned AS (
  SELECT *, LEAST(:cap_month, month_sum) - LEAST(:cap_month, month_sum - day_capped) AS points
  FROM running_month
)
SELECT 'earn:' || transaction_id AS key, customer_id, 'earn' AS kind,
       CAST(points AS BIGINT) AS points, at,
       CONCAT_WS('+', 'base',
         CASE WHEN birthday > 0 THEN :birthday_name END,
         CASE WHEN tier_bonus > 0 THEN 'tier' END,
         offer_names,
         CASE WHEN points < base + birthday + tier_bonus + offer_points THEN 'capped' END
       ) AS reason,
       transaction_id AS reference
FROM earned WHERE points > 0
UNION ALL
SELECT 'return:' || transaction_id AS key, customer_id, 'adjust' AS kind,
       CAST(-FLOOR(-returned) AS BIGINT) AS points, at, 'return' AS reason,
       transaction_id AS reference
FROM orders WHERE :claw_back AND FLOOR(-returned) >= 1
ORDER BY at, key
"""


def _multipliers(column: str, values: dict[str, float]) -> pa.Table:
    return pa.table(
        {
            column: pa.array(list(values), pa.string()),
            "multiplier": pa.array(list(values.values()), pa.float64()),
        }
    )


def _offer_bonuses(programme: Programme) -> pa.Table:
    offers = [b for b in programme.bonuses if isinstance(b, OfferBonus)]

    def moment(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day)

    return pa.table(
        {
            "name": pa.array([b.name for b in offers], pa.string()),
            "offer_id": pa.array([b.offer_id for b in offers], pa.string()),
            "campaign_id": pa.array([b.campaign_id for b in offers], pa.string()),
            "starts": pa.array([moment(b.starts) for b in offers], pa.timestamp("us")),
            # whole days, inclusive: the window ends when the last day ends
            "ends": pa.array(
                [moment(b.ends) + dt.timedelta(days=1) for b in offers], pa.timestamp("us")
            ),
            "multiplier": pa.array([b.multiplier for b in offers], pa.float64()),
        }
    )


EMPTY_SPANS = pa.table(
    {
        "customer_id": pa.array([], pa.string()),
        "valid_from": pa.array([], pa.date32()),
        "valid_to": pa.array([], pa.date32()),
        "multiplier": pa.array([], pa.float64()),
    }
)


def tier_multiplier_spans(programme: Programme, spans: pa.Table | None) -> pa.Table:
    """The tier spans (customer_id, tier, valid_from, valid_to) whose tier earns extra points."""
    if programme.tiers is None or spans is None or spans.num_rows == 0:
        return EMPTY_SPANS
    extra = {lv.name: lv.benefits.earn_multiplier for lv in programme.tiers.levels}
    tiers = spans.column("tier").to_pylist()
    keep = [extra.get(t, 1.0) > 1.0 for t in tiers]
    rows = spans.filter(pa.array(keep, pa.bool_()))
    return pa.table(
        {
            "customer_id": rows.column("customer_id").cast(pa.string()),
            "valid_from": rows.column("valid_from").cast(pa.date32()),
            "valid_to": rows.column("valid_to").cast(pa.date32()),
            "multiplier": pa.array(
                [extra[t] for t in rows.column("tier").to_pylist()], pa.float64()
            ),
        }
    )


def earn_postings(
    engine: Engine,
    programme: Programme,
    members: pa.Table,
    since: dt.datetime,
    until: dt.datetime,
    *,
    tier_spans: pa.Table | None = None,
    batch_size: int = 50_000,
) -> Iterator[pa.RecordBatch]:
    """Stream the earn and claw-back postings of orders in ``[since, until)`` as Arrow batches
    with `POSTING_COLUMNS` (see the module docstring for the rules).

    ``members`` has customer_id and enrolled_at (naive UTC timestamps), and optionally a
    per-member ``since`` (a member new to the stage is earned from enrolment, the others from
    the watermark); without it every member starts at ``since``.
    """
    if "since" not in members.column_names:
        members = members.append_column(
            "since", pa.array([since] * members.num_rows, pa.timestamp("us"))
        )
    birthday = next((b for b in programme.bonuses if isinstance(b, BirthdayBonus)), None)
    caps = programme.caps
    inputs = {
        "loyalty_members_in": members,
        "loyalty_category_in": _multipliers("category", programme.earn.categories),
        "loyalty_channel_in": _multipliers("channel", programme.earn.channels),
        "loyalty_offer_bonus_in": _offer_bonuses(programme),
        "loyalty_tier_spans_in": tier_multiplier_spans(programme, tier_spans),
    }
    query = bind(
        _EARN_SQL,
        ppu=programme.earn.points_per_unit,
        since=since,
        until=until,
        birthday_mult=birthday.multiplier if birthday else 1.0,
        birthday_name=birthday.name if birthday else "birthday",
        cap_order=NO_CAP if caps.per_order is None else caps.per_order,
        cap_day=NO_CAP if caps.per_day is None else caps.per_day,
        cap_month=NO_CAP if caps.per_month is None else caps.per_month,
        claw_back=programme.earn.claw_back_returns,
    )
    for name, table in inputs.items():
        engine.register_arrow(name, table)
    try:
        yield from engine.fetch_batches(query, batch_size=batch_size)
    finally:
        for name in inputs:
            engine.unregister(name)


_GRANT_SQL = """
SELECT 'grant:' || g.name || ':' || a.customer_id AS key, a.customer_id, 'earn' AS kind,
       CAST(MAX(g.points) AS BIGINT) AS points, MIN(a.assigned_at) AS at, g.name AS reason,
       MAX(COALESCE(g.campaign_id, g.offer_id)) AS reference
FROM campaign_assignments AS a
JOIN loyalty_grants_in AS g ON a.offer_id = g.offer_id OR a.campaign_id = g.campaign_id
JOIN loyalty_members_in AS m
  ON m.customer_id = a.customer_id AND a.assigned_at >= m.enrolled_at
WHERE NOT COALESCE(a.is_control, a.arm = 'control', FALSE) AND a.assigned_at < :until
GROUP BY g.name, a.customer_id
ORDER BY at, key
"""


def grant_postings(
    engine: Engine, programme: Programme, members: pa.Table, until: dt.datetime
) -> pa.Table:
    """One earn posting per member treated by a granting campaign before ``until`` (assigned
    while a member, not in control); reruns repeat the same keys."""
    grants = [b for b in programme.bonuses if isinstance(b, GrantBonus)]
    if not grants:
        return pa.table({c: [] for c in POSTING_COLUMNS})
    table = pa.table(
        {
            "name": pa.array([g.name for g in grants], pa.string()),
            "offer_id": pa.array([g.offer_id for g in grants], pa.string()),
            "campaign_id": pa.array([g.campaign_id for g in grants], pa.string()),
            "points": pa.array([g.points for g in grants], pa.int64()),
        }
    )
    engine.register_arrow("loyalty_grants_in", table)
    engine.register_arrow("loyalty_members_in", members.select(["customer_id", "enrolled_at"]))
    try:
        return engine.fetch_arrow(bind(_GRANT_SQL, until=until))
    finally:
        engine.unregister("loyalty_grants_in")
        engine.unregister("loyalty_members_in")
