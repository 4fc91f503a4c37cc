"""Value KPIs over time, by segment, and revenue concentration, in engine SQL.

Definitions (non-contractual retail setting; W = the workspace's churn window in days):

* **active customer at day d**: at least one purchase in (d − W, d];
* **paying customer in a period**: at least one purchase in the period;
* **revenue**: net revenue of the period (returns subtract);
* **ARPU** = revenue / active customers at the period end;
* **ARPPU** = revenue / paying customers; **AOV** = revenue / orders (orders = purchase days per
  customer, the same occasions the CLV models count); **purchase frequency** = orders / paying;
* **repeat purchase rate** = share of customers acquired by the period end with 2+ orders;
* **retention rate** of a period = share of customers active at the previous period end who are
  still active at this period end; **churn rate** = 1 − retention.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.engine.sql import bind

_DAILY = """
daily AS (
  SELECT customer_id, CAST(occurred_at AS DATE) AS day,
         CAST(sum(amount) AS DOUBLE) AS revenue,
         bool_or(NOT coalesce(is_return, FALSE)) AS is_purchase
  FROM transactions
  WHERE occurred_at < :end_exclusive
  GROUP BY customer_id, CAST(occurred_at AS DATE)
)"""

_MONTHLY = (
    "WITH"  # noqa: S608 (constant text; values are bound by sqlglot)
    + _DAILY
    + """,
