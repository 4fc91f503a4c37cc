"""Assemble the demo company chunk by chunk: canonical tables plus ground truth.

Customers are generated in chunks of ``config.chunk_size``; chunk ``k`` draws from its own
random streams ``SeedSequence(seed, spawn_key=(stream, k))``, so the same seed and chunk size
give identical tables, and memory stays bounded by one chunk. `DemoGenerator.chunks` streams
the parts (for a million customers, write them out as they come: `cvm.demo.sinks`);
`generate_company` collects them into one in-memory `Company` for small runs and tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cvm.core.contracts import CANONICAL
from cvm.demo.arrow_columns import contract_schema, with_nulls
from cvm.demo.baskets import order_ids, split_orders, transactions_table
from cvm.demo.campaign import CampaignResult, run_campaign
from cvm.demo.catalogue import build_catalogue, catalogue_size
from cvm.demo.config import DemoConfig, validate_request
from cvm.demo.consents import consents_table, draw_consents
from cvm.demo.engagement import draw_events, events_table
from cvm.demo.geography import zone_offsets
from cvm.demo.population import customers_table, draw_population
from cvm.demo.purchases import INCREMENTAL, Orders, simulate_future, simulate_purchases
from cvm.demo.truth import (
    TRUTH_CAMPAIGN_SCHEMA,
    TRUTH_CUSTOMERS_SCHEMA,
    campaign_assignments_table,
    describe_truth,
    truth_campaign_table,
    truth_customers_table,
)

TABLES: tuple[str, ...] = (
    "customers",
    "transactions",
    "products",
    "events",
    "consents",
    "campaign_assignments",
)
TRUTH_TABLES: dict[str, pa.Schema] = {
    "customers": TRUTH_CUSTOMERS_SCHEMA,
    "campaign": TRUTH_CAMPAIGN_SCHEMA,
}
DEFAULT_START = date(2022, 1, 1)
DEFAULT_END = date(2025, 1, 1)
# Random streams of a chunk (spawn_key=(stream, chunk)); the catalogue has its own.
_POPULATION, _PURCHASES, _CONSENTS, _CAMPAIGN, _BASKETS, _EVENTS, _FUTURE = range(7)
_CATALOGUE = 99


@dataclass
class Company:
    """The demo company (or one chunk of it): canonical tables, truth tables and parameters."""

    tables: dict[str, pa.Table]
    truth: dict[str, pa.Table]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def customers(self) -> pa.Table:
        return self.tables["customers"]

    @property
    def transactions(self) -> pa.Table:
        return self.tables["transactions"]

    @property
    def products(self) -> pa.Table:
        return self.tables["products"]

    @property
    def events(self) -> pa.Table:
        return self.tables["events"]

    @property
    def consents(self) -> pa.Table:
        return self.tables["consents"]

    def row_counts(self) -> dict[str, int]:
        return {name: t.num_rows for name, t in self.tables.items()}


def _rng(seed: int, stream: int, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, chunk)))


def _merge_orders(base: Orders, extra: Orders) -> Orders:
    customer = np.concatenate([base.customer, extra.customer])
    time = np.concatenate([base.time, extra.time])
    order = np.lexsort((time, customer))
    return Orders(
        customer=customer[order],
        time=time[order],
        value=np.concatenate([base.value, extra.value])[order],
        channel=np.concatenate([base.channel, extra.channel])[order],
        kind=np.concatenate([base.kind, extra.kind])[order],
    )


class DemoGenerator:
    """Generates the demo company in chunks; `summary` tallies what has been generated."""

    def __init__(
        self,
        n_customers: int = 5000,
        seed: int = 42,
        start: date = DEFAULT_START,
        end: date = DEFAULT_END,
        config: DemoConfig | None = None,
    ) -> None:
        self.config = config or DemoConfig()
        validate_request(n_customers, start, end, self.config)
        self.n_customers = n_customers
        self.seed = seed
        self.start = start
        self.end = end
        self.span_days = (end - start).days
        n_products = catalogue_size(
            n_customers,
            self.config.min_products,
            self.config.customers_per_product,
            self.config.max_products,
        )
        self.catalogue = build_catalogue(_rng(seed, _CATALOGUE), n_products)
        self.offsets = zone_offsets(start, self.span_days + 1)
        self.summary: dict[str, Any] = self._empty_summary()
        self._orders_so_far = 0
        self._events_so_far = 0

    @staticmethod
    def _empty_summary() -> dict[str, Any]:
        return {
            "rows": {name: 0 for name in TABLES},
            "revenue": 0.0,
            "orders": 0,
            "campaign": {"audience": 0, "treatment": 0, "control": 0, "sum_true_uplift": 0.0,
                         "treatment_buyers": 0, "control_buyers": 0, "incremental_orders": 0},
        }  # fmt: skip

    @property
    def n_chunks(self) -> int:
        return -(-self.n_customers // self.config.chunk_size)

    def params(self) -> dict[str, Any]:
        """`truth/params.json`: inputs, formulas and the tallies of the chunks generated so far."""
        described = describe_truth(
            self.n_customers, self.seed, self.start, self.end, self.config, self.catalogue.size
        )
        camp = dict(self.summary["campaign"])
        audience = max(camp["audience"], 1)
        camp["average_true_uplift"] = camp["sum_true_uplift"] / audience
        camp["treatment_purchase_rate"] = camp["treatment_buyers"] / max(camp["treatment"], 1)
        camp["control_purchase_rate"] = camp["control_buyers"] / max(camp["control"], 1)
        described["campaign"].update(camp)
        described["totals"] = {
            "rows": dict(self.summary["rows"]),
            "orders": self.summary["orders"],
            "gross_revenue": round(self.summary["revenue"], 2),
        }
        return described

    def chunks(self) -> Iterator[Company]:
        """Yield the company chunk by chunk (the first chunk also carries the products).

        Each call starts over (same data again) and restarts the tallies behind `params`.
        """
        self.summary = self._empty_summary()
        self._orders_so_far = 0
        self._events_so_far = 0
        for k in range(self.n_chunks):
            first = k * self.config.chunk_size
            size = min(self.config.chunk_size, self.n_customers - first)
            yield self._chunk(k, first + 1, size)

    def _chunk(self, k: int, first_number: int, n: int) -> Company:
        cfg, start, span = self.config, self.start, self.span_days
        pop = draw_population(_rng(self.seed, _POPULATION, k), first_number, n, start, span, cfg)
        history = simulate_purchases(_rng(self.seed, _PURCHASES, k), pop, span, self.offsets, cfg)
        consents = draw_consents(
            _rng(self.seed, _CONSENTS, k), history.signup_time, pop.app_user, span
        )
        campaign = run_campaign(
            _rng(self.seed, _CAMPAIGN, k), pop, history, consents, span, self.offsets, cfg
        )
        orders = _merge_orders(history.orders, campaign.incremental_orders)
        lines, totals = split_orders(
            _rng(self.seed, _BASKETS, k), orders, pop, self.catalogue, span, cfg
        )
        first_order = self._orders_so_far + 1
        ids = order_ids(first_order, orders.size)
        first_product = lines.product[(lines.line_no == 1) & ~lines.is_return]
        rng_events = _rng(self.seed, _EVENTS, k)
        blocks = draw_events(
            rng_events, pop, history, orders, first_product, totals, ids, self.catalogue,
            consents, campaign, start, span, cfg,
        )  # fmt: skip
        events = events_table(rng_events, blocks, pop, self._events_so_far + 1, start, span)
        future = simulate_future(_rng(self.seed, _FUTURE, k), pop, history.alive_at_end, cfg)

        # Campaign outcomes: every order (baseline or incremental) in the window counts.
        send, window = campaign.send_day, cfg.campaign.window_days
        in_window = (orders.time >= send) & (orders.time < send + window)
        count = np.bincount(orders.customer[in_window], minlength=n)[campaign.customer]
        revenue = np.asarray(
            np.bincount(orders.customer[in_window], weights=totals[in_window], minlength=n),
            dtype=np.float64,
        )[campaign.customer]
        inc_index = np.full(n, 0, dtype=np.int64)
        is_inc = orders.kind == INCREMENTAL
        inc_index[orders.customer[is_inc]] = np.flatnonzero(is_inc)
        inc_ids = with_nulls(
            pc.take(ids, pa.array(inc_index[campaign.customer])), ~campaign.incremental
        )

        tables = {
            "customers": customers_table(pop, history.signup_time, start),
            "transactions": transactions_table(
                lines, orders, pop, self.catalogue, first_order, start, cfg.currency
            ),
            "products": self.catalogue.table
            if k == 0
            else contract_schema(CANONICAL["products"]).empty_table(),
            "events": events,
            "consents": consents_table(consents, pop.ids, start, span),
        }
        truth = {
            "customers": truth_customers_table(pop, history, future, start, span, cfg),
            "campaign": truth_campaign_table(pop, campaign, inc_ids, count, revenue, start, cfg),
        }
        tables["campaign_assignments"] = campaign_assignments_table(truth["campaign"], cfg)
        self._orders_so_far += orders.size
        self._events_so_far += events.num_rows
        self._tally(tables, orders.size, float(totals.sum()), campaign, count)
        return Company(tables=tables, truth=truth)

    def _tally(
        self,
        tables: dict[str, pa.Table],
        n_orders: int,
        revenue: float,
        campaign: CampaignResult,
        count: npt.NDArray[np.int64],
    ) -> None:
        s = self.summary
        for name, table in tables.items():
            s["rows"][name] += table.num_rows
        s["orders"] += n_orders
        s["revenue"] += revenue
        c = s["campaign"]
        treated = campaign.treated
        c["audience"] += int(treated.shape[0])
        c["treatment"] += int(treated.sum())
        c["control"] += int((~treated).sum())
        c["sum_true_uplift"] += float(campaign.true_uplift.sum())
        c["treatment_buyers"] += int((count[treated] > 0).sum())
        c["control_buyers"] += int((count[~treated] > 0).sum())
        c["incremental_orders"] += int(campaign.incremental.sum())


def combine(parts: list[Company], params: dict[str, Any]) -> Company:
    """One in-memory company from its chunks."""
    tables = {
        name: pa.concat_tables([p.tables[name] for p in parts]).combine_chunks() for name in TABLES
    }
    truth = {
        name: pa.concat_tables([p.truth[name] for p in parts]).combine_chunks()
        for name in TRUTH_TABLES
    }
    return Company(tables=tables, truth=truth, params=params)


def generate_company(
    n_customers: int = 5000,
    seed: int = 42,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    config: DemoConfig | None = None,
) -> Company:
    """Generate the whole demo company in memory (use `DemoGenerator` + sinks for big runs).

    ``start``/``end`` bound the observation period (``end`` exclusive, midnight UTC); the true
    future value covers the ``config.future_weeks`` after ``end``.
    """
    generator = DemoGenerator(n_customers, seed, start, end, config)
    parts = list(generator.chunks())
    return combine(parts, generator.params())
