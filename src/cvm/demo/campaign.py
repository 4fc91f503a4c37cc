"""One past randomised win-back e-mail campaign with a planted, heterogeneous uplift.

Design (documented so the draw can be reproduced):

* Send day ``D`` = period end - ``days_before_end`` days; each treated customer receives the
  e-mail at 10:00-10:30 local time. The outcome window is the ``window_days`` whole UTC days
  starting on ``D``.
* Eligible: acquired at least ``min_tenure_days`` before ``D`` and holding an e-mail marketing
  consent at the send time.
* Assignment: the campaign stream of each chunk (``SeedSequence(seed, spawn_key=(3, chunk))``)
  first draws two uniforms ``u_audience, u_arm`` per customer in customer order; a customer is
  in the audience when eligible and ``u_audience < audience_share``, and treated when also
  ``u_arm < treatment_share``. Assignment is therefore independent of every outcome.
* Potential outcomes: without the e-mail a customer buys in the window with probability
  ``P0 = alive(D) * (1 - exp(-lambda * window_weeks))`` (BG/NBD: a live customer's next purchase
  is exponential; the BG/NBD process itself produces the control purchases). With it,
  ``P1 = P0 + u`` where the true individual uplift ``u = floor + peak * lapsing * mid_value``,
  capped at ``1 - P0``; ``lapsing`` and ``mid_value`` are log-normal bumps in days since the
  last order and spend before ``D`` (largest for lapsing, mid-value customers).
* Realisation: a treated customer without a baseline order in the window gets one incremental
  order with probability ``u / (1 - P0)``, so P(purchase | treated) = P0 + u exactly. The
  incremental order does not feed back into the BG/NBD dropout process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cvm.demo import geography as geo
from cvm.demo.config import DemoConfig
from cvm.demo.consents import ConsentHistory
from cvm.demo.population import Population
from cvm.demo.purchases import INCREMENTAL, Orders, PurchaseHistory, draw_order_values, place_in_day

MESSAGE_NAMES: tuple[str, ...] = ("email_delivered", "email_opened", "email_clicked")


@dataclass
class CampaignResult:
    """The audience of one chunk (chunk-local indices) with its truth and side effects."""

    send_day: int
    customer: npt.NDArray[np.int64]
    treated: npt.NDArray[np.bool_]
    assigned_at: npt.NDArray[np.float64]  # the planned send time, also for controls
    alive_at_send: npt.NDArray[np.bool_]
    baseline_probability: npt.NDArray[np.float64]
    true_uplift: npt.NDArray[np.float64]
    baseline_orders: npt.NDArray[np.int64]
    incremental: npt.NDArray[np.bool_]
    recency_days: npt.NDArray[np.float64]
    spend_before: npt.NDArray[np.float64]
    incremental_orders: Orders
    # Message events: chunk-local customer, time, index into MESSAGE_NAMES.
    message_customer: npt.NDArray[np.int64]
    message_time: npt.NDArray[np.float64]
    message_name: npt.NDArray[np.int64]


def lognormal_bump(
    x: npt.NDArray[np.float64], peak: float, log_sd: float
) -> npt.NDArray[np.float64]:
    """exp(-(ln x - ln peak)^2 / (2 sd^2)): 1 at ``peak``, falling off on a log scale."""
    z = (np.log(np.maximum(x, 1e-9)) - np.log(peak)) / log_sd
    return np.exp(-0.5 * z * z)


def true_uplift(
    recency_days: npt.NDArray[np.float64],
    spend_before: npt.NDArray[np.float64],
    baseline_probability: npt.NDArray[np.float64],
    config: DemoConfig,
) -> npt.NDArray[np.float64]:
    """The planted individual uplift on P(purchase in the window), capped at 1 - P0."""
    c = config.campaign
    lapse = lognormal_bump(recency_days, c.lapse_peak_days, c.lapse_log_sd)
    mid = lognormal_bump(spend_before, c.value_peak, c.value_log_sd)
    return np.minimum(c.uplift_floor + c.uplift_peak * lapse * mid, 1.0 - baseline_probability)


def run_campaign(
    rng: np.random.Generator,
    pop: Population,
    history: PurchaseHistory,
    consents: ConsentHistory,
    span_days: int,
    offsets: npt.NDArray[np.float64],
    config: DemoConfig,
) -> CampaignResult:
    c = config.campaign
    n = pop.size
    u_audience, u_arm = rng.random(n), rng.random(n)  # the documented assignment draws
    send_day = span_days - c.days_before_end
    send_time = geo.local_clock_to_utc(
        np.full(n, send_day), 10.0 + rng.random(n) * 0.5, pop.city, offsets
    )
    eligible = (history.signup_time <= send_day - c.min_tenure_days) & consents.granted_at(
        0, send_time
    )
    audience = eligible & (u_audience < c.audience_share)
    cust = np.flatnonzero(audience)
    treated = u_arm[cust] < c.treatment_share

    orders = history.orders
    # Orders are sorted by (customer, time): a combined key finds each customer's orders
    # before D and inside the window with binary searches instead of a loop.
    stride = float(span_days + 1)
    key = orders.customer * stride + orders.time
    first = np.searchsorted(key, cust * stride)
    before = np.searchsorted(key, cust * stride + send_day)
    in_window_end = np.searchsorted(key, cust * stride + send_day + c.window_days)
    cumulative = np.concatenate([[0.0], np.cumsum(orders.value)])
    spend_before = cumulative[before] - cumulative[first]
    recency = send_day - orders.time[before - 1]  # every audience member bought before D
    repeats_before = before - first - 1
    alive = repeats_before < history.dropout_after[cust]
    window_weeks = c.window_days / 7.0
    p0 = np.where(alive, -np.expm1(-pop.lam[cust] * window_weeks), 0.0)
    uplift = true_uplift(recency, spend_before, p0, config)
    baseline = (in_window_end - before).astype(np.int64)
    incremental = treated & (baseline == 0) & (rng.random(cust.shape[0]) < uplift / (1.0 - p0))

    # Incremental orders: a truncated exponential delay after the e-mail (mean 3 days).
    inc = cust[incremental]
    start = send_time[inc]
    room = send_day + c.window_days - start
    delay = -3.0 * np.log1p(-rng.random(inc.shape[0]) * -np.expm1(-room / 3.0))
    pref = pop.channel_pref[inc] * np.array([0.3, 1.0, 1.0])  # an e-mail drives online orders
    cdf = np.cumsum(pref, axis=1)
    channel = np.minimum((rng.random(inc.shape[0])[:, None] * cdf[:, -1:] > cdf).sum(axis=1), 2)
    time = place_in_day(rng, start + delay, channel, pop.city[inc], offsets)
    early = time <= start
    time[early] = start[early] + (np.floor(start[early]) + 1.0 - start[early]) * 0.5
    time = np.minimum(time, send_day + c.window_days - 1e-6)
    inc_orders = Orders(
        customer=inc,
        time=time,
        value=draw_order_values(rng, pop.nu[inc], config),
        channel=channel.astype(np.int64),
        kind=np.full(inc.shape[0], INCREMENTAL, dtype=np.int64),
    )

    # Messages to the treated; buyers it won over certainly opened and clicked it.
    tc = cust[treated]
    t_send = send_time[tc]
    won = incremental[treated]
    inc_time = np.full(n, np.inf)
    inc_time[inc] = time
    open_p = np.where(alive[treated], min(1.0, c.open_rate * 1.3), c.open_rate * 0.6)
    opened = won | (rng.random(tc.shape[0]) < open_p)
    clicked = won | (opened & (rng.random(tc.shape[0]) < c.click_rate))
    gap = np.where(
        won,
        (inc_time[tc] - t_send) * rng.uniform(0.1, 0.8, tc.shape[0]),
        rng.exponential(0.25, tc.shape[0]),
    )
    t_open = t_send + gap
    t_click = t_open + rng.exponential(2.0 / 1440.0, tc.shape[0])
    t_click = np.where(won, np.minimum(t_click, inc_time[tc] - 1.0 / 1440.0), t_click)
    t_click = np.maximum(t_click, t_open)

    # A few recipients unsubscribe through the e-mail's link: consent ends within a day or so.
    unsub = tc[(rng.random(tc.shape[0]) < c.unsubscribe_rate) & ~won]
    if unsub.size:
        leave = send_time[unsub] + rng.exponential(1.0, unsub.shape[0])
        consents.granted_until[unsub, 0] = np.minimum(consents.granted_until[unsub, 0], leave)

    return CampaignResult(
        send_day=send_day,
        customer=cust,
        treated=treated,
        assigned_at=send_time[cust],
        alive_at_send=alive,
        baseline_probability=p0,
        true_uplift=uplift,
        baseline_orders=baseline,
        incremental=incremental,
        recency_days=recency,
        spend_before=spend_before,
        incremental_orders=inc_orders,
        message_customer=np.concatenate([tc, tc[opened], tc[clicked]]),
        message_time=np.concatenate([t_send, t_open[opened], t_click[clicked]]),
        message_name=np.concatenate(
            [np.zeros(tc.shape[0]), np.ones(int(opened.sum())), np.full(int(clicked.sum()), 2)]
        ).astype(np.int64),
    )
