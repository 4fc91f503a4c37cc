"""Turn orders into order lines: categories, products, quantities, stores and returns.

The order value comes from the Gamma-Gamma model (`cvm.demo.purchases`); this module only
splits it into lines, so the per-order total stays the planted value up to cent rounding. The
line count grows with the value; the first line's category follows the customer's Dirichlet
tastes, later lines follow the previous line's complements with probability
``complement_share``; a share of lines re-buys one of the customer's three favourite
repeatable products. Products are picked near each line's share of the value, so list prices
and amounts stay coherent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cvm.core.contracts import TRANSACTIONS
from cvm.demo import geography as geo
from cvm.demo.arrow_columns import (
    assemble,
    concat_text,
    money,
    numbers_as_text,
    padded_ids,
    pick,
    timestamps,
)
from cvm.demo.catalogue import (
    APPAREL,
    CATEGORIES,
    CATEGORY_NAMES,
    COMPLEMENTS,
    REPEATABLE,
    Catalogue,
    choose_products,
)
from cvm.demo.config import DemoConfig
from cvm.demo.population import ORDER_CHANNELS, Population, categorical_rows
from cvm.demo.purchases import Orders

FAVOURITES = 3


@dataclass
class Lines:
    """Order lines (sales and returns) of one chunk as parallel arrays."""

    order: npt.NDArray[np.int64]  # index into the chunk's orders
    line_no: npt.NDArray[np.int64]  # 1-based within the order
    product: npt.NDArray[np.int64]
    quantity: npt.NDArray[np.int64]  # negative for returns
    amount: npt.NDArray[np.float64]  # rounded to cents, negative for returns
    time: npt.NDArray[np.float64]
    store: npt.NDArray[np.int64]  # -1 online
    is_return: npt.NDArray[np.bool_]

    @property
    def size(self) -> int:
        return int(self.order.shape[0])


def draw_favourites(
    rng: np.random.Generator, pop: Population, catalogue: Catalogue
) -> npt.NDArray[np.int64]:
    """Three products per customer from a repeatable category they like (customers x 3)."""
    taste = pop.affinity * REPEATABLE[None, :]
    category = categorical_rows(rng, taste)
    median = np.array([c.median_price for c in CATEGORIES])[category]
    picks = [
        choose_products(rng, catalogue, category, median * np.exp(rng.normal(0, 0.4, pop.size)))
        for _ in range(FAVOURITES)
    ]
    return np.stack(picks, axis=1)


def split_orders(
    rng: np.random.Generator,
    orders: Orders,
    pop: Population,
    catalogue: Catalogue,
    span_days: int,
    config: DemoConfig,
) -> tuple[Lines, npt.NDArray[np.float64]]:
    """Lines of every order plus returns; also each order's total (sum of its sale lines)."""
    n_orders = orders.size
    extra = rng.poisson(np.maximum(orders.value - config.line_base, 0.0) / config.line_value)
    count = 1 + np.minimum(extra, config.max_lines - 1)
    starts = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    order = np.repeat(np.arange(n_orders, dtype=np.int64), count)
    line_no = np.arange(order.shape[0]) - starts[order]
    cust = orders.customer[order]

    category = np.empty(order.shape[0], dtype=np.int64)
    by_taste = categorical_rows(rng, pop.affinity, cust)
    complement = rng.random(order.shape[0]) < config.complement_share
    for k in range(config.max_lines):  # a loop over line positions, not rows
        at = np.flatnonzero(line_no == k)
        if at.size == 0:
            break
        category[at] = by_taste[at]
        if k > 0:
            follow = at[complement[at]]
            category[follow] = categorical_rows(rng, COMPLEMENTS, category[follow - 1])

    share = rng.gamma(2.0, 1.0, order.shape[0])
    share /= np.add.reduceat(share, starts)[order]
    target = orders.value[order] * share
    # Aim a little above the line value: list prices then cover it with a modest discount.
    product = choose_products(rng, catalogue, category, target * 1.15)
    favourites = draw_favourites(rng, pop, catalogue)
    fav = rng.random(order.shape[0]) < config.favourite_share
    product[fav] = favourites[cust[fav], rng.integers(0, FAVOURITES, int(fav.sum()))]

    price = catalogue.price[product]
    qmax = np.where(REPEATABLE[catalogue.category[product]], 12, 3)
    quantity = np.clip(np.ceil(target / price - 0.3), 1, qmax).astype(np.int64)
    # Amounts are list value scaled to the planted order value; never above list price, so
    # an order whose list value falls short buys more units of its first line.
    shortfall = np.maximum(orders.value - np.add.reduceat(price * quantity, starts), 0.0)
    quantity[starts] += np.ceil(shortfall / price[starts]).astype(np.int64)
    list_value = price * quantity
    amount = np.round(
        orders.value[order] * list_value / np.add.reduceat(list_value, starts)[order], 2
    )
    amount = np.maximum(amount, 0.01)
    totals = np.add.reduceat(amount, starts)

    is_store = orders.channel[order] == ORDER_CHANNELS.index("store")
    city = pop.city[cust]
    other_store = geo.CITY_FIRST_STORE[city] + (
        rng.random(order.shape[0]) * geo.CITY_STORES[city]
    ).astype(np.int64)
    store_of_order = np.where(
        rng.random(n_orders) < 0.85, pop.home_store[orders.customer], other_store[starts]
    )
    store = np.where(is_store, store_of_order[order], -1)

    cat = catalogue.category[product]
    rate = np.where(APPAREL[cat], config.return_rate_apparel, config.return_rate_other)
    rate = np.where(cat == CATEGORY_NAMES.index("grocery"), 0.0, rate)
    ret_time = orders.time[order] + rng.uniform(2.0, 30.0, order.shape[0])
    ret = (rng.random(order.shape[0]) < rate) & (ret_time < span_days)

    lines = Lines(
        order=np.concatenate([order, order[ret]]),
        line_no=np.concatenate([line_no, line_no[ret]]) + 1,
        product=np.concatenate([product, product[ret]]),
        quantity=np.concatenate([quantity, -quantity[ret]]),
        amount=np.concatenate([amount, -amount[ret]]),
        time=np.concatenate([orders.time[order], ret_time[ret]]),
        store=np.concatenate([store, store[ret]]),
        is_return=np.concatenate([np.zeros(order.shape[0], bool), np.ones(int(ret.sum()), bool)]),
    )
    return lines, totals


