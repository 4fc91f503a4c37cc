"""Per-customer features as of a cutoff, computed in the engine (SQL), with no leakage.

Every input row is filtered on ``occurred_at < cutoff`` before anything is aggregated, so a
feature can only see the past; labels come from the window after the cutoff
(`churn_labels`). A test plants events and purchases after the cutoff and checks that no
feature moves.

The data-dependent parts (which categories, channels and event names become columns) are
chosen at training time and kept in a `FeatureSpec`, so scoring builds exactly the columns the
model was trained on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import sqlglot.expressions as exp

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.feedback.features import has_responses, join_survey_features
from cvm.loyalty.features import loyalty_features_ranked, tier_levels, with_loyalty_features

WINDOWS = (30, 90, 180, 365)
DEMOGRAPHICS = ("gender", "country", "acquisition_channel", "language")


@dataclass
class FeatureSpec:
    categories: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    event_names: list[str] = field(default_factory=list)
    # Survey answers existed at training time: add `cvm.feedback.features` columns.
    surveys: bool = False
    # A loyalty programme existed at training time: its tiers in rank order (`cvm.loyalty`).
    loyalty_tiers: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(**data)


_TOP_VALUES = """
SELECT value FROM (
  SELECT CAST(__column__ AS VARCHAR) AS value, count(*) AS n
  FROM __table__ WHERE occurred_at < :cutoff AND __column__ IS NOT NULL
  GROUP BY 1 ORDER BY n DESC, value LIMIT :limit
)
"""

_PURCHASES = """
WITH tx AS (
  SELECT * FROM transactions WHERE occurred_at < :cutoff
),
days AS (
  SELECT customer_id, CAST(occurred_at AS DATE) AS day, CAST(sum(amount) AS DOUBLE) AS spend
  FROM tx WHERE NOT coalesce(is_return, FALSE) GROUP BY 1, 2
),
gaps AS (
  SELECT customer_id, date_diff('day', lag(day) OVER (PARTITION BY customer_id ORDER BY day), day) AS gap FROM days
),
agg AS (
  SELECT customer_id,
         date_diff('day', max(day), CAST(:cutoff AS DATE)) AS recency_days,
         date_diff('day', min(day), CAST(:cutoff AS DATE)) AS first_purchase_days,
         count(*) AS orders,
         sum(spend) AS revenue,
         avg(spend) AS avg_order_value,
         max(spend) AS max_order_value,
         count(*) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 30) AS orders_30d,
         count(*) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 90) AS orders_90d,
         count(*) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 180) AS orders_180d,
         count(*) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 365) AS orders_365d,
         coalesce(sum(spend) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 90), 0) AS revenue_90d,
         coalesce(sum(spend) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 365), 0) AS revenue_365d,
         count(*) FILTER (WHERE day >= CAST(:cutoff AS DATE) - 180 AND day < CAST(:cutoff AS DATE) - 90) AS orders_prev_90d
  FROM days GROUP BY customer_id
),
gap_stats AS (SELECT customer_id, avg(gap) AS mean_days_between_orders, stddev_samp(gap) AS sd_days_between_orders FROM gaps WHERE gap IS NOT NULL GROUP BY 1),
lines AS (
  SELECT customer_id,
         avg(CASE WHEN coalesce(is_return, FALSE) THEN 1.0 ELSE 0.0 END) AS return_rate,
         count(DISTINCT category) AS distinct_categories,
         count(DISTINCT product_id) AS distinct_products
  FROM tx GROUP BY customer_id
)
SELECT a.*, g.mean_days_between_orders, g.sd_days_between_orders,
       a.orders_90d - a.orders_prev_90d AS order_trend_90d,
       l.return_rate, l.distinct_categories, l.distinct_products
