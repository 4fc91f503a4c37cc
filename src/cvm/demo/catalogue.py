"""The demo retailer's catalogue: categories with complements, and products with prices.

Structure a recommender can learn is planted here: categories have different appeal by sex and
parenthood (customers draw their own Dirichlet tastes around those means, see
`cvm.demo.population`), baskets pull in complements (shoes -> sports, kids -> toys), and
repeatable products (grocery, beauty, pet supplies) are bought again by the same customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cvm.core.contracts import PRODUCTS
from cvm.demo.arrow_columns import assemble, money, padded_ids


@dataclass(frozen=True)
class Category:
    name: str
    median_price: float
    price_log_sd: float
    margin: float
    repeatable: bool
    apparel: bool  # apparel and shoes are returned more often
    female: float  # mean taste of women, men and parents (relative weights)
    male: float
    parent_boost: float
    assortment: float  # share of the catalogue
    nouns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("womens_clothing", 39, 0.55, 0.55, False, True, 3.0, 0.2, 1.0, 0.14,
             ("Dress", "Blouse", "Skirt", "Cardigan", "Jeans", "Coat", "T-Shirt", "Jumper")),
    Category("mens_clothing", 42, 0.55, 0.52, False, True, 0.3, 2.6, 1.0, 0.11,
             ("Shirt", "Chinos", "Jacket", "Polo", "Jeans", "Hoodie", "Suit", "T-Shirt")),
    Category("kids_clothing", 22, 0.45, 0.50, False, True, 0.4, 0.3, 6.0, 0.07,
             ("Romper", "Kids Jacket", "Pyjamas", "Kids Jeans", "School Shirt", "Onesie")),
    Category("shoes", 75, 0.50, 0.48, False, True, 1.3, 1.1, 1.0, 0.08,
             ("Sneakers", "Boots", "Sandals", "Loafers", "Running Shoes", "Slippers")),
    Category("accessories", 25, 0.65, 0.60, False, False, 1.2, 0.6, 1.0, 0.07,
             ("Scarf", "Belt", "Handbag", "Wallet", "Sunglasses", "Watch", "Backpack")),
    Category("beauty", 18, 0.60, 0.62, True, False, 2.2, 0.4, 1.0, 0.09,
             ("Face Cream", "Shampoo", "Lipstick", "Perfume", "Shower Gel", "Serum")),
    Category("home", 30, 0.75, 0.45, False, False, 1.0, 0.8, 1.5, 0.09,
             ("Towel Set", "Candle", "Mug", "Cushion", "Bed Linen", "Vase", "Lamp")),
    Category("electronics", 90, 0.90, 0.18, False, False, 0.5, 1.6, 1.0, 0.07,
             ("Headphones", "Charger", "Speaker", "Smartwatch", "Power Bank", "Keyboard")),
    Category("sports", 40, 0.70, 0.40, False, False, 0.7, 1.2, 1.0, 0.07,
             ("Yoga Mat", "Dumbbells", "Water Bottle", "Sports Bra", "Track Pants", "Ball")),
    Category("books", 14, 0.40, 0.35, False, False, 0.9, 0.7, 1.3, 0.06,
             ("Novel", "Cookbook", "Travel Guide", "Biography", "Picture Book", "Atlas")),
    Category("toys", 24, 0.70, 0.45, False, False, 0.2, 0.2, 7.0, 0.05,
             ("Building Set", "Puzzle", "Doll", "Toy Car", "Board Game", "Plush Bear")),
    Category("grocery", 5, 0.60, 0.25, True, False, 1.3, 1.3, 1.5, 0.07,
             ("Coffee", "Tea", "Olive Oil", "Chocolate", "Pasta", "Granola", "Honey")),
    Category("pet_supplies", 16, 0.60, 0.35, True, False, 0.5, 0.5, 1.0, 0.03,
             ("Dog Food", "Cat Food", "Cat Litter", "Pet Toy", "Dog Treats", "Pet Bed")),
)  # fmt: skip

CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
N_CATEGORIES = len(CATEGORIES)

# Complements: which categories a basket pulls in after a line of the row's category, with
# relative weights. Rows are normalised into probabilities below.
_COMPLEMENTS: dict[str, dict[str, float]] = {
    "womens_clothing": {"accessories": 3, "shoes": 3, "beauty": 2},
    "mens_clothing": {"shoes": 3, "accessories": 2},
    "kids_clothing": {"toys": 4, "books": 1},
    "shoes": {"sports": 3, "accessories": 1},
    "accessories": {"womens_clothing": 2, "mens_clothing": 1},
    "beauty": {"womens_clothing": 1, "accessories": 1, "home": 1},
    "home": {"grocery": 2, "books": 1},
    "electronics": {"accessories": 2, "sports": 1},
    "sports": {"shoes": 3, "grocery": 1},
    "books": {"toys": 1, "home": 1},
    "toys": {"kids_clothing": 3, "books": 2},
    "grocery": {"pet_supplies": 2, "home": 1},
    "pet_supplies": {"grocery": 3},
}


def complement_matrix() -> npt.NDArray[np.float64]:
    """Row-stochastic matrix: P(next line's category | previous line's category, complement)."""
    mat = np.zeros((N_CATEGORIES, N_CATEGORIES))
    for src, targets in _COMPLEMENTS.items():
        for dst, weight in targets.items():
            mat[CATEGORY_NAMES.index(src), CATEGORY_NAMES.index(dst)] = weight
    return mat / mat.sum(axis=1, keepdims=True)


COMPLEMENTS = complement_matrix()
REPEATABLE = np.array([c.repeatable for c in CATEGORIES])
APPAREL = np.array([c.apparel for c in CATEGORIES])

_ADJECTIVES = (
    "Classic", "Everyday", "Premium", "Organic", "Urban", "Nordic", "Essential", "Soft",
    "Vintage", "Smart", "Eco", "Bold",
)  # fmt: skip


@dataclass(frozen=True)
class Catalogue:
    """Products as arrays (for drawing baskets) plus the canonical `products` table."""

    category: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    popularity: npt.NDArray[np.float64]
    # Products sorted by (category, price): `by_price` holds product indices in that order,
    # `sort_key` the matching keys, `segment` each category's [start, end) in that order.
    by_price: npt.NDArray[np.int64]
    sort_key: npt.NDArray[np.float64]
    segment: npt.NDArray[np.int64]
    # In `by_price` order: category + cumulative popularity share within the category.
    popularity_key: npt.NDArray[np.float64]
    table: pa.Table

    @property
    def size(self) -> int:
        return int(self.category.shape[0])


def catalogue_size(n_customers: int, minimum: int, per_product: int, maximum: int) -> int:
    return int(min(maximum, max(minimum, n_customers // per_product)))


def _popularity_key(
    category: npt.NDArray[np.int64],
    popularity: npt.NDArray[np.float64],
    segment: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Category index plus the cumulative popularity share, in (c, c + 1] per category."""
    cum = np.cumsum(popularity)
    before = np.concatenate([[0.0], cum])[segment[:, 0]]
    total = cum[segment[:, 1] - 1] - before
    return np.asarray(category + (cum - before[category]) / total[category], dtype=np.float64)


