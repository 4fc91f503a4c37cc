"""Monthly acquisition cohorts: retention and revenue matrices, in engine SQL.

A customer's cohort is the calendar month of their first purchase. For cohort c and month
offset k ≥ 0, ``active`` counts cohort members with a purchase in month c + k,
``retention`` = active / cohort size, ``revenue_per_customer`` = revenue in month c + k /
cohort size (so the running sum is the cohort's cumulative value per acquired customer).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.engine.sql import bind

_COHORTS = """
WITH purchases AS (
  SELECT customer_id, date_trunc('month', occurred_at) AS month, CAST(sum(amount) AS DOUBLE) AS revenue
  FROM transactions
  WHERE occurred_at < :end_exclusive AND NOT coalesce(is_return, FALSE)
  GROUP BY customer_id, date_trunc('month', occurred_at)
),
cohort AS (SELECT customer_id, min(month) AS cohort_month FROM purchases GROUP BY customer_id),
sizes AS (SELECT cohort_month, count(*) AS cohort_size FROM cohort GROUP BY cohort_month)
SELECT CAST(c.cohort_month AS DATE) AS cohort_month,
       CAST(date_diff('month', c.cohort_month, p.month) AS INTEGER) AS month_offset,
       s.cohort_size,
       count(DISTINCT p.customer_id) AS active,
       count(DISTINCT p.customer_id) / s.cohort_size AS retention,
       sum(p.revenue) AS revenue,
       sum(p.revenue) / s.cohort_size AS revenue_per_customer
FROM purchases AS p
JOIN cohort AS c ON c.customer_id = p.customer_id
JOIN sizes AS s ON s.cohort_month = c.cohort_month
GROUP BY 1, 2, 3
ORDER BY 1, 2
"""


def cohort_matrix(engine: Engine, as_of: dt.date) -> pa.Table:
    """Long table (cohort_month, month_offset) → size, active, retention, revenue."""
    return engine.fetch_arrow(bind(_COHORTS, end_exclusive=end_of_day(as_of)))
