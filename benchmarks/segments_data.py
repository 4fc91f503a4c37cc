"""Data and segment definitions for benchmarks/segments.py.

Rows come from DuckDB ``range()``; every random draw is ``rnd(i, stream) = hash(i, stream) mod
p / p`` (p = 1,000,003), a pseudo-random number that, unlike ``random()``, does not depend on the
thread schedule, so the data are reproducible bit for bit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cvm.engine.duckdb_engine import DuckDBEngine
from cvm.engine.warehouse import ensure_warehouse
from cvm.profiles.views import ensure_profile_tables

AS_OF = dt.datetime(2024, 6, 30, 12, 0, 0)

_SETUP = """
CREATE OR REPLACE MACRO rnd(i, s) AS (hash(i, s) % 1000003) / 1000003.0;
CREATE OR REPLACE MACRO pick(xs, i, s) AS xs[1 + CAST(hash(i, s) % len(xs) AS INTEGER)];
CREATE OR REPLACE MACRO ago(i, s, days) AS
  TIMESTAMP '2024-06-30 12:00:00' - to_seconds(CAST(rnd(i, s) * days * 86400 AS BIGINT));
CREATE OR REPLACE TABLE bench_cities AS SELECT * FROM (VALUES
  (0, 'DE', 'Berlin', 'Berlin', 52.52, 13.405), (1, 'DE', 'Bavaria', 'Munich', 48.137, 11.575),
  (2, 'FR', 'Ile-de-France', 'Paris', 48.857, 2.352), (3, 'US', 'NY', 'New York', 40.713, -74.006),
  (4, 'GB', 'England', 'London', 51.507, -0.128), (5, 'ES', 'Madrid', 'Madrid', 40.417, -3.704),
  (6, 'IT', 'Lazio', 'Rome', 41.903, 12.496), (7, 'PL', 'Masovia', 'Warsaw', 52.230, 21.012),
  (8, 'US', 'CA', 'San Francisco', 37.775, -122.419), (9, 'NL', 'North Holland', 'Amsterdam', 52.368, 4.904)
) AS t(idx, country, region, city, lat, lon);
"""

_CUSTOMERS = """
INSERT INTO customers BY NAME
SELECT 'c' || i AS customer_id, 'First' || (i % 997) AS first_name, 'Last' || (i % 1009) AS last_name,
       CASE WHEN rnd(i, 1) < 0.1 THEN NULL ELSE 'user' || i || '@example.com' END AS email,
       pick(['female', 'male', 'other'], i, 2) AS gender,
       c.country, c.region, c.city,
       CASE WHEN rnd(i, 3) < 0.05 THEN NULL ELSE c.lat + (rnd(i, 4) - 0.5) * 0.6 END AS latitude,
       CASE WHEN rnd(i, 3) < 0.05 THEN NULL ELSE c.lon + (rnd(i, 5) - 0.5) * 0.6 END AS longitude,
       ago(i, 6, 1500) AS signup_date,
       CASE WHEN rnd(i, 7) < 0.2 THEN NULL
            ELSE json_object('plan', pick(['free', 'pro', 'team'], i, 8), 'score', hash(i, 9) % 100) END AS traits
FROM range(?) AS r(i) JOIN bench_cities AS c ON c.idx = hash(i, 10) % 10
"""

_PROFILES = """
INSERT INTO profiles BY NAME
SELECT 'c' || i AS customer_id, round(exp(2 + 3 * rnd(i, 11)), 2) AS clv, rnd(i, 12) AS churn_propensity,
       rnd(i, 13) AS p_alive, CAST(hash(i, 14) % 40 AS BIGINT) AS orders,
       CAST(hash(i, 15) % 900 AS BIGINT) AS days_since_last_purchase,
       pick(['Champions', 'Loyal', 'At risk', 'Lost', 'Hibernating', 'New'], i, 16) AS rfm_segment
