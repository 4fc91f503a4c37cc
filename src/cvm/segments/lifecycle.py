"""Lifecycle stages from purchase history: rules, the per-customer stage in SQL, migrations.

Stages as of ``A`` (purchases are non-return transaction lines at or before ``A``; the first
matching stage wins; defaults in brackets):

1. ``prospect``    no purchase yet;
2. ``new``         first purchase within the last ``new_days`` [30];
3. ``reactivated`` a purchase within the last ``active_days`` [90], none in the
                   ``reactivation_gap_days`` [180] before that, and one even earlier — a
                   customer who had lapsed and came back;
4. ``active``      last purchase within the last ``active_days``;
5. ``at risk``     last purchase ``active_days``–``lapsed_days`` [180] ago;
6. ``lapsed``      last purchase ``lapsed_days``–``churned_days`` [365] ago;
7. ``churned``     last purchase more than ``churned_days`` ago.

Windows are half-open like every segment window: "within the last D days" is
``A - D days < t ≤ A``. The built-in ``lifecycle_*`` segments (`cvm.segments.builtin`) state the
same rules as rule trees, and the tests check that both give identical stages.
"""

from __future__ import annotations

import calendar
import datetime as dt

import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cvm.engine.base import Engine
from cvm.segments.context import utc_naive
from cvm.segments.predicates import timestamp_literal

STAGES: tuple[str, ...] = (
    "prospect",
    "new",
    "reactivated",
    "active",
    "at risk",
    "lapsed",
    "churned",
)


class LifecycleRules(BaseModel):
    """Day thresholds of the lifecycle stages (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    new_days: int = Field(30, ge=1)
    active_days: int = Field(90, ge=1)
    lapsed_days: int = Field(180, ge=2)
    churned_days: int = Field(365, ge=3)
    reactivation_gap_days: int = Field(180, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleRules:
        if not self.new_days <= self.active_days < self.lapsed_days < self.churned_days:
            raise ValueError("need new_days ≤ active_days < lapsed_days < churned_days")
        return self


_STAGE_SQL = """
WITH purchases AS (
  SELECT customer_id,
         min(occurred_at) AS first_purchase,
         max(occurred_at) AS last_purchase,
         count(*) FILTER (WHERE occurred_at > :active_start) AS recent,
         count(*) FILTER (WHERE occurred_at > :gap_start AND occurred_at <= :active_start) AS in_gap,
         count(*) FILTER (WHERE occurred_at <= :gap_start) AS before_gap
  FROM transactions
  WHERE occurred_at <= :as_of AND customer_id IS NOT NULL AND NOT coalesce(is_return, FALSE)
  GROUP BY customer_id
)
SELECT c.customer_id,
       CASE
         WHEN p.customer_id IS NULL THEN 'prospect'
         WHEN p.first_purchase > :new_start THEN 'new'
         WHEN p.recent > 0 AND p.in_gap = 0 AND p.before_gap > 0 THEN 'reactivated'
         WHEN p.last_purchase > :active_start THEN 'active'
         WHEN p.last_purchase > :lapsed_start THEN 'at risk'
         WHEN p.last_purchase > :churned_start THEN 'lapsed'
         ELSE 'churned'
       END AS lifecycle_stage
FROM customers AS c
LEFT JOIN purchases AS p ON p.customer_id = c.customer_id
"""


def lifecycle_stage_query(as_of: dt.datetime, rules: LifecycleRules) -> exp.Expression:
    """``SELECT customer_id, lifecycle_stage`` for every customer, as of ``as_of``."""
    as_of = utc_naive(as_of)

    def days_before(days: int) -> exp.Expr:
        return timestamp_literal(as_of - dt.timedelta(days=days))

    template = sqlglot.parse_one(_STAGE_SQL, read="duckdb")
    query = exp.replace_placeholders(
        template,
        as_of=timestamp_literal(as_of),
        new_start=days_before(rules.new_days),
        active_start=days_before(rules.active_days),
        gap_start=days_before(rules.active_days + rules.reactivation_gap_days),
        lapsed_start=days_before(rules.lapsed_days),
        churned_start=days_before(rules.churned_days),
    )
    assert isinstance(query, exp.Expression)
    return query


def assign_lifecycle_stage(
    engine: Engine, as_of: dt.datetime | None = None, rules: LifecycleRules | None = None
) -> pa.Table:
    """The stage of every customer (columns ``customer_id``, ``lifecycle_stage``).

    The value stage writes this onto ``profiles.lifecycle_stage``.
    """
    return engine.fetch_arrow(lifecycle_stage_query(utc_naive(as_of), rules or LifecycleRules()))


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """Same day-of-month ``months`` earlier (clamped to the month's last day)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def stage_migration(
    engine: Engine,
    as_of: dt.datetime | None = None,
    rules: LifecycleRules | None = None,
    months: int = 1,
) -> pa.Table:
    """Customers moving from each stage ``months`` ago to each stage now (the flow chart).

    Columns ``from_stage``, ``to_stage``, ``customers``; every (from, to) pair of `STAGES`
    appears, with 0 where nobody moved, so the matrix is always complete.
    """
    rules = rules or LifecycleRules()
    now = utc_naive(as_of)
    before = lifecycle_stage_query(months_before(now, months), rules)
    after = lifecycle_stage_query(now, rules)
    # The VALUES list names its column: DuckDB would call it col0, Spark col1.
    stages = exp.select(exp.column("stage")).from_(
        exp.Values(
            expressions=[exp.tuple_(exp.Literal.string(s)) for s in STAGES],
            alias=exp.TableAlias(this=exp.to_identifier("s"), columns=[exp.to_identifier("stage")]),
        )
    )
    moved = (
        exp.select(
            exp.column("lifecycle_stage", table="b").as_("from_stage"),
            exp.column("lifecycle_stage", table="a").as_("to_stage"),
            exp.Count(this=exp.Star()).as_("customers"),
        )
        .from_(exp.paren(before).as_("b"))
        .join(
            exp.paren(after).as_("a"),
            on=exp.column("customer_id", table="a").eq(exp.column("customer_id", table="b")),
        )
        .group_by("from_stage", "to_stage")
    )
    grid = (
        exp.select(
            exp.column("stage", table="f").as_("from_stage"),
            exp.column("stage", table="t").as_("to_stage"),
            exp.func("COALESCE", exp.column("customers", table="m"), exp.Literal.number(0)).as_(
                "customers"
            ),
        )
        .from_(stages.subquery("f"))
        .join(stages.subquery("t"), join_type="cross")
        .join(
            moved.subquery("m"),
            on=exp.and_(
                exp.column("from_stage", table="m").eq(exp.column("stage", table="f")),
                exp.column("to_stage", table="m").eq(exp.column("stage", table="t")),
            ),
            join_type="left",
        )
    )
    table = engine.fetch_arrow(grid)
    order = {s: i for i, s in enumerate(STAGES)}
    rows = sorted(table.to_pylist(), key=lambda r: (order[r["from_stage"]], order[r["to_stage"]]))
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("from_stage", pa.string()), ("to_stage", pa.string()), ("customers", pa.int64())]
        ),
    )
