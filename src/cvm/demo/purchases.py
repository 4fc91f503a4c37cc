"""Orders drawn from a known BG/NBD process with Gamma-Gamma order values.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way", sec. 3): while
active, a customer buys as a Poisson process with rate ``lambda``; after each *repeat* purchase
they become inactive with probability ``p``, so the number of repeat purchases before dropout is
``J ~ Geometric(p)`` on {1, 2, ...}. Over an observation span ``T`` the customer makes
``X = min(N, J)`` repeat purchases where ``N ~ Poisson(lambda T)``, and is still alive at the
end iff ``N < J``.

Given ``N``, Poisson event times are the order statistics of ``N`` uniforms on (0, T]; the first
``X`` of them follow from the Renyi representation ``U_(k) = S_k / S_(N+1)`` with ``S_k`` sums
of unit exponentials, and ``S_(N+1) - S_X ~ Gamma(N + 1 - X)``. So each customer needs only
``X`` exponentials and one Gamma draw: no Python loop per customer and no wasted draws.

Order values (Fader, Hardie & Lee 2005b, "RFM and CLV", sec. 4): ``z ~ Gamma(p, nu)`` with the
customer's ``nu``. The first order (the acquisition) is drawn from the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cvm.demo import geography as geo
from cvm.demo.config import DemoConfig
from cvm.demo.population import Population, categorical_rows

FIRST, REPEAT, INCREMENTAL = 0, 1, 2  # order kinds


@dataclass
class Orders:
    """Orders of one chunk as parallel arrays, sorted by (customer, time)."""

    customer: npt.NDArray[np.int64]  # chunk-local customer index
    time: npt.NDArray[np.float64]  # days since the period start, UTC
    value: npt.NDArray[np.float64]  # order value drawn from Gamma-Gamma (before rounding)
    channel: npt.NDArray[np.int64]  # index into population.ORDER_CHANNELS
    kind: npt.NDArray[np.int64]

    @property
    def size(self) -> int:
        return int(self.customer.shape[0])


@dataclass
class PurchaseHistory:
    """Per-customer outcome of the simulation (the BG/NBD ground truth of the chunk)."""

    signup_time: npt.NDArray[np.float64]  # days since start: the first order
    dropout_after: npt.NDArray[np.int64]  # J: repeat purchases after which the customer leaves
    repeat_purchases: npt.NDArray[np.int64]  # X(T): repeat purchases in the observation
    alive_at_end: npt.NDArray[np.bool_]
    orders: Orders


def segment_cumsum(
    values: npt.NDArray[np.float64], counts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Cumulative sums restarting at every segment (segments laid out back to back)."""
    total = np.cumsum(values)
    ends = np.cumsum(counts)
    before = np.concatenate([[0.0], total])[ends - counts]
    return total - np.repeat(before, counts)


def place_in_day(
    rng: np.random.Generator,
    time: npt.NDArray[np.float64],
    channel: npt.NDArray[np.int64],
    city: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Keep each order's UTC day, redraw its time of day from the channel's local-hour profile.

    Keeping the UTC day keeps every day-level count of the simulated process exact (the
    campaign window is counted in whole UTC days), while the hour looks like real shopping.
    """
    day = np.floor(time).astype(np.int64)
    local = geo.draw_local_hours(rng, channel) / 24.0
    utc_fraction = np.mod(
        local - offsets[geo.CITY_ZONE[city], np.clip(day, 0, offsets.shape[1] - 1)], 1.0
    )
    return np.asarray(day + utc_fraction, dtype=np.float64)


def simulate_purchases(
    rng: np.random.Generator,
    pop: Population,
    span_days: int,
    offsets: npt.NDArray[np.float64],
    config: DemoConfig,
) -> PurchaseHistory:
    """First and repeat orders of every customer over [signup, span), with values and channels."""
    n = pop.size
    first_channel = categorical_rows(rng, pop.channel_pref)
    signup_time = place_in_day(
        rng, pop.signup_day.astype(np.float64), first_channel, pop.city, offsets
    )
    exposure = span_days - signup_time  # T in days
    big_n = rng.poisson(pop.lam * exposure / 7.0)
    dropout_after = rng.geometric(pop.p)
    x = np.minimum(big_n, dropout_after).astype(np.int64)
    alive = big_n < dropout_after

    owner = np.repeat(np.arange(n, dtype=np.int64), x)
    partial = segment_cumsum(rng.exponential(1.0, int(x.sum())), x)
    last = np.zeros(n)
    has = x > 0
    last[has] = partial[np.cumsum(x)[has] - 1]
    # S_(N+1) = S_X + Gamma(N + 1 - X): the sum of the exponentials we never needed to draw.
    total = last + rng.gamma((big_n + 1 - x).astype(np.float64))
    repeat_time = signup_time[owner] + partial / total[owner] * exposure[owner]

    repeat_channel = categorical_rows(rng, pop.channel_pref, owner)
    repeat_time = place_in_day(rng, repeat_time, repeat_channel, pop.city[owner], offsets)
    # A repeat order on the signup day must not come before the signup: move it to halfway
    # between the signup and midnight (still the same UTC day).
    early = repeat_time <= signup_time[owner]
    st = signup_time[owner][early]
    repeat_time[early] = st + (np.floor(st) + 1.0 - st) * rng.uniform(0.05, 0.95, st.shape[0])

    customer = np.concatenate([np.arange(n, dtype=np.int64), owner])
    time = np.concatenate([signup_time, repeat_time])
    order = np.lexsort((time, customer))
    customer, time = customer[order], time[order]
    channel = np.concatenate([first_channel, repeat_channel])[order]
    kind = np.concatenate([np.full(n, FIRST), np.full(owner.shape[0], REPEAT)])[order]
    value = draw_order_values(rng, pop.nu[customer], config)
    return PurchaseHistory(
        signup_time=signup_time,
        dropout_after=dropout_after.astype(np.int64),
        repeat_purchases=x,
        alive_at_end=alive,
        orders=Orders(
            customer=customer, time=time, value=value, channel=channel, kind=kind.astype(np.int64)
        ),
    )


def draw_order_values(
    rng: np.random.Generator, nu: npt.NDArray[np.float64], config: DemoConfig
) -> npt.NDArray[np.float64]:
    """Gamma-Gamma order values: ``z ~ Gamma(shape=p, rate=nu)``, at least one cent."""
    return np.maximum(rng.gamma(config.spend.p, 1.0 / nu), 0.01)


def expected_purchases_alive(
    lam: npt.NDArray[np.float64], p: npt.NDArray[np.float64], weeks: float
) -> npt.NDArray[np.float64]:
    """E[X(t) | lambda, p, alive now] = (1 - exp(-lambda p t)) / p.

    Fader, Hardie & Lee (2005), sec. 3 (the individual-level mean behind eq. 9): with ``J``
    geometric and memoryless, sum_k P(N(t) >= k) (1-p)^(k-1) integrates to this closed form.
    """
    return -np.expm1(-lam * p * weeks) / p


def simulate_future(
    rng: np.random.Generator,
    pop: Population,
    alive: npt.NDArray[np.bool_],
    config: DemoConfig,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One realised future: repeat purchases and spend in the ``future_weeks`` after the end."""
    weeks = config.future_weeks
    count = np.minimum(rng.poisson(pop.lam * weeks), rng.geometric(pop.p)) * alive
    # A sum of k Gamma(p, nu) order values is Gamma(k p, nu).
    shape = np.maximum(count * config.spend.p, 1e-9)
    spend = np.where(count > 0, rng.gamma(shape, 1.0 / pop.nu), 0.0)
    return count.astype(np.int64), spend
