"""The demo company's customers: who they are, where they live, and their hidden tastes.

Every customer gets observable traits (demographics, city, language, acquisition channel,
contact details) and latent ones the platform must infer: the BG/NBD purchase rate and dropout
probability, the Gamma-Gamma spend rate, Dirichlet category tastes and channel preferences.
Observable traits are drawn *given* the latent rate's quantile (a copula), so the planted
marginals stay exactly Gamma/Beta while channels and traits still carry signal about value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import gammainc

from cvm.core.contracts import CUSTOMERS
from cvm.demo import geography as geo
from cvm.demo.arrow_columns import (
    assemble,
    concat_text,
    dates,
    json_objects,
    numbers_as_text,
    padded_ids,
    pick,
    timestamps,
    with_nulls,
)
from cvm.demo.catalogue import CATEGORIES
from cvm.demo.config import DemoConfig
from cvm.demo.names import (
    FIRST_ASCII,
    FIRST_DISPLAY,
    LAST_ASCII,
    LAST_DISPLAY,
    LOCALES,
    draw_names,
)

ORDER_CHANNELS: tuple[str, ...] = ("store", "web", "app")
ACQUISITION_CHANNELS: tuple[str, ...] = (
    "search", "social", "referral", "email", "display", "organic", "store",
)  # fmt: skip
_ACQ_BASE = np.array([0.25, 0.20, 0.10, 0.05, 0.10, 0.15, 0.15])
# How each acquisition channel's odds move with the customer's purchase-rate quantile: friends'
# referrals and walk-ins bring loyal buyers, social and display ads bring flighty ones.
_ACQ_TILT = np.array([0.0, -0.7, 0.9, 0.2, -0.7, 0.4, 0.4])
GENDERS: tuple[str, ...] = ("female", "male", "other")
_EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.org", "example.net", "mail.example", "post.example",
)  # fmt: skip
DEVICES: tuple[str, ...] = ("ios", "android")
# A customer "has the app" when at least this share of their orders would go through it.
APP_USER_SHARE = 0.15


@dataclass
class Population:
    """One chunk of customers as parallel arrays (index ``i`` is the chunk-local customer)."""

    number: npt.NDArray[np.int64]  # global 1-based customer number: C00000042
    city: npt.NDArray[np.int64]
    language: npt.NDArray[np.int64]
    gender: npt.NDArray[np.int64]  # index into GENDERS, -1 when undisclosed
    age: npt.NDArray[np.float64]
    signup_day: npt.NDArray[np.int64]
    acquisition: npt.NDArray[np.int64]
    channel_pref: npt.NDArray[np.float64]  # (n, 3) store/web/app
    affinity: npt.NDArray[np.float64]  # (n, categories)
    parent: npt.NDArray[np.bool_]
    lam: npt.NDArray[np.float64]  # BG/NBD purchase rate per week
    p: npt.NDArray[np.float64]  # BG/NBD dropout probability after each repeat purchase
    nu: npt.NDArray[np.float64]  # Gamma-Gamma rate: mean order value is p_spend / nu
    home_store: npt.NDArray[np.int64]
    first_name: npt.NDArray[np.int64]
    last_name: npt.NDArray[np.int64]
    latitude: npt.NDArray[np.float64]
    longitude: npt.NDArray[np.float64]
    birth_known: npt.NDArray[np.bool_]
    loyalty: npt.NDArray[np.bool_]
    device: npt.NDArray[np.int64]  # index into DEVICES, -1 without the app

    @property
    def size(self) -> int:
        return int(self.number.shape[0])

    @cached_property
    def ids(self) -> pa.Array:
        """Customer ids of the chunk (``C`` + 8 digits), built once."""
        return customer_ids(self.number)

    def ids_of(self, index: npt.NDArray[np.int64]) -> pa.Array:
        """Customer ids for chunk-local indices (a gather, cheaper than re-formatting)."""
        return pc.take(self.ids, pa.array(index, pa.int64()))

    @property
    def app_user(self) -> npt.NDArray[np.bool_]:
        return self.device >= 0


def acquisition_day_cdf(start: date, span_days: int, config: DemoConfig) -> npt.NDArray[np.float64]:
    """CDF over days of the acquisition date: linear growth plus a November-December peak."""
    d = np.arange(span_days, dtype=np.float64)
    trend = 1.0 + (config.acquisition_growth - 1.0) * d / max(span_days - 1, 1)
    month = (np.datetime64(start, "D") + d.astype("timedelta64[D]")).astype("datetime64[M]")
    month_of_year = month.astype(np.int64) % 12 + 1
    season = np.select(
        [month_of_year == 11, month_of_year == 12, month_of_year == 1], [0.6, 1.0, 0.2], 0.0
    )
    weight = trend * (1.0 + config.holiday_boost * season)
    cdf = np.cumsum(weight)
    return cdf / cdf[-1]


def categorical_rows(
    rng: np.random.Generator,
    prob: npt.NDArray[np.float64],
    row: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """One categorical draw per item, item ``j`` drawing from ``prob[row[j]]`` (default: row j).

    Inverse CDF over the rows' CDFs laid end to end (row ``i`` occupies (i, i + 1]), so a
    binary search serves every item without building an items x categories matrix.
    """
    n, k = prob.shape
    if row is None:
        row = np.arange(n, dtype=np.int64)
    cdf = np.cumsum(prob, axis=1)
    flat = (np.arange(n)[:, None] + cdf / cdf[:, -1:]).ravel()
    found = np.searchsorted(flat, row + rng.random(row.shape[0]), side="right")
    return np.minimum(found - row * k, k - 1).astype(np.int64)


def _dirichlet_rows(
    rng: np.random.Generator, alpha: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """A Dirichlet draw per row with per-row concentrations (normalised Gamma variates)."""
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)


def draw_population(
    rng: np.random.Generator,
    first_number: int,
    n: int,
    start: date,
    span_days: int,
    config: DemoConfig,
) -> Population:
    """Draw ``n`` customers numbered from ``first_number``."""
    bg, gg = config.bgnbd, config.spend
    lam = rng.gamma(bg.r, 1.0 / bg.alpha, n)  # numpy's Gamma takes a scale = 1 / rate
    p = rng.beta(bg.a, bg.b, n)
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    quantile = gammainc(bg.r, bg.alpha * lam)  # Gamma CDF of the customer's own rate

    city = geo.draw_cities(rng, n)
    language = geo.draw_languages(rng, city)
    gender = rng.choice(np.array([0, 1, 2, -1]), size=n, p=[0.53, 0.44, 0.01, 0.02])
    age = np.minimum(18.0 + rng.gamma(3.0, 7.0, n), 90.0)
    parent = rng.random(n) < np.where((age >= 27) & (age <= 50), 0.45, 0.08)
    signup_day = np.searchsorted(acquisition_day_cdf(start, span_days, config), rng.random(n))
    signup_day = np.minimum(signup_day, span_days - 1).astype(np.int64)

    logits = np.log(_ACQ_BASE)[None, :] + _ACQ_TILT[None, :] * (2.0 * quantile[:, None] - 1.0)
    acq_prob = np.exp(logits)
    acquisition = categorical_rows(rng, acq_prob)

    pref = np.tile(np.array([1.0, 1.0, 0.6]), (n, 1))
    young, old = age < 30, age > 55
    pref[young, 2] *= 2.5
    pref[young, 1] *= 1.2
    pref[old, 0] *= 2.0
    pref[old, 2] *= 0.3
    pref[acquisition == ACQUISITION_CHANNELS.index("store"), 0] *= 3.0
    pref[acquisition == ACQUISITION_CHANNELS.index("social"), 2] *= 1.5
    # Frequent buyers lean to the app (and the app makes buying easy): a mild tilt.
    pref[:, 2] *= 0.6 + 0.8 * quantile
    # Total concentration 4.5: every customer has a clear lean, few use one channel only.
    channel_pref = _dirichlet_rows(rng, 4.5 * pref / pref.sum(axis=1, keepdims=True))

    female_w = np.array([c.female for c in CATEGORIES])
    male_w = np.array([c.male for c in CATEGORIES])
    boost = np.array([c.parent_boost for c in CATEGORIES])
    taste = np.where(
        (gender == 0)[:, None],
        female_w,
        np.where((gender == 1)[:, None], male_w, (female_w + male_w) / 2),
    )
    taste = taste * np.where(parent[:, None], boost, 1.0)
    affinity = _dirichlet_rows(rng, 3.0 * taste / taste.sum(axis=1, keepdims=True))

    locale = np.array([LOCALES.index(c.names) for c in geo.CITIES])[city]
    female_name = (gender == 0) | ((gender != 1) & (rng.random(n) < 0.5))
    first_name, last_name = draw_names(rng, locale, female_name)
    home_store = geo.CITY_FIRST_STORE[city] + (rng.random(n) * geo.CITY_STORES[city]).astype(
        np.int64
    )
    latitude, longitude = geo.jitter_coordinates(rng, city)
    app_user = channel_pref[:, 2] >= APP_USER_SHARE
    english = np.isin(np.array([c.country for c in geo.CITIES])[city], ["GB", "US"])
    ios = rng.random(n) < np.where(english, 0.5, 0.3)
    return Population(
        number=np.arange(first_number, first_number + n, dtype=np.int64),
        city=city,
        language=language,
        gender=gender.astype(np.int64),
        age=age,
        signup_day=signup_day,
        acquisition=acquisition,
        channel_pref=channel_pref,
        affinity=affinity,
        parent=parent,
        lam=lam,
        p=p,
        nu=nu,
        home_store=home_store,
        first_name=first_name,
        last_name=last_name,
        latitude=latitude,
        longitude=longitude,
        birth_known=rng.random(n) >= 0.07,  # 7% never said
        loyalty=rng.random(n) < 0.25 + 0.4 * channel_pref[:, 0],  # store shoppers join
        device=np.where(app_user, np.where(ios, 0, 1), -1).astype(np.int64),
    )


def customer_ids(number: npt.NDArray[np.int64]) -> pa.Array:
    return padded_ids("C", number, 8)


def _phones(pop: Population) -> pa.Array:
    """Unique E.164 mobile numbers, from an affine bijection of the customer number.

    RU +79, GB +447 and DE +4915 take nine scrambled digits (unique below 10**9 customers);
    North American numbers take the city's area code, an exchange 200-999 and four digits
    (unique below 16 million customers: two area codes per city times 8 million lines).
    """
    country = np.array([c.country for c in geo.CITIES])[pop.city]
    prefix = np.select(
        [country == "RU", country == "GB", country == "DE"], ["+79", "+447", "+4915"], "+1"
    )
    nine = pc.utf8_lpad(
        numbers_as_text((pop.number * 7_919_113 + 40_123_457) % 1_000_000_000), 9, "0"
    )
    codes = [(c.area_codes or ("000",)) for c in geo.CITIES]
    second = (pop.number // 8_000_000) % 2 == 1
    area = np.where(
        second,
        np.array([c[-1] for c in codes])[pop.city],
        np.array([c[0] for c in codes])[pop.city],
    )
    line = 2_000_000 + (pop.number * 3_001 + 17) % 8_000_000
    us = concat_text(pa.array(area.tolist(), pa.string()), numbers_as_text(line))
    body = pc.if_else(pa.array(country == "US"), us, nine)
    return concat_text(pa.array(prefix.tolist(), pa.string()), body)


def customers_table(pop: Population, signup_time: npt.NDArray[np.float64], start: date) -> pa.Table:
    """The canonical `customers` rows of one chunk (``signup_time``: days since ``start``)."""
    first_ascii = pick(FIRST_ASCII, pop.first_name)
    last_ascii = pick(LAST_ASCII, pop.last_name)
    domain = pick(_EMAIL_DOMAINS, pop.number % len(_EMAIL_DOMAINS))
    # The customer number makes every address unique; the name makes it look like one.
    email = concat_text(first_ascii, ".", last_ascii, numbers_as_text(pop.number), "@", domain)
    signup_date = np.datetime64(start, "D") + pop.signup_day.astype("timedelta64[D]")
    birth = signup_date - np.round(pop.age * 365.25).astype("timedelta64[D]")
    cities = geo.CITIES
    traits = json_objects(
        [
            ("loyalty_member", pick(("false", "true"), pop.loyalty.astype(np.int64)), False),
            ("home_store", pick(geo.STORE_IDS, pop.home_store), True),
            # Pre-quoted so customers without the app get a JSON null.
            (
                "device",
                pick(('"ios"', '"android"', "null"), np.where(pop.device < 0, 2, pop.device)),
                False,
            ),
        ]
    )
    return assemble(
        CUSTOMERS,
        {
            "customer_id": pop.ids,
            "first_name": pick(FIRST_DISPLAY, pop.first_name),
            "last_name": pick(LAST_DISPLAY, pop.last_name),
            "email": email,
            "phone": _phones(pop),
            "birth_date": with_nulls(dates(birth), ~pop.birth_known),
            "gender": pick(GENDERS, pop.gender),
            "country": pick(tuple(c.country for c in cities), pop.city),
            "region": pick(tuple(c.region for c in cities), pop.city),
            "city": pick(tuple(c.name for c in cities), pop.city),
            "latitude": pa.array(pop.latitude),
            "longitude": pa.array(pop.longitude),
            "signup_date": timestamps(start, signup_time),
            "time_zone": pick(tuple(c.time_zone for c in cities), pop.city),
            "language": pick(geo.LANGUAGES, pop.language),
            "acquisition_channel": pick(ACQUISITION_CHANNELS, pop.acquisition),
            "traits": traits,
        },
    )
