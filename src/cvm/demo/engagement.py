"""Behavioural events that move with purchase activity: sessions, carts, e-mail engagement.

Event volume follows the latent process, so engagement carries signal: every online order
comes with its session (page or app open, product view, add to cart, order completed);
customers browse without buying in proportion to their orders and only while active
(until shortly after their last order when they have dropped out); newsletter opens happen
only while the e-mail consent holds, at a rate that rises with the purchase-rate quantile.
Server-side e-mail events carry no anonymous id; a share of web browsing happens logged out
(no user id, but the anonymous id ties it to the customer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import gammainc

from cvm.core.contracts import EVENTS
from cvm.demo.arrow_columns import (
    assemble,
    concat_text,
    json_objects,
    numbers_as_text,
    padded_ids,
    pick,
    timestamps,
    with_nulls,
)
from cvm.demo.campaign import MESSAGE_NAMES, CampaignResult
from cvm.demo.catalogue import CATEGORIES, CATEGORY_NAMES, Catalogue, choose_products
from cvm.demo.config import DemoConfig
from cvm.demo.consents import ConsentHistory
from cvm.demo.population import (
    ACQUISITION_CHANNELS,
    ORDER_CHANNELS,
    Population,
    categorical_rows,
)
from cvm.demo.purchases import FIRST, Orders, PurchaseHistory

TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "message")
NAMES: tuple[str, ...] = (
    "page_view", "app_open", "product_viewed", "add_to_cart", "cart_abandoned",
    "order_completed", "email_delivered", "email_opened", "email_clicked", "",
)  # fmt: skip
CHANNELS: tuple[str, ...] = ("web", "app", "email", "store")
_MINUTE = 1.0 / 1440.0


@dataclass
class EventBlocks:
    """Events collected block by block before they are sorted and numbered."""

    customer: list[npt.NDArray[np.int64]] = field(default_factory=list)
    time: list[npt.NDArray[np.float64]] = field(default_factory=list)
    type: list[npt.NDArray[np.int64]] = field(default_factory=list)
    name: list[npt.NDArray[np.int64]] = field(default_factory=list)
    channel: list[npt.NDArray[np.int64]] = field(default_factory=list)
    logged_out: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    properties: list[pa.Array] = field(default_factory=list)

    def add(
        self,
        customer: npt.NDArray[np.int64],
        time: npt.NDArray[np.float64],
        type_: str | npt.NDArray[np.int64],
        name: str | npt.NDArray[np.int64],
        channel: npt.NDArray[np.int64],
        properties: pa.Array,
        logged_out: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        n = customer.shape[0]
        self.customer.append(customer)
        self.time.append(time)
        self.type.append(
            np.full(n, TYPES.index(type_), dtype=np.int64) if isinstance(type_, str) else type_
        )
        self.name.append(
            np.full(n, NAMES.index(name), dtype=np.int64) if isinstance(name, str) else name
        )
        self.channel.append(channel)
        self.logged_out.append(np.zeros(n, bool) if logged_out is None else logged_out)
        self.properties.append(properties)


def _session_start(
    channel: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Page view on the web, app open in the app: (name, event-channel) codes."""
    app = channel == ORDER_CHANNELS.index("app")
    return np.where(app, NAMES.index("app_open"), NAMES.index("page_view")), np.where(app, 1, 0)


def _product_props(catalogue: Catalogue, product: npt.NDArray[np.int64]) -> pa.Array:
    ids = pc.take(catalogue.table.column("product_id").combine_chunks(), pa.array(product))
    return json_objects(
        [
            ("product_id", ids, True),
            ("category", pick(CATEGORY_NAMES, catalogue.category[product]), True),
            ("price", numbers_as_text(catalogue.price[product]), False),
        ]
    )


def _start_props(name: npt.NDArray[np.int64], category: npt.NDArray[np.int64]) -> pa.Array:
    path = concat_text("/c/", pick(CATEGORY_NAMES, category))
    page = json_objects([("path", path, True)])
    app = json_objects([("screen", pick(("home",), np.zeros_like(category)), True)])
    return pc.if_else(pa.array(name == NAMES.index("app_open")), app, page)


