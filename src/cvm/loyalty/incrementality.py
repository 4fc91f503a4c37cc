"""What members spend beyond comparable non-members: matched on behaviour before enrolment.

Members self-select: frequent buyers join more often, so "members spend more" says little.
The method compares like with like, by coarsened exact matching (Iacus, King & Porro 2012,
"Causal Inference without Balance Checking: Coarsened Exact Matching", Political Analysis
20(1)):

1. **Cohorts.** Members are grouped by enrolment month ``m``. The pre-period is the 12 months
   before ``m``; the post-period is the ``post_months`` after the enrolment month (the month
   itself mixes before and after, so it is left out). Only cohorts whose post-period has ended
   by the report date count, and only customers who bought before ``m``.
2. **Comparables** of cohort ``m`` are customers who had not joined by the end of its
   post-period, looked at from the same month ``m``.
3. **Strata** coarsen the pre-period RFM: recency (months since the last purchase: ≤1, ≤3,
   ≤6, more), frequency (orders: 1, 2, 3-4, 5-8, 9+, or none in the window) and monetary value
   (quartile of pre-period spend within the cohort). A stratum needs members and at least two
   comparables; members in strata without comparables are reported as unmatched.
4. **Effect on the treated** (ATT, CEM weights as in Iacus et al. §2.2): with ``n_s``
   members in stratum ``s`` and mean post-period spends ``ȳ_{1s}``, ``ȳ_{0s}``,
   ``ATT = Σ_s n_s (ȳ_{1s} − ȳ_{0s}) / Σ_s n_s``, and the Neyman variance of a
   subclassification estimator (Imbens & Rubin 2015, *Causal Inference for Statistics,
   Social, and Biomedical Sciences*, ch. 17, with ATT weights)
   ``V = Σ_s (n_s / N)² (s²_{1s}/n_{1s} + s²_{0s}/n_{0s})``; a 95% interval is
   ``ATT ± 1.96 √V``. A stratum with a single member borrows its comparables' variance.

This removes differences the strata capture, not unobserved ones (what made a customer join):
the report says so.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.loyalty.programme import add_months

_STRATA_SQL = """
WITH first_buy AS (
  SELECT customer_id, MIN(occurred_at) AS first_at FROM transactions GROUP BY customer_id
),
candidates AS (
  SELECT k.cohort, k.pre_start, k.post_start, k.post_end, f.customer_id,
         COALESCE(DATE_TRUNC('month', a.enrolled_at) = k.cohort, FALSE) AS treated
  FROM loyalty_cohorts_in AS k
  JOIN first_buy AS f ON f.first_at < k.cohort
  LEFT JOIN loyalty_accounts AS a ON a.customer_id = f.customer_id
  WHERE a.customer_id IS NULL OR DATE_TRUNC('month', a.enrolled_at) = k.cohort
     OR a.enrolled_at >= k.post_end
),
behaviour AS (
  SELECT c.cohort, c.customer_id, c.treated,
         COUNT(DISTINCT CASE WHEN t.occurred_at >= c.pre_start AND t.occurred_at < c.cohort
                             AND t.amount > 0 THEN t.transaction_id END) AS pre_orders,
         COALESCE(SUM(CASE WHEN t.occurred_at >= c.pre_start AND t.occurred_at < c.cohort
                           THEN CAST(t.amount AS DOUBLE) END), 0) AS pre_spend,
         MAX(CASE WHEN t.occurred_at < c.cohort THEN t.occurred_at END) AS last_before,
         COALESCE(SUM(CASE WHEN t.occurred_at >= c.post_start AND t.occurred_at < c.post_end
                           THEN CAST(t.amount AS DOUBLE) END), 0) AS post_spend
  FROM candidates AS c
  LEFT JOIN transactions AS t
    ON t.customer_id = c.customer_id AND t.occurred_at < c.post_end
  GROUP BY c.cohort, c.customer_id, c.treated
),
strata AS (
  SELECT cohort, treated, post_spend,
         CASE WHEN DATE_DIFF('day', last_before, cohort) <= 31 THEN 'r1'
              WHEN DATE_DIFF('day', last_before, cohort) <= 92 THEN 'r2'
              WHEN DATE_DIFF('day', last_before, cohort) <= 183 THEN 'r3' ELSE 'r4' END
         || 'f' || CAST(CASE WHEN pre_orders <= 24 THEN pre_orders
                             ELSE 20 + CAST(FLOOR(LOG2(pre_orders) * 2) AS INTEGER) END AS VARCHAR)
         -- Spend quintile by rank, equal spends in the same quintile (NTILE would split ties
         -- arbitrarily, differently per engine); rounded to cents so float summation order
         -- cannot reorder equal amounts.
         || 'm' || CAST(LEAST(5, 1 + CAST(FLOOR(5 * PERCENT_RANK() OVER (
              PARTITION BY cohort ORDER BY ROUND(pre_spend, 2))) AS INTEGER)) AS VARCHAR)
           AS stratum
  FROM behaviour
)
SELECT cohort, stratum, treated, COUNT(*) AS n, AVG(post_spend) AS mean,
       COALESCE(VAR_SAMP(post_spend), 0) AS var
