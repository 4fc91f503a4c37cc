"""One row per assigned customer of a campaign: assignment, outcomes in the window, pre-period.

Definitions (``A`` = the customer's ``assigned_at``, ``W`` = the attribution window):

* ``converted``: a purchase (a transaction line that is not a return) in ``[A, A + W)``;
* ``revenue``: net amount of the customer's lines in the window (returns subtract);
* ``margin``: Σ amount × the product's margin, or × the workspace margin rate when the
  product or its margin is unknown;
* ``visited``: a page or screen view (``type`` page/screen, or ``name`` page_view/visit) in
  the window;
* ``delivered`` / ``opened`` / ``clicked``: a message event ``<channel>_delivered`` … whose
  ``properties.campaign_id`` is this campaign (treatment-only: never compared with control);
* ``pre_revenue`` / ``pre_orders``: purchases in the ``pre_days`` before ``A`` (returns
  excluded), the CUPED covariates, measured up to ``pre_period_end = A``;
* ``segment``: the lifecycle stage at ``A`` under the rules of `cvm.segments.lifecycle`
  (prospect, new, reactivated, active, at risk, lapsed, churned), computed from purchases
  before ``A`` only, so it is a pre-assignment attribute.

Outcomes after ``as_of`` are not counted (the data end). All values are bound by
`cvm.engine.sql.bind`; variable identifiers are quoted sqlglot identifiers. Day offsets are
spelled ``:days * INTERVAL 1 DAY`` (the parenthesised ``INTERVAL (:days) DAY`` does not
transpile to Spark SQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlglot.expressions as exp

from cvm.core.errors import NotFoundError, UserInputError
from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.segments.lifecycle import LifecycleRules

_FRAME = """
WITH a AS (
  SELECT customer_id, arm, coalesce(is_control, arm = 'control') AS is_control, assigned_at,
         assignment_probability, channel, offer_id
  FROM campaign_assignments WHERE campaign_id = :campaign
),
outcome AS (
  SELECT a.customer_id,
         CAST(count(*) FILTER (WHERE NOT coalesce(t.is_return, FALSE)) > 0 AS INTEGER) AS converted,
         CAST(sum(t.amount) AS DOUBLE) AS revenue,
         sum(CAST(t.amount AS DOUBLE) * coalesce(p.margin, :margin)) AS margin
  FROM a
  JOIN transactions AS t ON t.customer_id = a.customer_id
   AND t.occurred_at >= a.assigned_at AND t.occurred_at < a.assigned_at + :days * INTERVAL 1 DAY
   AND t.occurred_at < :as_of
  LEFT JOIN products AS p ON p.product_id = t.product_id
  GROUP BY a.customer_id
),
hist AS (
  SELECT a.customer_id,
         min(t.occurred_at) AS first_purchase,
         max(t.occurred_at) AS last_purchase,
         count(*) FILTER (WHERE t.occurred_at > a.assigned_at - :active_days * INTERVAL 1 DAY) AS recent,
         count(*) FILTER (WHERE t.occurred_at > a.assigned_at - :gap_days * INTERVAL 1 DAY
                          AND t.occurred_at <= a.assigned_at - :active_days * INTERVAL 1 DAY) AS in_gap,
         count(*) FILTER (WHERE t.occurred_at <= a.assigned_at - :gap_days * INTERVAL 1 DAY) AS before_gap,
         CAST(coalesce(sum(t.amount) FILTER (
           WHERE t.occurred_at >= a.assigned_at - :pre_days * INTERVAL 1 DAY), 0) AS DOUBLE) AS pre_revenue,
         count(DISTINCT t.transaction_id) FILTER (
           WHERE t.occurred_at >= a.assigned_at - :pre_days * INTERVAL 1 DAY) AS pre_orders
  FROM a
  JOIN transactions AS t ON t.customer_id = a.customer_id AND t.occurred_at < a.assigned_at
   AND NOT coalesce(t.is_return, FALSE)
  GROUP BY a.customer_id
)
SELECT a.customer_id, a.arm, a.is_control, a.assigned_at, a.assignment_probability,
       a.channel, a.offer_id,
       coalesce(o.converted, 0) AS converted,
       coalesce(o.revenue, 0.0) AS revenue,
       coalesce(o.margin, 0.0) AS margin,
       coalesce(h.pre_revenue, 0.0) AS pre_revenue,
       CAST(coalesce(h.pre_orders, 0) AS DOUBLE) AS pre_orders,
       a.assigned_at AS pre_period_end,
       CASE
         WHEN h.customer_id IS NULL THEN 'prospect'
         WHEN h.first_purchase > a.assigned_at - :new_days * INTERVAL 1 DAY THEN 'new'
         WHEN h.recent > 0 AND h.in_gap = 0 AND h.before_gap > 0 THEN 'reactivated'
         WHEN h.last_purchase > a.assigned_at - :active_days * INTERVAL 1 DAY THEN 'active'
         WHEN h.last_purchase > a.assigned_at - :lapsed_days * INTERVAL 1 DAY THEN 'at risk'
         WHEN h.last_purchase > a.assigned_at - :churned_days * INTERVAL 1 DAY THEN 'lapsed'
         ELSE 'churned'
       END AS segment