def draw_events(
    rng: np.random.Generator,
    pop: Population,
    history: PurchaseHistory,
    orders: Orders,
    first_product: npt.NDArray[np.int64],
    order_totals: npt.NDArray[np.float64],
    order_id: pa.Array,
    catalogue: Catalogue,
    consents: ConsentHistory,
    campaign: CampaignResult,
    start: date,
    span_days: int,
    config: DemoConfig,
) -> EventBlocks:
    """All events of one chunk, block by block (see the module docstring)."""
    blocks = EventBlocks()
    n = pop.size

    # Identify at signup, sent by the till or the site that took the first order.
    first_channel = orders.channel[orders.kind == 0]
    ident_channel = np.where(first_channel == 0, 3, np.where(first_channel == 2, 1, 0))
    blocks.add(
        np.arange(n), history.signup_time - 2 * _MINUTE, "identify", "", ident_channel,
        json_objects([("acquisition_channel", pick(ACQUISITION_CHANNELS, pop.acquisition), True)]),
    )  # fmt: skip

    # One session per online order: start, add to cart, order completed. Before the first
    # order the shopper has no account yet, so that session is logged out.
    online = np.flatnonzero(orders.channel != ORDER_CHANNELS.index("store"))
    oc, ot, prod = orders.customer[online], orders.time[online], first_product[online]
    anonymous = orders.kind[online] == FIRST
    start_name, ev_channel = _session_start(orders.channel[online])
    t_start = ot - rng.uniform(8, 30, online.shape[0]) * _MINUTE
    t_cart = ot - rng.uniform(1, 6, online.shape[0]) * _MINUTE
    start_type = np.where(
        start_name == NAMES.index("app_open"), TYPES.index("track"), TYPES.index("page")
    )
    blocks.add(
        oc,
        t_start,
        start_type,
        start_name,
        ev_channel,
        _start_props(start_name, catalogue.category[prod]),
        anonymous,
    )
    blocks.add(
        oc, t_cart, "track", "add_to_cart", ev_channel, _product_props(catalogue, prod), anonymous
    )
    revenue = json_objects(
        [
            ("order_id", pc.take(order_id, pa.array(online)), True),
            ("revenue", numbers_as_text(np.round(order_totals[online], 2)), False),
            ("currency", pick((config.currency,), np.zeros_like(online)), True),
        ]
    )
    blocks.add(
        oc,
        ot + rng.uniform(1, 20, online.shape[0]) / 86400.0,
        "track",
        "order_completed",
        ev_channel,
        revenue,
    )

    # Browsing without buying, while active: up to two months after a dropped-out customer's
    # last order (interest fades after the last purchase, it does not stop on the day).
    n_orders = np.bincount(orders.customer, minlength=n)
    last_order = np.full(n, -np.inf)
    np.maximum.at(last_order, orders.customer, orders.time)
    active_end = np.where(history.alive_at_end, span_days, np.minimum(span_days, last_order + 60.0))
    sessions = np.minimum(rng.poisson(config.browse_sessions_per_order * n_orders), 40)
    sc = np.repeat(np.arange(n), sessions)
    st = history.signup_time[sc] + rng.random(sc.shape[0]) * (
        active_end[sc] - history.signup_time[sc]
    )
    in_app = pop.app_user[sc] & (rng.random(sc.shape[0]) < 0.6)
    s_channel = np.where(in_app, ORDER_CHANNELS.index("app"), ORDER_CHANNELS.index("web"))
    s_name, s_evch = _session_start(s_channel)
    category = categorical_rows(rng, pop.affinity, sc)
    median = np.array([c.median_price for c in CATEGORIES])[category]
    viewed = choose_products(
        rng, catalogue, category, median * np.exp(rng.normal(0, 0.5, sc.shape[0]))
    )
    logged_out = ~in_app & (rng.random(sc.shape[0]) < 0.3)
    t_view = st + rng.uniform(0.5, 8, sc.shape[0]) * _MINUTE
    s_type = np.where(in_app, TYPES.index("track"), TYPES.index("page"))
    view_type = np.where(in_app, TYPES.index("screen"), TYPES.index("track"))
    blocks.add(sc, st, s_type, s_name, s_evch, _start_props(s_name, category), logged_out)
    blocks.add(
        sc,
        t_view,
        view_type,
        "product_viewed",
        s_evch,
        _product_props(catalogue, viewed),
        logged_out,
    )
    cart = np.flatnonzero(rng.random(sc.shape[0]) < 0.3)
    t_cart = t_view[cart] + rng.uniform(0.5, 5, cart.shape[0]) * _MINUTE
    cart_props = _product_props(catalogue, viewed[cart])
    blocks.add(sc[cart], t_cart, "track", "add_to_cart", s_evch[cart], cart_props, logged_out[cart])
    t_abandon = t_cart + rng.uniform(30, 120, cart.shape[0]) * _MINUTE
    blocks.add(
        sc[cart], t_abandon, "track", "cart_abandoned", s_evch[cart], cart_props, logged_out[cart]
    )

    # Newsletter opens while the e-mail consent holds; engaged (high-rate) customers open more.
    g_from = consents.granted_from[:, 0]
    g_until = np.minimum(consents.granted_until[:, 0], span_days)
    months = np.where(np.isfinite(g_from), np.maximum(g_until - g_from, 0.0) / 30.44, 0.0)
    engaged = 0.3 + 1.4 * gammainc(config.bgnbd.r, config.bgnbd.alpha * pop.lam)
    opens = rng.poisson(config.newsletter_opens_per_month * months * engaged)
    nc = np.repeat(np.arange(n), opens)
    nt = g_from[nc] + rng.random(nc.shape[0]) * (g_until[nc] - g_from[nc])
    email = np.full(nc.shape[0], CHANNELS.index("email"))
    news_id = concat_text("NEWS-", pc.strftime(timestamps(start, nt), format="%Y-%m"))
    blocks.add(
        nc, nt, "track", "email_opened", email, json_objects([("campaign_id", news_id, True)])
    )
    click = np.flatnonzero(rng.random(nc.shape[0]) < 0.2)
    blocks.add(
        nc[click], nt[click] + rng.uniform(0.2, 10, click.shape[0]) * _MINUTE, "track", "email_clicked",
        email[click], json_objects([("campaign_id", pc.take(news_id, pa.array(click)), True)]),
    )  # fmt: skip

    # The campaign's own messages.
    mc = campaign.message_customer
    camp_props = json_objects(
        [("campaign_id", pick((config.campaign.campaign_id,), np.zeros_like(mc)), True)]
    )
    types = np.where(campaign.message_name == 0, TYPES.index("message"), TYPES.index("track"))
    names = np.array([NAMES.index(m) for m in MESSAGE_NAMES])[campaign.message_name]
    blocks.customer.append(mc)
    blocks.time.append(campaign.message_time)
    blocks.type.append(types)
    blocks.name.append(names)
    blocks.channel.append(np.full(mc.shape[0], CHANNELS.index("email")))
    blocks.logged_out.append(np.zeros(mc.shape[0], bool))
    blocks.properties.append(camp_props)
    return blocks


