"""Record in `campaign_assignments` who cvm's own campaigns and decisions assigned where.

Measurement, the uplift models and the dashboard read one table. Campaigns run elsewhere are
ingested into it; cvm's own runs are copied into it here, idempotently:

* **campaign launches** (`campaign_audience`, written at each launch): every customer a run
  considered with arm ``treatment`` or ``control`` (the campaign holdout). Treated customers
  who were then excluded (no consent, capped, over budget) stay treated — intent to treat:
  the holdout was drawn before those checks, so dropping them would compare a selected group
  with a random one. The first run that considered a customer fixes the assignment time.
  The global control is not copied: it is measured by the program comparison.
* **decision runs** (`decisions`, one day): each offer is an arm, its offer holdout its own
  control; the moment the message may go out (``send_after``) is the assignment time. When a
  customer holds several offers, every offer becomes a campaign of its own
  (``decide-<day>:<offer>``) so that each customer appears once per campaign.

Rows already present (same campaign and customer) are never rewritten.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cvm.core.contracts import CAMPAIGN_ASSIGNMENTS
from cvm.engine.base import Engine
from cvm.engine.sql import bind

SOURCE_CAMPAIGNS = "cvm.campaigns"
SOURCE_DECISIONS = "cvm.decide"

_AUDIENCE = """
SELECT c.campaign_id, c.customer_id,
       arg_min(c.arm, c.recorded_at) AS arm,
       arg_min(c.arm, c.recorded_at) = 'control' AS is_control,
       min(c.recorded_at) AS assigned_at,
       arg_min(c.channel, c.recorded_at) AS channel
FROM campaign_audience AS c
LEFT JOIN campaign_assignments AS a
  ON a.campaign_id = c.campaign_id AND a.customer_id = c.customer_id
WHERE c.arm IN ('treatment', 'control') AND a.customer_id IS NULL
GROUP BY c.campaign_id, c.customer_id
"""

_DECISIONS = """
SELECT d.customer_id, d.offer_id, d.control AS is_control, d.send_after AS assigned_at,
       d.assignment_probability, d.channel
FROM decisions AS d
WHERE d.decision_date = :day AND NOT coalesce(d.global_control, FALSE)
  AND d.run_id = (SELECT r.run_id FROM decision_runs AS r WHERE r.decision_date = :day
                  ORDER BY r.created_at DESC LIMIT 1)
"""


def _lineage(n: int, source: str) -> dict[str, pa.Array]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run = f"{source}-{uuid.uuid4().hex[:8]}"
    return {
        "_source": pa.array([source] * n, pa.string()),
        "_ingest_run": pa.array([run] * n, pa.string()),
        "_loaded_at": pa.array([now] * n, pa.timestamp("us")),
    }


def _new_only(engine: Engine, table: pa.Table) -> pa.Table:
    """Drop rows whose (campaign, customer) is already recorded."""
    if table.num_rows == 0:
        return table
    engine.register_arrow("__cvm_new_assignments", table)
    try:
        kept = engine.fetch_arrow(
            "SELECT n.* FROM __cvm_new_assignments AS n LEFT JOIN campaign_assignments AS a "
            "ON a.campaign_id = n.campaign_id AND a.customer_id = n.customer_id "
            "WHERE a.customer_id IS NULL"
        )
    finally:
        engine.unregister("__cvm_new_assignments")
    return kept


def sync_campaign_audiences(
    engine: Engine, definitions: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, int]:
    """Copy new launch assignments; ``definitions`` (campaign id → stored definition) add the
    offer and the planned probabilities. Returns new rows per campaign."""
    engine.ensure_table(CAMPAIGN_ASSIGNMENTS)
    if not engine.table_exists("campaign_audience"):
        return {}
    rows = engine.fetch_arrow(_AUDIENCE)
    if rows.num_rows == 0:
        return {}
    defs = definitions or {}
    ids = rows.column("campaign_id").to_pylist()
    control = rows.column("is_control").to_pylist()
    share = [float(defs.get(c, {}).get("control_share") or 0.0) for c in ids]
    known = [c in defs and s > 0 for c, s in zip(ids, share, strict=True)]
    probability = [
        (s if ctl else 1.0 - s) if k else None
        for s, ctl, k in zip(share, control, known, strict=True)
    ]
    offers = [
        None if ctl else defs.get(c, {}).get("offer") for c, ctl in zip(ids, control, strict=True)
    ]
    table = pa.table(
        {
            **{name: rows.column(name) for name in ("campaign_id", "customer_id", "arm")},
            "is_control": rows.column("is_control"),
            "assigned_at": rows.column("assigned_at").cast(pa.timestamp("us")),
            "assignment_probability": pa.array(probability, pa.float64()),
            "channel": rows.column("channel").cast(pa.string()),
            "offer_id": pa.array(offers, pa.string()),
            **_lineage(rows.num_rows, SOURCE_CAMPAIGNS),
        }
    )
    engine.write_arrow(CAMPAIGN_ASSIGNMENTS.name, table)
    counts: dict[str, int] = {}
    for c in ids:
        counts[c] = counts.get(c, 0) + 1
    return counts


def decision_campaign_id(day: dt.date, offer: str | None = None) -> str:
    return f"decide-{day.isoformat()}" + (f":{offer}" if offer else "")


def sync_decisions(engine: Engine, day: dt.date) -> dict[str, int]:
    """Copy the latest decision run of ``day`` (offers as arms, offer holdouts as controls)."""
    engine.ensure_table(CAMPAIGN_ASSIGNMENTS)
    if not (engine.table_exists("decisions") and engine.table_exists("decision_runs")):
        return {}
    rows = engine.fetch_arrow(bind(_DECISIONS, day=day))
    if rows.num_rows == 0:
        return {}
    customers = rows.column("customer_id")
    several = len(pc.unique(customers)) < rows.num_rows
    offers = rows.column("offer_id").to_pylist()
    campaign = [decision_campaign_id(day, o if several else None) for o in offers]
    table = pa.table(
        {
            "campaign_id": pa.array(campaign, pa.string()),
            "customer_id": customers,
            "arm": rows.column("offer_id"),
            "is_control": rows.column("is_control"),
            "assigned_at": rows.column("assigned_at").cast(pa.timestamp("us")),
            "assignment_probability": rows.column("assignment_probability"),
            "channel": rows.column("channel"),
            "offer_id": rows.column("offer_id"),
            **_lineage(rows.num_rows, SOURCE_DECISIONS),
        }
    )
    table = _new_only(engine, table)
    if table.num_rows:
        engine.write_arrow(CAMPAIGN_ASSIGNMENTS.name, table)
    counts: dict[str, int] = {}
    for c in table.column("campaign_id").to_pylist():
        counts[c] = counts.get(c, 0) + 1
    return counts
