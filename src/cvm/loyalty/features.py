"""Loyalty features for churn and uplift models, as of a cutoff, with no leakage.

The profile fields (`cvm.loyalty.profile_fields`) describe today; a model trained on a past
cutoff must see the programme as it was then. These features read the mirrored journal and
the tier timeline filtered on ``at < cutoff`` (and ``valid_from <= cutoff day``), so a test can
plant postings after the cutoff and see no feature move.

One row per member enrolled before the cutoff; customers without a row are non-members and
take the documented defaults (`FEATURE_DEFAULTS`) when merged into a feature frame.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.loyalty.programme import Programme

FEATURE_DEFAULTS: dict[str, float] = {
    "loyalty_member": 0.0,
    "loyalty_tenure_days": 0.0,
    "loyalty_points_balance": 0.0,
    "loyalty_points_earned_365d": 0.0,
    "loyalty_redemptions_365d": 0.0,
    "loyalty_days_since_redeemed": 9999.0,  # never redeemed: far in the past
    "loyalty_tier_rank": 0.0,  # 0 = entry tier (non-members share it)
}

_FEATURES = """
WITH journal AS (
  SELECT e.customer_id, e.entry_key, e.points, e.at, e.kind,
         EXISTS (SELECT 1 FROM loyalty_entries AS r
                 WHERE r.reverses = e.entry_key AND r.at < :cutoff) AS reversed
  FROM loyalty_entries AS e
  WHERE e.account = 'member' AND e.at < :cutoff
),
per_member AS (
  SELECT customer_id,
         SUM(points) AS balance,
         SUM(CASE WHEN kind = 'earn' AND NOT reversed AND at >= :year_ago THEN points ELSE 0 END)
           AS earned_365d,
         COUNT(DISTINCT CASE WHEN kind = 'redeem' AND NOT reversed AND at >= :year_ago
                             THEN entry_key END) AS redemptions_365d,
         MAX(CASE WHEN kind = 'redeem' AND NOT reversed THEN at END) AS last_redeemed
  FROM journal GROUP BY customer_id
),
tier_then AS (
  SELECT t.customer_id, MAX(r.rank) AS tier_rank
  FROM loyalty_tiers AS t JOIN loyalty_tier_ranks_in AS r ON r.tier = t.tier
  WHERE t.valid_from <= :cutoff_day AND (t.valid_to IS NULL OR t.valid_to > :cutoff_day)
  GROUP BY t.customer_id
)
SELECT a.customer_id,
       1.0 AS loyalty_member,
       CAST(DATE_DIFF('day', a.enrolled_at, :cutoff) AS DOUBLE) AS loyalty_tenure_days,
       CAST(COALESCE(p.balance, 0) AS DOUBLE) AS loyalty_points_balance,
       CAST(COALESCE(p.earned_365d, 0) AS DOUBLE) AS loyalty_points_earned_365d,
       CAST(COALESCE(p.redemptions_365d, 0) AS DOUBLE) AS loyalty_redemptions_365d,
       CAST(COALESCE(DATE_DIFF('day', p.last_redeemed, :cutoff), 9999) AS DOUBLE)
         AS loyalty_days_since_redeemed,
       CAST(COALESCE(tt.tier_rank, 0) AS DOUBLE) AS loyalty_tier_rank
FROM loyalty_accounts AS a
LEFT JOIN per_member AS p ON p.customer_id = a.customer_id
LEFT JOIN tier_then AS tt ON tt.customer_id = a.customer_id
WHERE a.enrolled_at < :cutoff
"""


TIER_LEVELS = "loyalty_tier_levels"  # (tier, rank): written by the stage, read by features


def _ranks(levels: list[str]) -> pa.Table:
    """(tier, rank) for tier names listed lowest first."""
    return pa.table(
        {
            "tier": pa.array(levels, pa.string()),
            "rank": pa.array(list(range(len(levels))), pa.int64()),
        }
    )


def write_tier_levels(engine: Engine, programme: Programme) -> None:
    """Record the programme's tier order in the warehouse, so models built from the engine
    alone (`cvm.predict.features`) can rank tiers without reading `loyalty.yaml`."""
    levels = programme.tiers.levels if programme.tiers is not None else []
    engine.write_arrow(TIER_LEVELS, _ranks([lv.name for lv in levels]), mode="replace")


def tier_levels(engine: Engine) -> list[str] | None:
    """The tier names in rank order, or None when the warehouse holds no loyalty programme."""
    if not engine.table_exists("loyalty_accounts") or not engine.table_exists(TIER_LEVELS):
        return None
    return [str(r[0]) for r in engine.fetch_rows(f"SELECT tier FROM {TIER_LEVELS} ORDER BY rank")]  # noqa: S608 (constant)


def loyalty_features(engine: Engine, programme: Programme, cutoff: dt.datetime) -> pd.DataFrame:
    """Per member enrolled before ``cutoff``: the `FEATURE_DEFAULTS` columns, as of then."""
    levels = programme.tiers.levels if programme.tiers is not None else []
    return loyalty_features_ranked(engine, [lv.name for lv in levels], cutoff)


def loyalty_features_ranked(engine: Engine, levels: list[str], cutoff: dt.datetime) -> pd.DataFrame:
    """`loyalty_features` with the tier order given as names (lowest first)."""
    if not engine.table_exists("loyalty_entries") or not engine.table_exists("loyalty_tiers"):
        return pd.DataFrame(columns=["customer_id", *FEATURE_DEFAULTS])
    query = bind(
        _FEATURES,
        cutoff=cutoff,
        cutoff_day=(cutoff - dt.timedelta(microseconds=1)).date(),
        year_ago=cutoff - dt.timedelta(days=365),
    )
    engine.register_arrow("loyalty_tier_ranks_in", _ranks(levels))
    try:
        return engine.fetch_arrow(query).to_pandas()
    finally:
        engine.unregister("loyalty_tier_ranks_in")


def with_loyalty_features(frame: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one row per customer_id) with the loyalty columns, non-members defaulted."""
    merged = frame.merge(features, on="customer_id", how="left")
    return merged.fillna(FEATURE_DEFAULTS)