FROM a
LEFT JOIN outcome AS o ON o.customer_id = a.customer_id
LEFT JOIN hist AS h ON h.customer_id = a.customer_id
ORDER BY a.customer_id
"""

_EVENTS = """
SELECT a.customer_id,
       CAST(max(CASE WHEN e.type IN ('page', 'screen') OR e.name IN ('page_view', 'visit')
                     THEN 1 ELSE 0 END) AS INTEGER) AS visited,
       CAST(max(CASE WHEN e.name LIKE '%_delivered' AND (e.properties ->> '$.campaign_id') = :campaign
                     THEN 1 ELSE 0 END) AS INTEGER) AS delivered,
       CAST(max(CASE WHEN e.name LIKE '%_opened' AND (e.properties ->> '$.campaign_id') = :campaign
                     THEN 1 ELSE 0 END) AS INTEGER) AS opened,
       CAST(max(CASE WHEN e.name LIKE '%_clicked' AND (e.properties ->> '$.campaign_id') = :campaign
                     THEN 1 ELSE 0 END) AS INTEGER) AS clicked
FROM campaign_assignments AS a
JOIN events AS e ON e.customer_id = a.customer_id
 AND e.occurred_at >= a.assigned_at AND e.occurred_at < a.assigned_at + :days * INTERVAL 1 DAY
 AND e.occurred_at < :as_of
WHERE a.campaign_id = :campaign
GROUP BY a.customer_id
"""

_TRAIT = "SELECT customer_id, traits ->> :path AS value FROM customers"

_MEMBER = """
SELECT a.customer_id, CAST(count(h.customer_id) > 0 AS BOOLEAN) AS member
FROM campaign_assignments AS a
LEFT JOIN segment_membership_history AS h
  ON h.customer_id = a.customer_id AND h.segment = :segment
 AND h.entered_at <= a.assigned_at AND (h.exited_at IS NULL OR h.exited_at > a.assigned_at)
WHERE a.campaign_id = :campaign
GROUP BY a.customer_id
"""

BREAKDOWNS = ("segment", "channel", "offer_id")


def campaign_frame(
    engine: Engine,
    campaign_id: str,
    *,
    window_days: int,
    as_of: dt.datetime,
    margin_rate: float,
    pre_days: int = 365,
    rules: LifecycleRules | None = None,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """The per-customer frame of one campaign (see the module docstring).

    ``extra`` adds columns: ``trait.NAME`` (a customer trait, text), ``segment:NAME``
    (``member`` / ``not member`` of a saved segment at assignment, from its history) or
    ``profile.NAME`` (a numeric profile column, with ``profile.NAME@`` holding when the
    profile was computed, so CUPED can refuse it when that is after assignment).
    """
    if window_days < 1:
        raise UserInputError(f"the attribution window must be at least 1 day, got {window_days}")
    if not engine.table_exists("campaign_assignments"):
        raise NotFoundError("no campaign_assignments table: no campaign has been recorded yet")
    r = rules or LifecycleRules()
    for table in ("transactions", "products", "events"):
        if not engine.table_exists(table):
            from cvm.engine.warehouse import ensure_warehouse

            ensure_warehouse(engine)
            break
    query = bind(
        _FRAME,
        campaign=campaign_id,
        days=window_days,
        as_of=as_of,
        margin=margin_rate,
        pre_days=pre_days,
        new_days=r.new_days,
        active_days=r.active_days,
        gap_days=r.active_days + r.reactivation_gap_days,
        lapsed_days=r.lapsed_days,
        churned_days=r.churned_days,
    )
    frame = engine.fetch_arrow(query).to_pandas()
    if frame.empty:
        raise NotFoundError(f"campaign {campaign_id!r} has no assignments")
    events = engine.fetch_arrow(
        bind(_EVENTS, campaign=campaign_id, days=window_days, as_of=as_of)
    ).to_pandas()
    frame = frame.merge(events, on="customer_id", how="left")
    for col in ("visited", "delivered", "opened", "clicked"):
        frame[col] = frame[col].fillna(0).astype(int)
    for name in extra:
        frame = frame.merge(_extra_column(engine, campaign_id, name), on="customer_id", how="left")
    return frame


def _extra_column(engine: Engine, campaign_id: str, name: str) -> pd.DataFrame:
    if name.startswith("trait."):
        key = name.removeprefix("trait.")
        path = '$."' + key.replace('"', "") + '"'
        df = engine.fetch_arrow(bind(_TRAIT, path=path)).to_pandas()
        return df.rename(columns={"value": name})
    if name.startswith("segment:"):
        if not engine.table_exists("segment_membership_history"):
            raise UserInputError(f"{name}: no segment history yet (refresh segments first)")
        segment = name.removeprefix("segment:")
        df = engine.fetch_arrow(bind(_MEMBER, campaign=campaign_id, segment=segment)).to_pandas()
        df[name] = df.pop("member").map({True: "member", False: "not member"})
        return df
    if name.startswith("profile."):
        column = name.removeprefix("profile.")
        if not engine.table_exists("profiles") or column not in engine.table_columns("profiles"):
            raise UserInputError(f"{name}: no such profile column")
        query = exp.select(
            exp.column("customer_id"),
            exp.cast(exp.column(column, quoted=True), "DOUBLE").as_(
                exp.to_identifier(name, quoted=True)
            ),
            exp.column("updated_at").as_(exp.to_identifier(f"{name}@", quoted=True)),
        ).from_("profiles")
        return engine.fetch_arrow(query).to_pandas()
    raise UserInputError(
        f"unknown breakdown or covariate {name!r}: use segment, channel, offer_id, "
        "trait.NAME, segment:NAME or profile.NAME"
    )
