"""Marketing spend for the demo company, with a known true CAC per acquisition channel.

For each paid channel c and signup month m, spend = n(c, m) × CAC(c) × εₘ,꜀ where n is the
number of demo customers who signed up through c in m and ε is mean-one log-normal noise,
ε = exp(σ z − σ²/2), z ~ N(0, 1), so E[spend] = n × CAC. Unpaid channels (organic, store
walk-ins) get no spend rows. The true CACs are written to ``truth_acquisition`` so a test can
recover them from `cvm.acquisition` (spend / new customers over all months): with ~36 months
the noise on a channel's pooled CAC is about σ / √36.

`load_marketing_spend(engine, seed=...)` reads the customers already in the warehouse (call it
after the demo company is loaded) and replaces `marketing_spend`; deterministic by seed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.contracts import MARKETING_SPEND
from cvm.demo.arrow_columns import TIMESTAMP_TYPE
from cvm.engine.base import Engine

TRUE_CAC: dict[str, float] = {
    "search": 35.0,
    "social": 50.0,
    "referral": 10.0,
    "email": 5.0,
    "display": 40.0,
    "organic": 0.0,
    "store": 0.0,
}
NOISE_SIGMA = 0.15
TRUTH_TABLE = "truth_acquisition"
_SPEND_STREAM = 7_301  # this module's own random stream, apart from the company's

_NEW_CUSTOMERS = """
SELECT acquisition_channel AS channel,
       CAST(date_trunc('month', signup_date) AS DATE) AS month,
       count(*) AS new_customers
FROM customers
WHERE signup_date IS NOT NULL AND acquisition_channel IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2
"""


def marketing_spend_table(
    new_customers: pa.Table,
    *,
    seed: int,
    currency: str = "USD",
    true_cac: Mapping[str, float] = TRUE_CAC,
    sigma: float = NOISE_SIGMA,
) -> pa.Table:
    """Spend rows (month, acquisition_channel, amount, currency) from new customers per
    ``channel`` × ``month`` (columns of ``new_customers``), rounded to cents."""
    rng = np.random.default_rng([seed, _SPEND_STREAM])
    rows = sorted(
        zip(
            new_customers.column("channel").to_pylist(),
            new_customers.column("month").to_pylist(),
            new_customers.column("new_customers").to_pylist(),
            strict=True,
        )
    )
    months: list[dt.date] = []
    channels: list[str] = []
    amounts: list[Decimal] = []
    for channel, month, count in rows:
        cac = float(true_cac.get(str(channel), 0.0))
        if cac <= 0:
            continue
        noise = float(np.exp(sigma * rng.standard_normal() - sigma**2 / 2))
        months.append(month)
        channels.append(str(channel))
        amounts.append(Decimal(f"{int(count) * cac * noise:.2f}"))
    return pa.table(
        {
            "month": pa.array(months, pa.date32()),
            "acquisition_channel": pa.array(channels, pa.string()),
            "amount": pa.array(amounts, pa.decimal128(18, 4)),
            "currency": pa.array([currency] * len(months), pa.string()),
        }
    )


def load_marketing_spend(
    engine: Engine,
    *,
    seed: int,
    currency: str = "USD",
    true_cac: Mapping[str, float] = TRUE_CAC,
    sigma: float = NOISE_SIGMA,
) -> int:
    """Replace `marketing_spend` with spend drawn from the warehouse's customers; record the
    true CACs in ``truth_acquisition``. Returns the number of spend rows written."""
    new = engine.fetch_arrow(_NEW_CUSTOMERS)
    table = marketing_spend_table(new, seed=seed, currency=currency, true_cac=true_cac, sigma=sigma)
    engine.ensure_table(MARKETING_SPEND)
    engine.execute(exp.delete(exp.to_table(MARKETING_SPEND.name, quoted=True)))
    n = table.num_rows
    loaded = pa.scalar(dt.datetime.now(dt.UTC).replace(tzinfo=None), TIMESTAMP_TYPE)
    stamped = (
        table.append_column("_source", pa.repeat(pa.scalar("demo"), n))
        .append_column("_ingest_run", pa.repeat(pa.scalar(f"demo-spend-{uuid.uuid4().hex[:8]}"), n))
        .append_column("_loaded_at", pa.repeat(loaded, n))
    )
    written = engine.write_arrow(MARKETING_SPEND.name, stamped) if n else 0
    truth = pa.table(
        {
            "acquisition_channel": list(true_cac),
            "true_cac": [float(v) for v in true_cac.values()],
            "noise_sigma": [float(sigma)] * len(true_cac),
        }
    )
    engine.write_arrow(TRUTH_TABLE, truth, mode="replace")
    return written
