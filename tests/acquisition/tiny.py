"""A hand-built warehouse whose acquisition economics are computed by hand in the tests.

Margin rate 0.5, no product margins, observation end 2024-03-31 (three complete months).

search, 2024-01: s1, s2 for 100 → CAC 50. Margin per customer by month of life: 15, 25, 10
    → cumulative 15, 40, 50 = CAC exactly in month 3. Residual CLV (30 + 10) / 2 = 20, so
    predicted CLV 70 and CLV/CAC 1.4.
search, 2024-02: s3 for 60 → CAC 60. Margin 25, 15 → cumulative 40: not yet; residual CLV 40
    spread over 12 months (3.33 a month) reaches 60 after 6 more months → projected month 8.
search, 2024-03: spend 50, nobody acquired (a warning).
tiktok, 2024-02: spend 30, no customer ever (a warning).
organic, 2024-01: o1, no spend (unpaid). u1 has no signup date.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from cvm.engine.base import Engine

AS_OF = dt.date(2024, 3, 31)
MARGIN_RATE = 0.5


def _ts(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + " 12:00:00")


def load_tiny(engine: Engine, spend_currency: str | None = "USD") -> None:
    """Write the customers, transactions, spend and residual CLVs described above."""
    engine.write_arrow(
        "customers",
        pa.table(
            {
                "customer_id": ["s1", "s2", "s3", "o1", "u1"],
                "signup_date": [
                    _ts("2024-01-05"),
                    _ts("2024-01-20"),
                    _ts("2024-02-10"),
                    _ts("2024-01-07"),
                    None,
                ],
                "acquisition_channel": ["search", "search", "search", "organic", "search"],
            }
        ),
    )
    lines = [
        ("s1", "2024-01-05", 40),
        ("s1", "2024-02-11", 60),
        ("s1", "2024-03-30", 40),
        ("s2", "2024-01-21", 20),
        ("s2", "2024-02-02", 40),
        ("s3", "2024-02-10", 50),
        ("s3", "2024-03-01", 30),
        ("o1", "2024-01-08", 100),
        ("u1", "2024-01-09", 70),
        ("s1", "2024-04-02", 999),  # after the observation end: not counted
    ]
    engine.write_arrow(
        "transactions",
        pa.table(
            {
                "transaction_id": [f"t{i}" for i in range(len(lines))],
                "line_id": ["1"] * len(lines),
                "customer_id": [c for c, _, _ in lines],
                "occurred_at": [_ts(d) for _, d, _ in lines],
                "amount": pa.array([Decimal(a) for _, _, a in lines], pa.decimal128(18, 4)),
                "currency": ["USD"] * len(lines),
            }
        ),
    )
    spend = [
        ("2024-01-01", "search", 100),
        ("2024-02-01", "search", 60),
        ("2024-03-01", "search", 50),
        ("2024-02-01", "tiktok", 30),
        ("2024-05-01", "search", 500),  # after the observation end: not counted
    ]
    engine.write_arrow(
        "marketing_spend",
        pa.table(
            {
                "month": [dt.date.fromisoformat(m) for m, _, _ in spend],
                "acquisition_channel": [c for _, c, _ in spend],
                "amount": pa.array([Decimal(a) for _, _, a in spend], pa.decimal128(18, 4)),
                "currency": [spend_currency if c == "search" else "USD" for _, c, _ in spend],
            }
        ),
    )
    clv = {"s1": 30.0, "s2": 10.0, "s3": 40.0, "o1": 5.0}
    engine.write_arrow(
        "__tiny_clv", pa.table({"customer_id": list(clv), "clv": list(clv.values())})
    )
    engine.execute("DELETE FROM profiles")
    engine.execute(
        "INSERT INTO profiles (customer_id, clv, orders) SELECT customer_id, clv, 1 FROM __tiny_clv"
    )
    engine.execute("DROP TABLE __tiny_clv")
