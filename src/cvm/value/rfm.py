"""RFM scoring: recency, frequency and monetary scores 1-5 and named segments, in engine SQL.

Scores are quintiles of each dimension across customers with at least one purchase:
``score = min(5, floor(5 · percent_rank) + 1)`` where ``percent_rank`` orders customers from
worst to best (recency: most days since the last purchase first). ``percent_rank`` gives tied
values the same rank, so ties always share a score and the result does not depend on row order
(NTILE would split a tie across scores arbitrarily).

Segments follow the widely used R × F grid (the "RFM segments" map used by e.g. Putler and
Klaviyo): every one of the 25 (R, F) cells maps to exactly one name; the monetary score refines
reporting but not the name. The mapping is data (`RfmRule` list) and can be replaced per
workspace.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import sqlglot.expressions as exp
from pydantic import BaseModel, Field

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.engine.sql import bind


class RfmRule(BaseModel):
    """A segment is the first rule whose recency and frequency score ranges both match."""

    name: str
    recency: tuple[int, int] = Field(description="inclusive R score range")
    frequency: tuple[int, int] = Field(description="inclusive F score range")


DEFAULT_RFM_RULES: tuple[RfmRule, ...] = (
    RfmRule(name="Champions", recency=(5, 5), frequency=(4, 5)),
    RfmRule(name="Loyal", recency=(3, 4), frequency=(4, 5)),
    RfmRule(name="Potential loyalist", recency=(4, 5), frequency=(2, 3)),
    RfmRule(name="New", recency=(5, 5), frequency=(1, 1)),
    RfmRule(name="Promising", recency=(4, 4), frequency=(1, 1)),
    RfmRule(name="Need attention", recency=(3, 3), frequency=(3, 3)),
    RfmRule(name="About to sleep", recency=(3, 3), frequency=(1, 2)),
    RfmRule(name="Can't lose", recency=(1, 2), frequency=(5, 5)),
    RfmRule(name="At risk", recency=(1, 2), frequency=(3, 4)),
    RfmRule(name="Lost", recency=(1, 1), frequency=(1, 1)),
    RfmRule(name="Hibernating", recency=(1, 2), frequency=(1, 2)),
)

_RFM = """
WITH per_customer AS (
  SELECT customer_id,
         date_diff('day', CAST(max(occurred_at) AS DATE), :as_of) AS days_since_last_purchase,
         count(DISTINCT CAST(occurred_at AS DATE)) AS orders,
         CAST(sum(amount) AS DOUBLE) AS revenue
  FROM transactions
  WHERE occurred_at < :end_exclusive AND NOT coalesce(is_return, FALSE)
  GROUP BY customer_id
),
ranked AS (
  SELECT *,
         percent_rank() OVER (ORDER BY days_since_last_purchase DESC) AS r_rank,
         percent_rank() OVER (ORDER BY orders) AS f_rank,
         percent_rank() OVER (ORDER BY revenue) AS m_rank
  FROM per_customer
)
SELECT customer_id, days_since_last_purchase, orders, revenue,
       CAST(least(5, floor(5 * r_rank) + 1) AS INTEGER) AS rfm_recency,
       CAST(least(5, floor(5 * f_rank) + 1) AS INTEGER) AS rfm_frequency,
       CAST(least(5, floor(5 * m_rank) + 1) AS INTEGER) AS rfm_monetary
FROM ranked
"""


def segment_case(
    rules: tuple[RfmRule, ...] | list[RfmRule], r: exp.Expression, f: exp.Expression
) -> exp.Case:
    """The rule list as one SQL CASE expression (first match wins)."""
    case = exp.Case()
    for rule in rules:
        cond = exp.and_(
            exp.Between(
                this=r,
                low=exp.Literal.number(rule.recency[0]),
                high=exp.Literal.number(rule.recency[1]),
            ),
            exp.Between(
                this=f,
                low=exp.Literal.number(rule.frequency[0]),
                high=exp.Literal.number(rule.frequency[1]),
            ),
        )
        case = case.when(cond, exp.Literal.string(rule.name))
    return case.else_(exp.Literal.string("Other"))


def compute_rfm(
    engine: Engine, as_of: dt.date, rules: tuple[RfmRule, ...] | list[RfmRule] = DEFAULT_RFM_RULES
) -> pa.Table:
    """RFM scores and segment per purchasing customer as of the end of ``as_of``."""
    base = bind(
        _RFM,
        as_of=as_of,
        end_exclusive=end_of_day(as_of),
    )
    assert isinstance(base, exp.Select)
    r, f, m = (exp.column(c) for c in ("rfm_recency", "rfm_frequency", "rfm_monetary"))
    score = exp.func(
        "CONCAT", exp.cast(r, "VARCHAR"), exp.cast(f, "VARCHAR"), exp.cast(m, "VARCHAR")
    )
    query = exp.select(
        "*", score.as_("rfm_score"), segment_case(rules, r, f).as_("rfm_segment")
    ).from_(base.subquery("scored"))
    return engine.fetch_arrow(query)


def rfm_grid(rfm: pa.Table) -> pa.Table:
    """Customers and mean revenue per (R, F) cell: the data behind the report's RFM grid."""
    import pandas as pd

    df = rfm.to_pandas()
    grid = df.groupby(["rfm_recency", "rfm_frequency"], as_index=False).agg(
        customers=("customer_id", "size"),
        mean_revenue=("revenue", "mean"),
        segment=("rfm_segment", "first"),
    )
    return pa.Table.from_pandas(pd.DataFrame(grid), preserve_index=False)
