"""Set-based warehouse queries behind acquisition economics (sqlglot templates, bound values).

Each function returns a small Arrow table keyed by acquisition channel × signup-month cohort
(or the rows a data check names); the maths on top lives in `cvm.acquisition.economics`.

* A customer's cohort is ``date_trunc('month', signup_date)`` and channel
  ``acquisition_channel`` (``unattributed`` when empty); customers signed up after the
  observation end are not counted yet.
* Margin of a transaction line = amount × ``products.margin`` when the product carries one,
  else amount × the margin rate. Returns (negative amounts) reduce margin. Lines are counted
  from the customer's first transaction up to the observation end; a line dated before the
  signup month counts in month of life 1.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.engine.sql import bind

UNATTRIBUTED = "unattributed"

_COHORT_CUSTOMERS = """
SELECT customer_id,
       coalesce(nullif(trim(acquisition_channel), ''), :unattributed) AS channel,
       CAST(date_trunc('month', signup_date) AS DATE) AS cohort_month
FROM customers
WHERE signup_date IS NOT NULL AND signup_date < :end_exclusive
"""

_SPEND = """
SELECT acquisition_channel AS channel,
       CAST(date_trunc('month', month) AS DATE) AS cohort_month,
       CAST(sum(amount) AS DOUBLE) AS spend,
       count(*) AS spend_rows
FROM marketing_spend
WHERE month < :end_exclusive
GROUP BY 1, 2
"""

_COHORT_VALUE = """
WITH c AS ({cohort_customers})
SELECT c.channel,
       c.cohort_month,
       count(*) AS new_customers,
       CAST(sum(coalesce(p.clv, 0)) AS DOUBLE) AS future_value,
       count(p.clv) AS customers_with_clv
FROM c LEFT JOIN profiles AS p ON p.customer_id = c.customer_id
GROUP BY 1, 2
"""

_MONTHLY_MARGIN = """
WITH c AS ({cohort_customers}),
lines AS (
  SELECT t.customer_id,
         CAST(date_trunc('month', t.occurred_at) AS DATE) AS month,
         CAST(t.amount AS DOUBLE) AS revenue,
         CAST(t.amount AS DOUBLE) * coalesce(CAST(p.margin AS DOUBLE), :rate) AS margin,
         CASE WHEN p.margin IS NULL THEN 0.0 ELSE CAST(t.amount AS DOUBLE) END AS revenue_with_margin
  FROM transactions AS t LEFT JOIN products AS p ON p.product_id = t.product_id
  WHERE t.occurred_at < :end_exclusive
)
SELECT c.channel,
       c.cohort_month,
       greatest(date_diff('month', c.cohort_month, l.month), 0) + 1 AS month_of_life,
       sum(l.revenue) AS revenue,
       sum(l.margin) AS margin,
       sum(l.revenue_with_margin) AS revenue_with_margin
FROM c JOIN lines AS l ON l.customer_id = c.customer_id
GROUP BY 1, 2, 3
"""

_UNDATED_CUSTOMERS = "SELECT count(*) FROM customers WHERE signup_date IS NULL"

_FOREIGN_SPEND = """
SELECT CAST(month AS DATE) AS month, acquisition_channel, currency, CAST(amount AS DOUBLE) AS amount
FROM marketing_spend
WHERE currency IS NOT NULL AND upper(trim(currency)) <> :currency
ORDER BY month, acquisition_channel
"""

_FOREIGN_TRANSACTIONS = """
SELECT transaction_id, line_id, currency
FROM transactions
WHERE currency IS NOT NULL AND upper(trim(currency)) <> :currency
ORDER BY transaction_id, line_id
LIMIT :limit
"""

_FOREIGN_TRANSACTION_COUNT = """
SELECT count(*) FROM transactions
WHERE currency IS NOT NULL AND upper(trim(currency)) <> :currency
"""


def _cohort_customers(as_of: dt.date) -> str:
    return bind(_COHORT_CUSTOMERS, unattributed=UNATTRIBUTED, end_exclusive=end_of_day(as_of)).sql(
        dialect="duckdb"
    )


def spend_by_cohort(engine: Engine, as_of: dt.date) -> pa.Table:
    """Spend per channel × month (months up to the observation end)."""
    return engine.fetch_arrow(bind(_SPEND, end_exclusive=end_of_day(as_of)))


def value_by_cohort(engine: Engine, as_of: dt.date) -> pa.Table:
    """New customers and their summed residual CLV (`profiles.clv`) per channel × cohort."""
    query = _COHORT_VALUE.format(cohort_customers=_cohort_customers(as_of))
    return engine.fetch_arrow(query)


def margin_by_month_of_life(engine: Engine, as_of: dt.date, margin_rate: float) -> pa.Table:
    """Revenue and margin per channel × cohort × month of life (1 = the signup month)."""
    template = _MONTHLY_MARGIN.format(cohort_customers=_cohort_customers(as_of))
    return engine.fetch_arrow(
        bind(template, rate=float(margin_rate), end_exclusive=end_of_day(as_of))
    )


def undated_customers(engine: Engine) -> int:
    """Customers without a signup date: they belong to no cohort."""
    return int(engine.fetch_scalar(_UNDATED_CUSTOMERS) or 0)  # type: ignore[call-overload]


def spend_rows(engine: Engine) -> int:
    return int(engine.fetch_scalar("SELECT count(*) FROM marketing_spend") or 0)  # type: ignore[call-overload]


def foreign_currency_spend(engine: Engine, currency: str) -> list[dict[str, object]]:
    """Spend rows in a currency other than the workspace's (NULL means the workspace's)."""
    return engine.fetch_arrow(bind(_FOREIGN_SPEND, currency=currency.upper())).to_pylist()


def foreign_currency_transactions(
    engine: Engine, currency: str, limit: int = 5
) -> tuple[int, list[dict[str, object]]]:
    """How many transaction lines are in another currency, and the first few of them."""
    count = engine.fetch_scalar(bind(_FOREIGN_TRANSACTION_COUNT, currency=currency.upper()))
    rows = engine.fetch_arrow(
        bind(_FOREIGN_TRANSACTIONS, currency=currency.upper(), limit=limit)
    ).to_pylist()
    return int(count or 0), rows  # type: ignore[call-overload]
