"""The program-level comparison from the warehouse: all marketing vs the global control, by month.

For each of the last ``months`` calendar months up to ``as_of``: the customers who existed at
the start of the month (signed up, or first purchase, before it), whether each was in the
global control group drawn for that day (`cvm.decide.control_groups.global_control_sql`, the
same hash as decisioning and the dispatcher), and their purchases in the month (converted,
net revenue, margin as in `cvm.results.frames`). `cvm.measure.program` does the statistics.
A month still running at ``as_of`` is included up to ``as_of`` with a warning; pass the
first instant of a month as ``as_of`` to compare complete months only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.decide.config import GlobalControl
from cvm.decide.control_groups import global_control_sql
from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.measure.program import ProgramReport, estimate_program_lift
from cvm.results.tables import PROGRAM_RESULTS, ensure_result_tables

_MONTH = """
WITH first_purchase AS (
  SELECT customer_id, min(occurred_at) AS first_at FROM transactions GROUP BY customer_id
),
base AS (
  SELECT c.customer_id FROM customers AS c
  LEFT JOIN first_purchase AS f ON f.customer_id = c.customer_id
  WHERE coalesce(c.signup_date, f.first_at) < :start
),
outcome AS (
  SELECT t.customer_id,
         CAST(count(*) FILTER (WHERE NOT coalesce(t.is_return, FALSE)) > 0 AS INTEGER) AS converted,
         CAST(sum(t.amount) AS DOUBLE) AS revenue,
         sum(CAST(t.amount AS DOUBLE) * coalesce(p.margin, :margin)) AS margin
  FROM transactions AS t LEFT JOIN products AS p ON p.product_id = t.product_id
  WHERE t.occurred_at >= :start AND t.occurred_at < :end
  GROUP BY t.customer_id
)
SELECT b.customer_id, :gc AS global_control,
       coalesce(o.converted, 0) AS converted, coalesce(o.revenue, 0.0) AS revenue,
       coalesce(o.margin, 0.0) AS margin
FROM base AS b LEFT JOIN outcome AS o ON o.customer_id = b.customer_id
"""


def month_starts(as_of: dt.datetime, months: int) -> list[dt.date]:
    """First days of the last ``months`` calendar months, the one holding ``as_of`` last."""
    index = as_of.year * 12 + as_of.month - 1
    return [dt.date((i // 12), i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def program_frame(
    engine: Engine,
    control: GlobalControl,
    *,
    as_of: dt.datetime,
    months: int = 12,
    margin_rate: float = 0.30,
) -> pd.DataFrame:
    """One row per existing customer and month (see the module docstring)."""
    parts = []
    customer = exp.column("customer_id", table="b")
    # A moment on a month's first instant ends the previous month: that one is the last.
    for start in month_starts(as_of - dt.timedelta(microseconds=1), months):
        nxt = month_starts(dt.datetime.combine(start + dt.timedelta(days=32), dt.time()), 1)[0]
        end = min(dt.datetime.combine(nxt, dt.time()), as_of)
        query = bind(
            _MONTH,
            start=dt.datetime.combine(start, dt.time()),
            end=end,
            margin=margin_rate,
            gc=global_control_sql(customer, control, start, engine.dialect),
        )
        part = engine.fetch_arrow(query).to_pandas()
        parts.append(part.assign(month=start.strftime("%Y-%m")))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def measure_program(
    engine: Engine,
    control: GlobalControl,
    *,
    as_of: dt.datetime,
    months: int = 12,
    margin_rate: float = 0.30,
    alpha: float = 0.05,
) -> ProgramReport:
    """Marketing vs global control per month and over the period."""
    if control.share <= 0:
        raise UserInputError(
            "no global control group is configured (decide.toml [control.global] share = 0): "
            "program-level incremental value cannot be measured"
        )
    for table in ("customers", "transactions"):
        if not engine.table_exists(table):
            raise UserInputError(f"no {table} in the warehouse yet")
    frame = program_frame(engine, control, as_of=as_of, months=months, margin_rate=margin_rate)
    frame = frame[frame["customer_id"].notna()]
    report = estimate_program_lift(frame, alpha=alpha)
    current = as_of.strftime("%Y-%m")
    if as_of.day > 1 or as_of.time() != dt.time():
        report.warnings.append(f"{current} is still running (data to {as_of:%Y-%m-%d %H:%M})")
    return report


def store_program(engine: Engine, report: ProgramReport) -> int:
    """Replace `program_results` with this report."""
    ensure_result_tables(engine)
    frame = report.to_frame()
    if frame.empty:
        return 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    columns = [c.name for c in PROGRAM_RESULTS.columns]
    records: list[dict[str, Any]] = [
        {c: (None if _nan(r.get(c)) else r.get(c)) for c in columns} | {"measured_at": now}
        for r in frame.to_dict("records")
    ]
    engine.execute(exp.delete(exp.to_table(PROGRAM_RESULTS.name)))
    engine.write_arrow(PROGRAM_RESULTS.name, pa.Table.from_pylist(records))
    return len(records)


def _nan(value: object) -> bool:
    return isinstance(value, float) and value != value
