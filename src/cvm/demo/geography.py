"""Where the demo company's customers live: cities, stores, time zones and local clocks.

Customers are spread over a handful of real cities in four countries. Each city carries its
IANA time zone so events and orders can follow local shopping hours and still be stored in
UTC, as the contracts require (daylight saving time is honoured day by day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class City:
    name: str
    region: str
    country: str
    latitude: float
    longitude: float
    time_zone: str
    weight: float
    stores: int
    code: str
    # Languages spoken by customers here and their shares (BCP 47 tags).
    languages: tuple[tuple[str, float], ...]
    # `names` picks the name list (see cvm.demo.names); area codes only matter for +1 numbers.
    names: str
    area_codes: tuple[str, ...] = ()


CITIES: tuple[City, ...] = (
    City("Moscow", "Moscow", "RU", 55.7558, 37.6173, "Europe/Moscow", 0.22, 3, "MOW",
         (("ru", 0.95), ("en", 0.05)), "ru"),
    City("Saint Petersburg", "Saint Petersburg", "RU", 59.9343, 30.3351, "Europe/Moscow", 0.11, 2,
         "LED", (("ru", 0.96), ("en", 0.04)), "ru"),
    City("Kazan", "Tatarstan", "RU", 55.7963, 49.1088, "Europe/Moscow", 0.05, 1, "KZN",
         (("ru", 0.97), ("en", 0.03)), "ru"),
    City("Yekaterinburg", "Sverdlovsk Oblast", "RU", 56.8389, 60.6057, "Asia/Yekaterinburg",
         0.04, 1, "SVX", (("ru", 0.98), ("en", 0.02)), "ru"),
    City("Novosibirsk", "Novosibirsk Oblast", "RU", 55.0084, 82.9357, "Asia/Novosibirsk", 0.03,
         1, "OVB", (("ru", 0.98), ("en", 0.02)), "ru"),
    City("London", "England", "GB", 51.5074, -0.1278, "Europe/London", 0.14, 2, "LON",
         (("en", 0.97), ("ru", 0.03)), "en"),
    City("Manchester", "England", "GB", 53.4808, -2.2426, "Europe/London", 0.04, 1, "MAN",
         (("en", 1.0),), "en"),
    City("Berlin", "Berlin", "DE", 52.5200, 13.4050, "Europe/Berlin", 0.09, 2, "BER",
         (("de", 0.9), ("en", 0.1)), "de"),
    City("Munich", "Bavaria", "DE", 48.1351, 11.5820, "Europe/Berlin", 0.04, 1, "MUC",
         (("de", 0.93), ("en", 0.07)), "de"),
    City("New York", "New York", "US", 40.7128, -74.0060, "America/New_York", 0.13, 2, "NYC",
         (("en", 0.88), ("es", 0.12)), "en", ("212", "917")),
    City("Chicago", "Illinois", "US", 41.8781, -87.6298, "America/Chicago", 0.05, 1, "CHI",
         (("en", 0.9), ("es", 0.1)), "en", ("312", "773")),
    City("Los Angeles", "California", "US", 34.0522, -118.2437, "America/Los_Angeles", 0.06, 1,
         "LAX", (("en", 0.8), ("es", 0.2)), "en", ("213", "310")),
)  # fmt: skip

CITY_WEIGHTS = np.array([c.weight for c in CITIES]) / sum(c.weight for c in CITIES)
TIME_ZONES: tuple[str, ...] = tuple(sorted({c.time_zone for c in CITIES}))
CITY_ZONE = np.array([TIME_ZONES.index(c.time_zone) for c in CITIES], dtype=np.int64)
CITY_STORES = np.array([c.stores for c in CITIES], dtype=np.int64)
CITY_FIRST_STORE = np.concatenate([[0], np.cumsum(CITY_STORES)[:-1]]).astype(np.int64)
STORE_IDS: tuple[str, ...] = tuple(
    f"S-{c.code}-{k + 1:02d}" for c in CITIES for k in range(c.stores)
)
LANGUAGES: tuple[str, ...] = tuple(sorted({lang for c in CITIES for lang, _ in c.languages}))

# Share of orders by local hour (0..23): stores open 10-21, web peaks in the evening, the app
# at commute and lunch times as well. Rows: store, web, app (cvm.demo.baskets.CHANNELS order).
HOURLY = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 8, 9, 8, 7, 7, 8, 10, 10, 8, 5, 0, 0],
        [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 4, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 9, 9, 7, 3],
        [1, 0.5, 0.3, 0.2, 0.2, 0.5, 2, 6, 7, 4, 3, 4, 7, 6, 4, 4, 4, 5, 6, 7, 8, 8, 6, 3],
    ],
    dtype=np.float64,
)
HOURLY_CDF: npt.NDArray[np.float64] = np.cumsum(HOURLY / HOURLY.sum(axis=1, keepdims=True), axis=1)


@lru_cache(maxsize=8)
def zone_offsets(start: date, days: int) -> npt.NDArray[np.float64]:
    """UTC offset in days of every time zone on every day ``start + d`` (zones x days).

    Read at noon UTC, so a day keeps one offset even when DST switches at night.
    """
    offsets = np.empty((len(TIME_ZONES), days), dtype=np.float64)
    base = datetime(start.year, start.month, start.day, 12, tzinfo=UTC)
    for z, name in enumerate(TIME_ZONES):
        zone = ZoneInfo(name)
        for d in range(days):
            delta = (base + timedelta(days=d)).astimezone(zone).utcoffset()
            offsets[z, d] = (delta.total_seconds() if delta else 0.0) / 86400.0
    offsets.setflags(write=False)
    return offsets


def local_clock_to_utc(
    day: npt.NDArray[np.int64],
    hour_fraction: npt.NDArray[np.float64],
    city: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Days since the period start (UTC) of a local wall-clock time in each customer's city."""
    day = np.clip(day, 0, offsets.shape[1] - 1)
    return day + hour_fraction / 24.0 - offsets[CITY_ZONE[city], day]


def draw_local_hours(
    rng: np.random.Generator, channel: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """A local time of day in hours (0..24) for each order, shaped by its channel's profile."""
    u = rng.random(int(channel.shape[0]))
    hour = (u[:, None] > HOURLY_CDF[channel]).sum(axis=1)
    return np.minimum(hour, 23) + rng.random(channel.shape[0])


def draw_cities(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    return rng.choice(len(CITIES), size=n, p=CITY_WEIGHTS).astype(np.int64)


def draw_languages(rng: np.random.Generator, city: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Index into LANGUAGES: each city's language mix."""
    table = np.zeros((len(CITIES), len(LANGUAGES)))
    for i, c in enumerate(CITIES):
        for lang, share in c.languages:
            table[i, LANGUAGES.index(lang)] = share
    cdf: npt.NDArray[np.float64] = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(int(city.shape[0]))
    return np.minimum((u[:, None] > cdf[city]).sum(axis=1), len(LANGUAGES) - 1).astype(np.int64)


def jitter_coordinates(
    rng: np.random.Generator, city: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Home coordinates scattered ~10 km around the city centre (rounded to ~100 m)."""
    lat = np.array([c.latitude for c in CITIES])[city] + rng.normal(0, 0.08, city.shape[0])
    lon = np.array([c.longitude for c in CITIES])[city] + rng.normal(0, 0.12, city.shape[0])
    return np.round(lat, 4), np.round(lon, 4)