FROM strata GROUP BY cohort, stratum, treated
"""


@dataclass(frozen=True)
class Incrementality:
    """Post-period spend of members minus matched non-members, per member (ATT)."""

    att: float
    low: float
    high: float
    members_matched: int
    members_unmatched: int
    comparables: int
    cohorts: int
    post_months: int
    member_mean: float
    comparable_mean: float


def cohort_windows(
    first_enrolment: dt.datetime, end: dt.datetime, post_months: int, pre_months: int = 12
) -> pa.Table:
    """Enrolment months whose post-period ends by ``end``, with their windows."""
    rows: list[tuple[dt.datetime, ...]] = []
    cohort = dt.datetime(first_enrolment.year, first_enrolment.month, 1)
    while (post_end := add_months(cohort, 1 + post_months)) <= end:
        rows.append((cohort, add_months(cohort, -pre_months), add_months(cohort, 1), post_end))
        cohort = add_months(cohort, 1)
    names = ("cohort", "pre_start", "post_start", "post_end")
    return pa.table(
        {n: pa.array([r[i] for r in rows], pa.timestamp("us")) for i, n in enumerate(names)}
    )


def stratum_stats(engine: Engine, cohorts: pa.Table) -> pd.DataFrame:
    """Per cohort, stratum and group: count, mean and sample variance of post-period spend."""
    engine.register_arrow("loyalty_cohorts_in", cohorts)
    try:
        return engine.fetch_arrow(bind(_STRATA_SQL)).to_pandas()
    finally:
        engine.unregister("loyalty_cohorts_in")


def estimate_att(stats: pd.DataFrame, post_months: int, z: float = 1.96) -> Incrementality | None:
    """The stratified ATT and its normal interval (module docstring, step 4)."""
    if stats.empty or not stats["treated"].any():
        return None
    wide = stats.pivot_table(
        index=["cohort", "stratum"], columns="treated", values=["n", "mean", "var"]
    )
    wide.columns = [f"{name}_{'t' if treated else 'c'}" for name, treated in wide.columns]
    for col in ("n_t", "n_c", "mean_t", "mean_c", "var_t", "var_c"):
        if col not in wide:
            wide[col] = float("nan")
    wide = wide.fillna({"n_t": 0, "n_c": 0})
    has_members = wide["n_t"] > 0
    matched = wide[has_members & (wide["n_c"] >= 2)]
    unmatched = int(wide.loc[has_members & (wide["n_c"] < 2), "n_t"].sum())
    if matched.empty:
        return None
    n = matched["n_t"]
    total = float(n.sum())
    weights = n / total
    var_t = matched["var_t"].where(n >= 2, matched["var_c"]).fillna(0.0)
    att = float((weights * (matched["mean_t"] - matched["mean_c"])).sum())
    variance = float((weights**2 * (var_t / n + matched["var_c"] / matched["n_c"])).sum())
    half = z * math.sqrt(max(variance, 0.0))
    return Incrementality(
        att=att,
        low=att - half,
        high=att + half,
        members_matched=int(total),
        members_unmatched=unmatched,
        comparables=int(matched["n_c"].sum()),
        cohorts=int(matched.index.get_level_values("cohort").nunique()),
        post_months=post_months,
        member_mean=float((weights * matched["mean_t"]).sum()),
        comparable_mean=float((weights * matched["mean_c"]).sum()),
    )


def member_incrementality(
    engine: Engine, end: dt.datetime, post_months: int = 6
) -> Incrementality | None:
    """Members vs comparable non-members over ``post_months`` after enrolment (see above)."""
    first = engine.fetch_scalar("SELECT MIN(enrolled_at) FROM loyalty_accounts")
    if not isinstance(first, dt.datetime):
        return None
    cohorts = cohort_windows(first, end, post_months)
    if cohorts.num_rows == 0:
        return None
    return estimate_att(stratum_stats(engine, cohorts), post_months)
