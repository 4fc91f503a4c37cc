"""Survey answers for the demo company: NPS and CSAT after purchases, tied to true churn.

A share of customers answers a survey a few days after one or two of their orders. How
satisfied an answer is follows the customer's *true* churn propensity, the BG/NBD dropout
probability ``dropout_p`` of `truth_customers` (Fader, Hardie & Lee 2005): the latent
satisfaction of customer i at one answer is ::

    s = -z_i + e,   z_i = (logit(dropout_p_i) - mean) / sd over customers,  e ~ N(0, noise²)

and the scores are NPS = clip(round(7.6 + 2.2 s), 0, 10), CSAT = clip(round(3.9 + 1.0 s), 1, 5).
Detractors therefore churn more than promoters, which `tests/feedback/test_demo_surveys.py` checks
against the truth. Comments come from five themes (delivery, price, quality, support, app),
each with positive and negative templates chosen by the score; the theme also names the
touchpoint. Everything is drawn from one seeded generator: the same inputs and seed give the
same table.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

from cvm.core.contracts import SURVEY_RESPONSES
from cvm.demo.company import Company
from cvm.engine.base import Engine

THEMES: dict[str, tuple[str, list[str], list[str]]] = {
    # theme: (touchpoint, negative templates, positive templates)
    "delivery": ("delivery", [
        "The parcel arrived {n} days late and the courier never called",
        "Delivery was late again, shipping takes far too long",
        "My order was delayed and the tracking of the parcel never updated",
    ], [
        "Fast delivery, the parcel arrived a day early",
        "Quick shipping and the courier was friendly",
    ]),
    "price": ("purchase", [
        "Prices went up, it is too expensive now compared to other shops",
        "Too expensive for what you get, I found it cheaper elsewhere",
        "The discount code did not work and the price was higher than advertised",
    ], [
        "Good value for money and nice discounts for members",
        "Fair prices, cheaper than the competition",
    ]),
    "quality": ("product", [
        "The product broke after a week, poor quality material",
        "Bad quality, the stitching came apart after one wash",
        "The item was defective and the material feels cheap",
    ], [
        "Great quality, the material is durable and well made",
        "Excellent product quality, it still looks new",
    ]),
    "support": ("support_ticket", [
        "I waited on the phone for an hour and support never answered my question",
        "The support agent was rude and did not solve my problem",
        "Nobody from customer service replied to my emails",
    ], [
        "The support agent was helpful and solved my problem quickly",
        "Friendly customer service, they answered within minutes",
    ]),
    "app": ("app", [
        "The app keeps crashing at checkout",
        "Cannot log in to the app since the last update",
        "The app is slow and the checkout button does not work",
    ], [
        "The new app is easy to use and checkout is quick",
        "Love the app, ordering takes a minute",
    ]),
}  # fmt: skip


def _orders(transactions: pa.Table) -> pa.Table:
    """One row per order: id, customer, time, channel (returns excluded)."""
    kept = transactions.filter(pc.invert(pc.fill_null(transactions["is_return"], False)))
    return (
        kept.select(["transaction_id", "customer_id", "occurred_at", "channel"])
        .group_by(["transaction_id", "customer_id"])
        .aggregate([("occurred_at", "min"), ("channel", "min")])
        .rename_columns(["transaction_id", "customer_id", "occurred_at", "channel"])
        .sort_by(
            [
                ("customer_id", "ascending"),
                ("occurred_at", "ascending"),
                ("transaction_id", "ascending"),
            ]
        )  # fmt: skip
    )


def _propensity_z(truth_customers: pa.Table) -> dict[str, float]:
    p = np.clip(np.asarray(truth_customers["dropout_p"], dtype=float), 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p))
    z = (logit - logit.mean()) / (logit.std() or 1.0)
    return dict(zip(truth_customers["customer_id"].to_pylist(), z.tolist(), strict=True))


def draw_survey_responses(
    orders: pa.Table,
    truth_customers: pa.Table,
    *,
    seed: int = 0,
    share: float = 0.35,
    nps_share: float = 0.7,
    comment_share: float = 0.6,
    noise: float = 0.8,
    end: dt.datetime | None = None,
) -> pa.Table:
    """Survey answers of the `survey_responses` contract for `share` of the buying customers.

    `orders`: one row per order (transaction_id, customer_id, occurred_at, channel), sorted by
    customer and time (`_orders` makes it from transaction lines). `end`: no answer after this
    moment (the observation end), by default the last order.
    """
    rng = np.random.default_rng(seed)
    z = _propensity_z(truth_customers)
    customers = orders["customer_id"].to_pylist()
    times = orders["occurred_at"].to_pylist()
    channels = orders["channel"].to_pylist()
    end = end or (max(times) if times else dt.datetime(1970, 1, 1))
    by_customer: dict[str, list[int]] = {}
    for i, cid in enumerate(customers):
        by_customer.setdefault(cid, []).append(i)
    themes = list(THEMES)
    rows: dict[str, list[object]] = {c.name: [] for c in SURVEY_RESPONSES.columns}
    for cid in sorted(by_customer):
        if rng.random() >= share or cid not in z:
            continue
        picks = rng.choice(by_customer[cid], size=min(len(by_customer[cid]), 2), replace=False)
        for i in sorted(int(k) for k in picks):
            at = times[i] + dt.timedelta(days=float(rng.uniform(1, 6)))
            s = -z[cid] + float(rng.normal(0.0, noise))
            survey = "nps" if rng.random() < nps_share else "csat"
            if survey == "nps":
                score = int(np.clip(round(7.6 + 2.2 * s), 0, 10))
                negative = score <= 6
            else:
                score = int(np.clip(round(3.9 + 1.0 * s), 1, 5))
                negative = score <= 3
            theme = themes[int(rng.integers(len(themes)))]
            touchpoint, bad, good = THEMES[theme]
            comment = None
            if rng.random() < comment_share:
                pool = bad if negative else good
                comment = pool[int(rng.integers(len(pool)))].format(n=int(rng.integers(2, 9)))
            if at > end:  # checked after every draw, so the end never shifts the stream
                continue
            rows["response_id"].append(f"S-{cid}-{i}")
            rows["customer_id"].append(cid)
            rows["survey"].append(survey)
            rows["score"].append(score)
            rows["comment"].append(comment)
            rows["channel"].append(channels[i])
            rows["touchpoint"].append(touchpoint)
            rows["responded_at"].append(at.replace(microsecond=0))
    schema = pa.schema(
        [
            (c.name, pa.int64() if c.type == "integer" else pa.timestamp("us")
             if c.type == "timestamp" else pa.string())
            for c in SURVEY_RESPONSES.columns
        ]
    )  # fmt: skip
    return pa.table(rows, schema=schema)


def company_survey_responses(company: Company, seed: int = 0, share: float = 0.35) -> pa.Table:
    """`draw_survey_responses` for an in-memory demo `Company` (answers end at its end date)."""
    end = company.params.get("end")
    if isinstance(end, str):
        end = dt.date.fromisoformat(end)
    end_at = dt.datetime.combine(end, dt.time()) if isinstance(end, dt.date) else None
    return draw_survey_responses(
        _orders(company.transactions), company.truth["customers"], seed=seed, share=share,
        end=end_at,
    )  # fmt: skip


_WAREHOUSE_ORDERS = """
SELECT transaction_id, customer_id, min(occurred_at) AS occurred_at, min(channel) AS channel
FROM transactions WHERE NOT coalesce(is_return, FALSE)
GROUP BY transaction_id, customer_id
ORDER BY customer_id, occurred_at, transaction_id
"""
_WAREHOUSE_TRUTH = "SELECT customer_id, dropout_p FROM truth_customers"


def load_survey_responses(engine: Engine, *, seed: int, share: float = 0.35) -> int:
    """Replace the demo's `survey_responses` with answers drawn from the warehouse's orders and
    `truth_customers` (the `cvm demo` step); returns the number of answers written."""
    table = draw_survey_responses(
        engine.fetch_arrow(_WAREHOUSE_ORDERS), engine.fetch_arrow(_WAREHOUSE_TRUTH),
        seed=seed, share=share,
    )  # fmt: skip
    engine.ensure_table(SURVEY_RESPONSES)
    engine.execute(exp.delete(exp.to_table(SURVEY_RESPONSES.name, quoted=True)))
    n = table.num_rows
    loaded = pa.scalar(dt.datetime.now(dt.UTC).replace(tzinfo=None), pa.timestamp("us"))
    stamped = (
        table.append_column("_source", pa.repeat(pa.scalar("demo"), n))
        .append_column("_ingest_run", pa.repeat(pa.scalar(f"demo-surveys-{seed}"), n))
        .append_column("_loaded_at", pa.repeat(loaded, n))
    )
    return engine.write_arrow(SURVEY_RESPONSES.name, stamped) if n else 0