months AS (
  SELECT CAST(m AS DATE) AS month_start, CAST(m + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS month_end
  -- unnest(generate_series(...)) rather than the range() table function: sqlglot spells it
  -- as EXPLODE(SEQUENCE(...)) for Spark (range(...) AS t(m) does not transpile).
  FROM (SELECT unnest(generate_series(date_trunc('month', (SELECT min(day) FROM daily)), CAST(:as_of AS DATE), INTERVAL 1 MONTH)) AS m) AS t
),
firsts AS (SELECT customer_id, min(day) AS first_day FROM daily WHERE is_purchase GROUP BY customer_id),
activity AS (
  SELECT DISTINCT m.month_start, d.customer_id
  FROM daily AS d JOIN months AS m
    ON d.is_purchase AND d.day <= m.month_end AND d.day > m.month_end - CAST(:window AS INTEGER)
),
active AS (SELECT month_start, count(*) AS active_customers FROM activity GROUP BY month_start),
retained AS (
  SELECT cur.month_start, count(*) AS retained
  FROM activity AS cur JOIN activity AS prev
    ON cur.customer_id = prev.customer_id AND prev.month_start = cur.month_start - INTERVAL 1 MONTH
  GROUP BY cur.month_start
),
period AS (
  SELECT m.month_start,
         coalesce(sum(d.revenue), 0) AS revenue,
         count(*) FILTER (WHERE d.is_purchase) AS orders,
         count(DISTINCT d.customer_id) FILTER (WHERE d.is_purchase) AS paying_customers
  FROM months AS m LEFT JOIN daily AS d ON d.day BETWEEN m.month_start AND m.month_end
  GROUP BY m.month_start
),
acquired AS (
  SELECT m.month_start,
         count(*) FILTER (WHERE f.first_day BETWEEN m.month_start AND m.month_end) AS new_customers,
         count(*) AS customer_base
  FROM months AS m JOIN firsts AS f ON f.first_day <= m.month_end
  GROUP BY m.month_start
),
repeaters AS (
  SELECT m.month_start, count(*) AS repeat_customers
  FROM months AS m JOIN (
    -- row_number rather than (array_agg(day ORDER BY day))[2]: Spark's collect_list has no
    -- ORDER BY, so the ordered-aggregate spelling would pick an arbitrary day there.
    SELECT customer_id, min(day) AS first_day, min(CASE WHEN nth = 2 THEN day END) AS second_day
    FROM (SELECT customer_id, day, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS nth
          FROM daily WHERE is_purchase) AS ordered
    GROUP BY customer_id
  ) AS s ON s.second_day <= m.month_end
  GROUP BY m.month_start
)
SELECT m.month_start AS month,
       p.revenue, p.orders, p.paying_customers,
       coalesce(a.active_customers, 0) AS active_customers,
       coalesce(q.new_customers, 0) AS new_customers,
       coalesce(q.customer_base, 0) AS customer_base,
       p.revenue / nullif(a.active_customers, 0) AS arpu,
       p.revenue / nullif(p.paying_customers, 0) AS arppu,
       p.revenue / nullif(p.orders, 0) AS avg_order_value,
       p.orders / nullif(p.paying_customers, 0) AS purchase_frequency,
       coalesce(r.repeat_customers, 0) / nullif(q.customer_base, 0) AS repeat_purchase_rate,
       coalesce(t.retained, 0) / nullif(lag(a.active_customers) OVER (ORDER BY m.month_start), 0) AS retention_rate,
       1 - coalesce(t.retained, 0) / nullif(lag(a.active_customers) OVER (ORDER BY m.month_start), 0) AS churn_rate
FROM months AS m
LEFT JOIN period AS p ON p.month_start = m.month_start
LEFT JOIN active AS a ON a.month_start = m.month_start
LEFT JOIN retained AS t ON t.month_start = m.month_start
LEFT JOIN acquired AS q ON q.month_start = m.month_start
LEFT JOIN repeaters AS r ON r.month_start = m.month_start
ORDER BY month
"""
)

_BY_DIMENSION = (
    "WITH"  # noqa: S608 (constant text; values are bound by sqlglot)
    + _DAILY
    + """,
per_customer AS (
  SELECT customer_id,
         sum(revenue) FILTER (WHERE day > CAST(:as_of AS DATE) - CAST(:period AS INTEGER)) AS period_revenue,
         count(*) FILTER (WHERE is_purchase AND day > CAST(:as_of AS DATE) - CAST(:period AS INTEGER)) AS period_orders,
         count(*) FILTER (WHERE is_purchase) AS orders,
         max(day) FILTER (WHERE is_purchase) AS last_day
  FROM daily GROUP BY customer_id
)
SELECT coalesce(CAST(v.__dimension__ AS VARCHAR), '(none)') AS segment,
       count(*) AS customers,
       count(*) FILTER (WHERE pc.last_day > CAST(:as_of AS DATE) - CAST(:window AS INTEGER)) AS active_customers,
       coalesce(sum(pc.period_revenue), 0) AS revenue,
       coalesce(sum(pc.period_revenue), 0) / nullif(count(*) FILTER (WHERE pc.last_day > CAST(:as_of AS DATE) - CAST(:window AS INTEGER)), 0) AS arpu,
       coalesce(sum(pc.period_revenue), 0) / nullif(sum(pc.period_orders), 0) AS avg_order_value,
       avg(CASE WHEN pc.orders >= 2 THEN 1.0 ELSE 0.0 END) AS repeat_purchase_rate,
       avg(v.clv) AS mean_clv,
       sum(v.clv) AS total_clv,
       avg(v.p_alive) AS mean_p_alive
FROM customer_360 AS v LEFT JOIN per_customer AS pc ON pc.customer_id = v.customer_id
GROUP BY 1
ORDER BY revenue DESC
"""
)

_CONCENTRATION = """
WITH rev AS (
  SELECT customer_id, CAST(sum(amount) AS DOUBLE) AS revenue
  FROM transactions WHERE occurred_at < :end_exclusive
  GROUP BY customer_id HAVING sum(amount) > 0
),
ranked AS (
  SELECT revenue,
         row_number() OVER (ORDER BY revenue DESC, customer_id) AS rank,
         count(*) OVER () AS n,
         sum(revenue) OVER () AS total,
         sum(revenue) OVER (ORDER BY revenue DESC, customer_id ROWS UNBOUNDED PRECEDING) AS cumulative
  FROM rev
)
SELECT rank, n, CAST(rank AS DOUBLE) / n AS customer_share, cumulative / total AS revenue_share
FROM ranked
WHERE rank = n OR rank % greatest(1, n // 200) = 0 OR rank IN (greatest(1, n // 100), greatest(1, n // 10), greatest(1, n // 5))
ORDER BY rank
"""

DIMENSIONS = (
    "rfm_segment",
    "value_tier",
    "lifecycle_stage",
    "country",
    "region",
    "city",
    "gender",
    "acquisition_channel",
    "language",
)


def kpis_over_time(engine: Engine, as_of: dt.date, churn_window_days: int = 180) -> pa.Table:
    """One row per calendar month up to ``as_of`` with every KPI in the module docstring."""
    return engine.fetch_arrow(
        bind(_MONTHLY, end_exclusive=end_of_day(as_of), as_of=as_of, window=churn_window_days)
    )


def kpis_by_segment(
    engine: Engine,
    dimension: str,
    as_of: dt.date,
    period_days: int = 365,
    churn_window_days: int = 180,
) -> pa.Table:
    """KPIs per value of a customer_360 column (segment, tier, stage, country, ...)."""
    if dimension not in DIMENSIONS:
        from cvm.core.errors import UserInputError

        raise UserInputError(
            f"cannot break KPIs down by {dimension!r}; choose one of {', '.join(DIMENSIONS)}"
        )
    query = bind(
        _BY_DIMENSION,
        end_exclusive=end_of_day(as_of),
        as_of=as_of,
        period=period_days,
        window=churn_window_days,
    )

    # The grouping column is swapped in as a quoted sqlglot identifier, never as text.
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name == "__dimension__":
            return exp.column(dimension, table="v", quoted=True)
        return node

    return engine.fetch_arrow(query.transform(swap))


def revenue_concentration(engine: Engine, as_of: dt.date) -> tuple[dict[str, float], pa.Table]:
    """Share of revenue from the top 1/10/20% of customers, and the concentration curve."""
    curve = engine.fetch_arrow(bind(_CONCENTRATION, end_exclusive=end_of_day(as_of)))
    rows = curve.to_pylist()
    shares: dict[str, float] = {}
    if rows:
        n = rows[0]["n"]
        for label, frac in (("top_1pct", 0.01), ("top_10pct", 0.10), ("top_20pct", 0.20)):
            target = max(1, n * frac // 1)
            shares[label] = next((r["revenue_share"] for r in rows if r["rank"] >= target), 1.0)
    return shares, curve


def headline_kpis(monthly: pa.Table) -> dict[str, Any]:
    """The latest full month's KPIs with the change against the month before."""
    rows = monthly.to_pylist()
    if not rows:
        return {}
    last, prev = rows[-1], (rows[-2] if len(rows) > 1 else None)
    out: dict[str, Any] = {}
    for key in (
        "revenue",
        "active_customers",
        "arpu",
        "arppu",
        "avg_order_value",
        "churn_rate",
        "retention_rate",
        "repeat_purchase_rate",
        "new_customers",
    ):
        value = last.get(key)
        out[key] = None if value is None else float(value)
        before = prev.get(key) if prev else None
        out[f"{key}_change"] = (
            None if value is None or not before else float(value) / float(before) - 1
        )
    out["month"] = (
        last["month"].isoformat() if hasattr(last["month"], "isoformat") else last["month"]
    )
    return out