FROM range(?) AS r(i) WHERE rnd(i, 17) < 0.9
"""

_EVENTS = """
INSERT INTO events BY NAME
SELECT 'e' || i AS event_id,
       CASE WHEN rnd(i, 20) < 0.02 THEN NULL ELSE 'c' || (hash(i, 21) % ?) END AS customer_id,
       'track' AS type,
       pick(['page_view', 'page_view', 'page_view', 'product_viewed', 'product_viewed', 'add_to_cart',
             'cart_abandoned', 'order_completed', 'email_delivered', 'email_opened', 'email_clicked',
             'message_sent', 'message_delivered', 'message_opened', 'sms_delivered', 'push_opened'], i, 22) AS name,
       ago(i, 23, 730) AS occurred_at,
       pick(['web', 'app', 'email', 'sms', 'push'], i, 24) AS channel,
       CASE WHEN rnd(i, 25) < 0.3 THEN json_object('plan', pick(['free', 'pro', 'team'], i, 26),
            'amount', round(rnd(i, 27) * 200, 2), 'message_id', 'm' || (i // 2)) END AS properties
FROM range(?) AS r(i)
"""

_TRANSACTIONS = """
INSERT INTO transactions BY NAME
SELECT 't' || (i // 2) AS transaction_id, CAST(i % 2 + 1 AS VARCHAR) AS line_id,
       'c' || (hash(i // 2, 30) % ?) AS customer_id, ago(i // 2, 31, 900) AS occurred_at,
       CASE WHEN rnd(i, 32) < 0.05 THEN -1 ELSE 1 END * pick([9.99, 25.0, 80.0, 150.0], i, 33) AS amount,
       CASE WHEN rnd(i, 32) < 0.05 THEN -1 ELSE 1 END AS quantity,
       'p' || (hash(i, 34) % 200) AS product_id, pick(['shoes', 'bags', 'hats', 'coats'], i, 35) AS category,
       rnd(i, 32) < 0.05 AS is_return
FROM range(?) AS r(i)
"""

_CONSENTS = """
INSERT INTO consents BY NAME
SELECT 'c' || (hash(i, 40) % ?) AS customer_id, pick(['email', 'sms', 'all'], i, 41) AS channel,
       pick(['marketing', 'service'], i, 42) AS purpose, pick(['granted', 'granted', 'denied'], i, 43) AS status,
       ago(i, 44, 400) AS occurred_at
FROM range(?) AS r(i)
"""


def generate_warehouse(directory: Path, customers: int, events: int) -> Path:
    """The full warehouse file (built once per size, then reused)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"warehouse_{customers}_{events}.duckdb"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = DuckDBEngine(partial)
    ensure_warehouse(engine)
    ensure_profile_tables(engine)
    for statement in _SETUP.strip().split(";"):
        if statement.strip():
            engine.execute(statement)
    engine.execute(_CUSTOMERS, [customers])
    engine.execute(_PROFILES, [customers])
    engine.execute(_EVENTS, [customers, events])
    engine.execute(_TRANSACTIONS, [int(customers * 0.8), events // 4])
    engine.execute(_CONSENTS, [customers, int(customers * 1.5)])
    engine.execute("CHECKPOINT")
    engine.close()
    partial.rename(path)
    return path


def subset_warehouse(directory: Path, full: Path, customers: int) -> Path:
    """Customers ``c0 … c{customers-1}`` and all their rows, in a file of their own."""
    path = directory / f"{full.stem}_subset_{customers}.duckdb"
    if path.exists():
        return path
    engine = DuckDBEngine(path)
    ensure_warehouse(engine)
    ensure_profile_tables(engine)
    engine.execute("ATTACH ? AS full_wh (READ_ONLY)", [str(full)])
    keep = "CAST(substr(customer_id, 2) AS BIGINT) < ?"
    for table in ("customers", "profiles", "events", "transactions", "consents"):
        engine.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM full_wh.{table} WHERE customer_id IS NOT NULL AND {keep}",  # noqa: S608
            [customers],
        )
    engine.execute("DETACH full_wh")
    engine.close()
    return path


def benchmark_segments(count: int) -> list[dict[str, Any]]:
    """``count`` definitions cycling through every node kind, alone and combined."""
    leaves: list[dict[str, Any]] = [
        {"kind": "profile", "field": "clv", "op": "gte", "value": 100},
        {"kind": "profile", "field": "churn_propensity", "op": "between", "value": [0.6, 0.9]},
        {"kind": "profile", "field": "country", "op": "in", "value": ["DE", "FR", "NL"]},
        {"kind": "profile", "field": "email", "op": "contains", "value": "user1"},
        {"kind": "profile", "field": "signup_date", "op": "within_days", "value": 180},
        {"kind": "profile", "field": "traits.plan", "op": "eq", "value": "pro"},
        {"kind": "profile", "field": "rfm_segment", "op": "in", "value": ["Champions", "Loyal"]},
        {"kind": "top", "field": "clv", "share": 0.01},
        {"kind": "top", "field": "clv", "share": 0.10},
        {
            "kind": "event",
            "name": "page_view",
            "op": "at_least",
            "times": 3,
            "window": {"days": 30},
        },
        {"kind": "event", "name": "add_to_cart", "window": {"days": 7}},
        {
            "kind": "event",
            "name": "order_completed",
            "op": "exactly",
            "times": 1,
            "window": {"days": 90},
        },
        {
            "kind": "event",
            "name": "product_viewed",
            "op": "at_most",
            "times": 2,
            "window": {"days": 60},
        },
        {
            "kind": "event",
            "name": "page_view",
            "channel": "app",
            "window": {"from": "2024-01-01", "to": "2024-03-31"},
        },
        {
            "kind": "event",
            "name": "order_completed",
            "where": [{"property": "amount", "op": "gte", "value": 150}],
        },
        {
            "kind": "event",
            "name": "page_view",
            "where": [{"property": "plan", "value": "pro"}],
            "window": {"days": 90},
        },
        {"kind": "not_performed", "name": "page_view", "window": {"days": 14}},
        {"kind": "not_performed", "name": "order_completed", "window": {"days": 180}},
        {"kind": "event_time", "name": "page_view", "which": "last", "op": "after", "days_ago": 7},
        {
            "kind": "event_time",
            "name": "cart_abandoned",
            "which": "first",
            "op": "before",
            "date": "2023-01-01",
        },
        {"kind": "purchase", "window": {"days": 90}},
        {
            "kind": "purchase",
            "measure": "spend",
            "op": "gte",
            "value": 500,
            "window": {"days": 365},
        },
        {"kind": "purchase", "category": ["shoes", "bags"], "op": "gte", "value": 2},
        {"kind": "purchase", "measure": "quantity", "op": "lt", "value": 3, "category": "coats"},
        {"kind": "purchase_time", "which": "last", "op": "before", "days_ago": 180},
        {"kind": "purchase_time", "which": "first", "op": "after", "days_ago": 365},
        {"kind": "message", "action": "received", "channel": "email", "window": {"days": 30}},
        {
            "kind": "message",
            "action": "opened",
            "op": "at_least",
            "times": 2,
            "window": {"days": 90},
        },
        {"kind": "message", "action": "clicked", "channel": "email", "window": {"days": 60}},
        {"kind": "location", "country": "US", "region": ["CA"]},
        {"kind": "near", "latitude": 52.52, "longitude": 13.405, "radius_km": 30},
        {"kind": "consent", "channel": "email"},
        {"kind": "consent", "channel": "sms", "purpose": "service"},
        {"kind": "random", "salt": "bench", "share": 0.2},
    ]
    combos: list[dict[str, Any]] = [
        {"kind": "all", "conditions": [leaves[0], leaves[9], leaves[31]]},
        {
            "kind": "any",
            "conditions": [leaves[7], {"kind": "all", "conditions": [leaves[21], leaves[27]]}],
        },
        {"kind": "all", "conditions": [leaves[24], {"kind": "not", "condition": leaves[16]}]},
        {
            "kind": "all",
            "conditions": [{"kind": "segment", "name": "lifecycle_at_risk"}, leaves[0]],
        },
        {
            "kind": "all",
            "conditions": [{"kind": "segment", "name": "lifecycle_active"}, leaves[30]],
        },
        {
            "kind": "any",
            "conditions": [leaves[2], leaves[29], {"kind": "not", "condition": leaves[5]}],
        },
        {
            "kind": "all",
            "conditions": [leaves[10], {"kind": "not", "condition": leaves[20]}, leaves[31]],
        },
        {"kind": "all", "conditions": [leaves[8], leaves[26], leaves[33]]},
        {"kind": "not", "condition": {"kind": "any", "conditions": [leaves[17], leaves[1]]}},
        {"kind": "all", "conditions": [leaves[13], leaves[14], leaves[22]]},
        {"kind": "all", "conditions": [leaves[18], leaves[28], leaves[4]]},
        {"kind": "any", "conditions": [leaves[11], leaves[12], leaves[25]]},
        {"kind": "all", "conditions": [leaves[6], leaves[19], leaves[3]]},
        {"kind": "all", "conditions": [leaves[15], leaves[23], leaves[32]]},
        {"kind": "all", "conditions": [{"kind": "segment", "name": "value_top_10pct"}, leaves[26]]},
        {"kind": "any", "conditions": [{"kind": "segment", "name": "lifecycle_new"}, leaves[27]]},
    ]
    rules = (leaves + combos) * (count // (len(leaves) + len(combos)) + 1)
    return [{"name": f"bench_{i:02d}", "rule": rule} for i, rule in enumerate(rules[:count])]
