"""Per-customer transaction summaries for the buy-till-you-die models, computed in the engine.

Definitions follow the literature (Fader, Hardie & Lee 2005, "Counting your customers the easy
way", section 2) and lifetimes' ``summary_data_from_transaction_data`` with ``freq='D'`` and
``freq_multiplier`` = days per unit:

* purchases are merged per calendar day (several orders on one day are one purchase
  occasion), returns (``is_return`` or a negative amount) are not purchase occasions (zero-value orders are);
* ``frequency`` x = number of purchase days − 1 (repeat purchases);
* ``recency`` t_x = (last purchase day − first purchase day) / days-per-unit;
* ``T`` = (observation end − first purchase day) / days-per-unit;
* ``monetary_value`` = mean spend of the repeat purchase days (0 when x = 0), the Gamma-Gamma
  input (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves").

With a calibration end, customers are summarised on (first purchase, calibration end] and the
holdout columns count repeat purchase days and their mean spend in (calibration end,
observation end], as lifetimes' ``calibration_and_holdout_data``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pyarrow as pa

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.engine.sql import bind

TimeUnit = Literal["day", "week", "month"]
DAYS_PER_UNIT: dict[TimeUnit, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}

_PURCHASE_DAYS = """
SELECT customer_id,
       CAST(occurred_at AS DATE) AS day,
       SUM(amount) AS spend
FROM transactions
WHERE NOT coalesce(is_return, FALSE) AND amount >= 0 AND occurred_at < :end_exclusive
GROUP BY customer_id, CAST(occurred_at AS DATE)
"""

_SUMMARY = """
WITH days AS ({purchase_days}),
firsts AS (
  SELECT customer_id, MIN(day) AS first_day, MAX(day) AS last_day, COUNT(*) AS n_days, SUM(spend) AS total
  FROM days GROUP BY customer_id
),
first_spend AS (
  SELECT d.customer_id, d.spend AS first_spend FROM days AS d JOIN firsts AS f
    ON d.customer_id = f.customer_id AND d.day = f.first_day
)
SELECT f.customer_id,
       CAST(f.n_days - 1 AS DOUBLE) AS frequency,
       date_diff('day', f.first_day, f.last_day) / :unit AS recency,
       date_diff('day', f.first_day, :end_day) / :unit AS T,
       CASE WHEN f.n_days > 1 THEN CAST((f.total - s.first_spend) AS DOUBLE) / (f.n_days - 1) ELSE 0.0 END
         AS monetary_value,
       f.first_day AS first_purchase,
       f.last_day AS last_purchase
FROM firsts AS f JOIN first_spend AS s ON f.customer_id = s.customer_id
"""

_HOLDOUT = """
WITH cal AS ({calibration}),
hold AS (
  SELECT customer_id, CAST(occurred_at AS DATE) AS day, SUM(amount) AS spend
  FROM transactions
  WHERE NOT coalesce(is_return, FALSE) AND amount >= 0
    AND occurred_at >= :cal_end_exclusive AND occurred_at < :end_exclusive
  GROUP BY customer_id, CAST(occurred_at AS DATE)
),
hold_sum AS (
  SELECT customer_id, COUNT(*) AS n_days, SUM(spend) AS total FROM hold GROUP BY customer_id
)
SELECT cal.*,
       CAST(coalesce(h.n_days, 0) AS DOUBLE) AS frequency_holdout,
       CASE WHEN h.n_days > 0 THEN CAST(h.total AS DOUBLE) / h.n_days ELSE 0.0 END AS monetary_value_holdout,
       date_diff('day', :cal_end_day, :end_day) / :unit AS duration_holdout
FROM cal LEFT JOIN hold_sum AS h ON cal.customer_id = h.customer_id
"""


def summarize_transactions(
    engine: Engine,
    observation_end: dt.date,
    *,
    time_unit: TimeUnit = "week",
    calibration_end: dt.date | None = None,
) -> pa.Table:
    """Summarise the warehouse `transactions` into frequency/recency/T/monetary per customer.

    ``observation_end`` is inclusive (purchases on that day count). With ``calibration_end``
    the summary covers purchases up to and including that day and gains
    ``frequency_holdout``, ``monetary_value_holdout`` and ``duration_holdout``.
    """
    unit = DAYS_PER_UNIT[time_unit]
    one_day = dt.timedelta(days=1)
    if calibration_end is None:
        return engine.fetch_arrow(_summary_query(observation_end, unit))
    if calibration_end >= observation_end:
        from cvm.core.errors import UserInputError

        raise UserInputError(
            f"calibration end {calibration_end} must be before observation end {observation_end}"
        )
    calibration = _summary_query(calibration_end, unit).sql(dialect="duckdb")
    query = bind(
        _HOLDOUT.format(calibration=calibration),
        cal_end_exclusive=dt.datetime.combine(calibration_end + one_day, dt.time()),
        end_exclusive=dt.datetime.combine(observation_end + one_day, dt.time()),
        cal_end_day=calibration_end,
        end_day=observation_end,
        unit=unit,
    )
    return engine.fetch_arrow(query)


def _summary_query(end: dt.date, unit: float):  # type: ignore[no-untyped-def]
    purchase_days = _PURCHASE_DAYS
    return bind(
        _SUMMARY.format(purchase_days=purchase_days),
        end_exclusive=end_of_day(end),
        end_day=end,
        unit=unit,
    )


def last_transaction_date(engine: Engine) -> dt.date | None:
    """The day of the latest purchase: the default observation end."""
    value = engine.fetch_scalar("SELECT CAST(max(occurred_at) AS DATE) FROM transactions")
    return value if isinstance(value, dt.date) else None