FROM agg AS a LEFT JOIN gap_stats AS g USING (customer_id) LEFT JOIN lines AS l USING (customer_id)
"""

_CUSTOMERS = """
SELECT customer_id,
       date_diff('day', CAST(birth_date AS DATE), CAST(:cutoff AS DATE)) / 365.25 AS age_years,
       date_diff('day', CAST(signup_date AS DATE), CAST(:cutoff AS DATE)) AS tenure_days,
       gender, country, acquisition_channel, language
FROM customers
WHERE signup_date IS NULL OR signup_date < :cutoff
"""


def choose_spec(
    engine: Engine,
    cutoff: dt.datetime,
    *,
    categories: int = 10,
    channels: int = 5,
    event_names: int = 12,
) -> FeatureSpec:
    """The most frequent categories, channels and event names before the cutoff."""

    def top(table: str, column: str, limit: int) -> list[str]:
        if not engine.table_exists(table):
            return []
        query = bind(_TOP_VALUES, cutoff=cutoff, limit=limit).transform(
            lambda n: (
                exp.column(column, quoted=True)
                if isinstance(n, exp.Column) and n.name == "__column__"
                else exp.to_table(table, quoted=True)
                if isinstance(n, exp.Table) and n.name == "__table__"
                else n
            )
        )
        return [str(r[0]) for r in engine.fetch_rows(query)]

    return FeatureSpec(
        categories=top("transactions", "category", categories),
        channels=top("transactions", "channel", channels),
        event_names=top("events", "name", event_names),
        surveys=has_responses(engine, cutoff),
        loyalty_tiers=tier_levels(engine),
    )


def _share_columns(
    engine: Engine, cutoff: dt.datetime, column: str, values: list[str], prefix: str, measure: str
) -> pd.DataFrame:
    """Share of spend (or of lines) per value of ``column``: one feature per chosen value."""
    if not values:
        return pd.DataFrame(columns=["customer_id"])
    total = (
        exp.func("SUM", exp.column(measure)) if measure != "lines" else exp.Count(this=exp.Star())
    )
    parts = []
    for i, value in enumerate(values):
        cond = exp.column(column).eq(exp.Literal.string(value))
        num = (
            exp.Sum(
                this=exp.If(
                    this=cond,
                    true=exp.cast(exp.column(measure), "DOUBLE"),
                    false=exp.Literal.number(0),
                )
            )
            if measure != "lines"
            else exp.Sum(
                this=exp.If(this=cond, true=exp.Literal.number(1), false=exp.Literal.number(0))
            )
        )
        parts.append(
            exp.Div(
                this=exp.cast(num, "DOUBLE"),
                expression=exp.func("NULLIF", exp.cast(total, "DOUBLE"), exp.Literal.number(0)),
            ).as_(f"{prefix}_{i}")
        )
    query = (
        exp.select(exp.column("customer_id"), *parts)
        .from_("transactions")
        .where(
            exp.and_(
                exp.LT(this=exp.column("occurred_at"), expression=_ts(cutoff)),
                exp.Not(this=exp.func("COALESCE", exp.column("is_return"), exp.false())),
            )
        )
        .group_by("customer_id")
    )
    frame = engine.fetch_arrow(query).to_pandas()
    return frame.rename(
        columns={f"{prefix}_{i}": f"{prefix}_{_slug(v)}" for i, v in enumerate(values)}
    )


def _event_counts(engine: Engine, cutoff: dt.datetime, names: list[str]) -> pd.DataFrame:
    if not names or not engine.table_exists("events"):
        return pd.DataFrame(columns=["customer_id"])
    since = cutoff - dt.timedelta(days=90)
    ts = _ts
    parts: list[exp.Expr] = [
        # DateDiff rather than an anonymous date_diff('day', ...): a typed node is what
        # sqlglot can spell for other engines (Spark: DATEDIFF(end, start)).
        exp.DateDiff(
            this=ts(cutoff),
            expression=exp.func("MAX", exp.column("occurred_at")),
            unit=exp.var("DAY"),
        ).as_("days_since_last_event"),
        exp.Count(this=exp.Star()).as_("events_total"),
    ]
    for i, name in enumerate(names):
        recent = exp.and_(
            exp.column("name").eq(exp.Literal.string(name)),
            exp.GTE(this=exp.column("occurred_at"), expression=ts(since)),
        )
        # BIGINT: DuckDB sums integers into HUGEINT, which reaches pandas as Decimal objects.
        count = exp.Sum(
            this=exp.If(this=recent, true=exp.Literal.number(1), false=exp.Literal.number(0))
        )
        parts.append(exp.cast(count, "BIGINT").as_(f"ev_{i}"))
    query = (
        exp.select(exp.column("customer_id"), *parts)
        .from_("events")
        .where(
            exp.and_(
                exp.LT(this=exp.column("occurred_at"), expression=ts(cutoff)),
                exp.Not(this=exp.Is(this=exp.column("customer_id"), expression=exp.Null())),
            )
        )
        .group_by("customer_id")
    )
    frame = engine.fetch_arrow(query).to_pandas()
    return frame.rename(columns={f"ev_{i}": f"events_90d_{_slug(n)}" for i, n in enumerate(names)})


def build_features(
    engine: Engine, cutoff: dt.datetime, spec: FeatureSpec, customer_ids: pd.Index | None = None
) -> pd.DataFrame:
    """One row per customer known before ``cutoff`` (indexed by customer_id)."""
    purchases = engine.fetch_arrow(bind(_PURCHASES, cutoff=cutoff)).to_pandas()
    customers = engine.fetch_arrow(bind(_CUSTOMERS, cutoff=cutoff)).to_pandas()
    frame = customers.merge(purchases, on="customer_id", how="outer")
    for extra in (
        _share_columns(engine, cutoff, "category", spec.categories, "category_share", "amount"),
        _share_columns(engine, cutoff, "channel", spec.channels, "channel_share", "lines"),
        _event_counts(engine, cutoff, spec.event_names),
    ):
        if len(extra.columns) > 1:
            frame = frame.merge(extra, on="customer_id", how="left")
    if spec.surveys:  # survey feedback (issue #12): last NPS/CSAT, detractor answers, recency
        frame = join_survey_features(frame, engine, cutoff)
    if spec.loyalty_tiers is not None:  # membership, points, redemptions, tier as of the cutoff
        members = loyalty_features_ranked(engine, spec.loyalty_tiers, cutoff)
        frame = with_loyalty_features(frame, members)
    frame = frame.set_index("customer_id").sort_index()
    for col in DEMOGRAPHICS:
        if col in frame:
            frame[col] = frame[col].astype("string")
    if customer_ids is not None:
        frame = frame.reindex(customer_ids)
    return frame


_LABELS = """
WITH before AS (
  SELECT customer_id, max(occurred_at) AS last_purchase
  FROM transactions WHERE occurred_at < :cutoff AND NOT coalesce(is_return, FALSE) GROUP BY 1
),
after AS (
  SELECT DISTINCT customer_id FROM transactions
  WHERE occurred_at >= :cutoff AND occurred_at < :horizon_end AND NOT coalesce(is_return, FALSE)
)
SELECT b.customer_id, CASE WHEN a.customer_id IS NULL THEN 1 ELSE 0 END AS churned
FROM before AS b LEFT JOIN after AS a USING (customer_id)
WHERE b.last_purchase >= :active_since
"""


def churn_labels(engine: Engine, cutoff: dt.datetime, window_days: int) -> pd.Series:
    """Non-contractual churn: among customers active at the cutoff (a purchase in the
    ``window_days`` before it), 1 when they make no purchase in the ``window_days`` after."""
    window = dt.timedelta(days=window_days)
    query = bind(_LABELS, cutoff=cutoff, horizon_end=cutoff + window, active_since=cutoff - window)
    frame = engine.fetch_arrow(query).to_pandas()
    return frame.set_index("customer_id")["churned"].sort_index()


def _ts(moment: dt.datetime) -> exp.Expression:
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), "TIMESTAMP")


def _slug(value: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in value.lower()).strip("_")[:40] or "blank"