def build_catalogue(rng: np.random.Generator, n_products: int) -> Catalogue:
    """Draw the products: category by assortment share, log-normal prices around the category
    median ending in .99, margins around the category margin, Zipf-like popularity."""
    shares = np.array([c.assortment for c in CATEGORIES])
    # Every category gets at least 3 products so a basket can always find one.
    counts = np.maximum(3, np.floor(shares / shares.sum() * n_products)).astype(np.int64)
    counts[0] += max(0, n_products - int(counts.sum()))
    category = np.repeat(np.arange(N_CATEGORIES), counts)
    rng.shuffle(category)
    n = category.shape[0]
    median = np.array([c.median_price for c in CATEGORIES])[category]
    sd = np.array([c.price_log_sd for c in CATEGORIES])[category]
    raw = median * np.exp(rng.normal(0.0, sd))
    price = np.where(raw < 2.0, np.round(raw * 2) / 2 + 0.49, np.floor(raw) + 0.99)
    margin = np.clip(
        np.array([c.margin for c in CATEGORIES])[category] + rng.normal(0, 0.06, n), 0.02, 0.9
    )
    rank = np.empty(n, dtype=np.int64)
    for c in range(N_CATEGORIES):  # a loop over 13 categories, not over rows
        members = np.flatnonzero(category == c)
        rank[members] = rng.permutation(members.shape[0])
    popularity = np.asarray(1.0 / (rank + 1.0) ** 0.9, dtype=np.float64)
    in_stock = rng.random(n) > 0.08

    noun_of = rng.integers(0, 1_000_000, n)
    adjective = rng.integers(0, len(_ADJECTIVES), n)
    names = [
        f"{_ADJECTIVES[adjective[i]]} {CATEGORIES[category[i]].nouns[noun_of[i] % len(CATEGORIES[category[i]].nouns)]}"
        for i in range(n)  # products number in the thousands at most
    ]
    sort_key = np.asarray(category * 1000.0 + np.log1p(price), dtype=np.float64)
    by_price = np.argsort(sort_key, kind="stable")
    segment = np.stack(
        [
            np.searchsorted(sort_key[by_price], np.arange(N_CATEGORIES) * 1000.0),
            np.searchsorted(sort_key[by_price], np.arange(1, N_CATEGORIES + 1) * 1000.0),
        ],
        axis=1,
    )
    table = assemble(
        PRODUCTS,
        {
            "product_id": padded_ids("P", np.arange(1, n + 1), 5),
            "name": pa.array(names, pa.string()),
            "category": pa.array([CATEGORY_NAMES[c] for c in category], pa.string()),
            "price": money(price),
            "margin": pa.array(np.round(margin, 4)),
            "repeatable": pa.array(REPEATABLE[category]),
            "in_stock": pa.array(in_stock),
        },
    )
    return Catalogue(
        category=category,
        price=price,
        popularity=popularity,
        by_price=by_price,
        sort_key=sort_key[by_price],
        segment=segment,
        popularity_key=_popularity_key(category[by_price], popularity[by_price], segment),
        table=table,
    )


def choose_products(
    rng: np.random.Generator,
    catalogue: Catalogue,
    category: npt.NDArray[np.int64],
    target_price: npt.NDArray[np.float64],
    spread: float = 0.05,
) -> npt.NDArray[np.int64]:
    """A product of ``category`` priced near ``target_price`` for each line.

    Within a category, products sorted by price tile (c, c + 1] in proportion to their
    popularity (`popularity_key`). The pick starts at the target price's place on that scale
    and moves by a normal jitter of ``spread`` (a share of the category's popularity), then
    takes the product covering that point: prices stay near the target and popular products
    are chosen in proportion to their popularity. Two binary searches per line.
    """
    log_target = np.log1p(np.maximum(target_price, 0.0))
    pos = np.searchsorted(catalogue.sort_key, category * 1000.0 + log_target)
    lo = catalogue.segment[category, 0]
    hi = catalogue.segment[category, 1] - 1
    start = np.where(pos > lo, catalogue.popularity_key[np.maximum(pos - 1, 0)], category)
    point = np.clip(start + rng.normal(0.0, spread, category.shape[0]), category, category + 1.0)
    found = np.searchsorted(catalogue.popularity_key, point, side="left")
    return catalogue.by_price[np.clip(found, lo, hi)]
