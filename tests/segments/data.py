"""Seeded synthetic warehouse data for the segment tests: small, but with every awkward case
(NULLs, empty strings, ties, returns, events after ``as_of``, events of unknown customers,
consent ties, JSON properties and traits)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

AS_OF = dt.datetime(2024, 6, 30, 12, 0, 0)
EVENT_NAMES = (
    "email_opened",
    "page_view",
    "cart_abandoned",
    "Order Completed",
    "message_sent",
    "message_delivered",
    "message_opened",
    "message_clicked",
    "email_sent",
    "email_clicked",
    "sms_delivered",
    "push_opened",
)
CHANNELS = ("email", "sms", "push", "web", None)
CITIES = (
    ("DE", "Berlin", "Berlin", 52.52, 13.405),
    ("DE", "Bavaria", "Munich", 48.137, 11.575),
    ("FR", "Ile-de-France", "Paris", 48.857, 2.352),
    ("US", "NY", "New York", 40.713, -74.006),
    ("de", "Brandenburg", "Potsdam", 52.39, 13.065),
)
RFM = ("Champions", "Loyal", "At risk", "Lost", "Hibernating")


@dataclass
class Warehouse:
    customers: pd.DataFrame
    profiles: pd.DataFrame
    events: pd.DataFrame
    transactions: pd.DataFrame
    consents: pd.DataFrame

    def arrow(self) -> dict[str, pa.Table]:
        return {
            name: pa.Table.from_pandas(getattr(self, name), preserve_index=False)
            for name in ("customers", "profiles", "events", "transactions", "consents")
        }


def _moments(
    rng: np.random.Generator, n: int, days_back: int, days_ahead: int = 0
) -> list[dt.datetime]:
    seconds = rng.integers(-days_back * 86400, days_ahead * 86400 + 1, size=n)
    return [AS_OF + dt.timedelta(seconds=int(s)) for s in seconds]


def generate(seed: int = 7, customers: int = 300) -> Warehouse:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:04d}" for i in range(customers)]
    place = rng.integers(0, len(CITIES), size=customers)
    jitter = rng.normal(0, 0.05, size=(customers, 2))
    no_geo = rng.random(customers) < 0.1
    cust = pd.DataFrame(
        {
            "customer_id": ids,
            "first_name": [f"Name{i}" for i in range(customers)],
            "last_name": [f"Family{i % 17}" for i in range(customers)],
            "email": [
                None if i % 11 == 0 else ("" if i % 13 == 0 else f"u{i}@Example.com")
                for i in range(customers)
            ],
            "gender": rng.choice(["female", "male", "other"], size=customers),
            "country": [None if g else CITIES[p][0] for p, g in zip(place, no_geo, strict=True)],
            "region": [CITIES[p][1] for p in place],
            "city": [CITIES[p][2] for p in place],
            "latitude": [
                None if g else CITIES[p][3] + j
                for p, g, j in zip(place, no_geo, jitter[:, 0], strict=True)
            ],
            "longitude": [
                None if g else CITIES[p][4] + j
                for p, g, j in zip(place, no_geo, jitter[:, 1], strict=True)
            ],
            # a few share one known day, so an equality on a date has members
            "signup_date": [
                dt.datetime(2023, 3, 1, 10, 30) if i % 50 == 5 else m
                for i, m in enumerate(_moments(rng, customers, 900))
            ],
            "traits": [
                None
                if i % 9 == 0
                else json.dumps(
                    {
                        "plan": ["free", "pro", "team"][i % 3],
                        "score": int(i % 50),
                        "vip": bool(i % 4 == 0),
                    }
                )
                for i in range(customers)
            ],
        }
    )
    has_profile = rng.random(customers) < 0.9
    clv = np.round(rng.lognormal(4, 1.2, size=customers), 2)
    clv[rng.random(customers) < 0.08] = np.nan
    clv[::25] = 100.0  # ties
    prof = pd.DataFrame(
        {
            "customer_id": ids,
            "clv": clv,
            "churn_propensity": rng.random(customers),
            "orders": rng.integers(0, 30, size=customers),
            "rfm_segment": rng.choice(RFM, size=customers),
            "value_tier": rng.choice(
                ["top 1%", "top 10%", "top 50%", "bottom 50%"], size=customers
            ),
        }
    )[has_profile]
    n_events = 8000
    ev_customer = rng.choice(ids + ["ghost1", "ghost2"], size=n_events).astype(object)
    ev_customer[rng.random(n_events) < 0.03] = None
    names = rng.choice(EVENT_NAMES, size=n_events)
    channel = rng.choice(np.array(CHANNELS, dtype=object), size=n_events)
    message_ids = rng.integers(0, 3000, size=n_events)
    props = []
    for i in range(n_events):
        r = rng.random()
        if r < 0.15:
            props.append(None)
        else:
            p: dict[str, object] = {
                "plan": ["free", "pro", "team"][i % 3],
                "amount": round(float(rng.random() * 200), 2),
            }
            if names[i].startswith(("message_", "email_", "sms_", "push_")) and r < 0.8:
                p["message_id"] = f"m{message_ids[i]}"
            if r > 0.9:
                p["page"] = {"section": ["shoes", "bags"][i % 2]}
            props.append(json.dumps(p))
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n_events)],
            "customer_id": ev_customer,
            "type": "track",
            "name": names,
            "occurred_at": _moments(rng, n_events, 400, days_ahead=20),
            "channel": channel,
            "properties": props,
        }
    )
    n_orders = 1500
    rows = []
    for o in range(n_orders):
        customer = ids[int(rng.integers(0, customers * 0.8))]  # a fifth never buys
        moment = _moments(rng, 1, 800, days_ahead=10)[0]
        for line in range(int(rng.integers(1, 4))):
            is_return = bool(rng.random() < 0.08)
            qty = float(rng.integers(1, 4)) * (-1 if is_return else 1)
            price = float(rng.choice([9.99, 25.0, 80.0, 150.0]))
            rows.append(
                {
                    "transaction_id": f"t{o}",
                    "line_id": str(line + 1),
                    "customer_id": customer,
                    "occurred_at": moment,
                    "amount": round(qty * price, 2),
                    "quantity": qty,
                    "product_id": f"p{int(rng.integers(0, 12))}",
                    "category": ["shoes", "bags", "hats"][int(rng.integers(0, 3))],
                    "is_return": is_return if rng.random() > 0.1 else None,
                }
            )
    transactions = pd.DataFrame(rows)
    consent_rows = []
    for customer in ids:
        for _ in range(int(rng.integers(0, 4))):
            consent_rows.append(
                {
                    "customer_id": customer,
                    "channel": str(rng.choice(["email", "sms", "all"])),
                    "purpose": str(rng.choice(["marketing", "service"])),
                    "status": str(rng.choice(["granted", "denied"])),
                    "occurred_at": AS_OF.replace(hour=0, minute=0)
                    - dt.timedelta(days=int(rng.integers(-5, 60))),
                }
            )
    consents = pd.DataFrame(consent_rows)
    return Warehouse(cust, prof, events, transactions, consents)