def events_table(
    rng: np.random.Generator,
    blocks: EventBlocks,
    pop: Population,
    first_event_number: int,
    start: date,
    span_days: int,
) -> pa.Table:
    """Sort one chunk's events by (customer, time), number them and build the rows.

    Events that would fall after the period end are dropped (a session cannot outlive the
    data); ``received_at`` adds a transport lag: seconds on the web, sometimes hours for an
    app that was offline, about a minute for e-mail tracking pixels.
    """
    cust = np.concatenate(blocks.customer)
    time = np.concatenate(blocks.time)
    keep = (time >= 0.0) & (time < span_days)
    order = np.lexsort((time, cust))
    order = order[keep[order]]
    cust, time = cust[order], time[order]
    type_ = np.concatenate(blocks.type)[order]
    name = np.concatenate(blocks.name)[order]
    channel = np.concatenate(blocks.channel)[order]
    logged_out = np.concatenate(blocks.logged_out)[order]
    properties = pc.take(pa.concat_arrays(blocks.properties), pa.array(order))
    m = cust.shape[0]
    scale = np.full(m, 1.5 / 86400.0)
    scale[channel == CHANNELS.index("email")] = 60.0 / 86400.0
    app = np.flatnonzero(channel == CHANNELS.index("app"))
    scale[app] = np.where(rng.random(app.shape[0]) < 0.15, 2.0 / 24.0, 4.0 / 86400.0)
    lag = rng.exponential(1.0, m) * scale
    ids = pop.ids_of(cust)
    server_side = channel == CHANNELS.index("email")
    # One device id per customer, scrambled so it does not reveal the customer number.
    anon_number = (pop.number * 2_654_435_761 + 97_531) % 10**12
    device = concat_text("anon-", pc.utf8_lpad(numbers_as_text(anon_number), 12, "0"))
    anonymous = pc.take(device, pa.array(cust))
    return assemble(
        EVENTS,
        {
            "event_id": padded_ids("E", np.arange(first_event_number, first_event_number + m), 12),
            "customer_id": ids,
            "user_id": with_nulls(ids, logged_out),
            "anonymous_id": with_nulls(anonymous, server_side),
            "type": pick(TYPES, type_),
            "name": with_nulls(pick(NAMES, name), name == NAMES.index("")),
            "occurred_at": timestamps(start, time),
            "received_at": timestamps(start, time + lag),
            "channel": pick(CHANNELS, channel),
            "properties": properties,
        },
    )