def order_ids(first_order_number: int, n: int) -> pa.Array:
    """Receipt numbers of a chunk's orders: ``T`` + 10 digits, global across chunks."""
    return padded_ids("T", np.arange(first_order_number, first_order_number + n), 10)


def transactions_table(
    lines: Lines,
    orders: Orders,
    pop: Population,
    catalogue: Catalogue,
    first_order_number: int,
    start: date,
    currency: str,
) -> pa.Table:
    """Canonical `transactions` rows; a return is its own receipt ``R`` + the sale's number."""
    number = numbers_as_text(first_order_number + lines.order)
    digits = pc.utf8_lpad(number, 10, "0")
    receipt = concat_text(pick(("T", "R"), lines.is_return.astype(np.int64)), digits)
    cust = orders.customer[lines.order]
    channel = orders.channel[lines.order]
    product_ids = catalogue.table.column("product_id").combine_chunks()
    return assemble(
        TRANSACTIONS,
        {
            "transaction_id": receipt,
            "line_id": numbers_as_text(lines.line_no),
            "customer_id": pop.ids_of(cust),
            "occurred_at": timestamps(start, lines.time),
            "amount": money(lines.amount),
            "currency": pick((currency,), np.zeros(lines.size, dtype=np.int64)),
            "quantity": money(lines.quantity.astype(np.float64)),
            "product_id": pc.take(product_ids, pa.array(lines.product)),
            "category": pick(CATEGORY_NAMES, catalogue.category[lines.product]),
            "channel": pick(ORDER_CHANNELS, channel),
            "store_id": pick(geo.STORE_IDS, lines.store),
            "is_return": pa.array(lines.is_return),
        },
    )
