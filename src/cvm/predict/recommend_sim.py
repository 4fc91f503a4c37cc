"""A purchase simulator with known structure, to check that recommenders learn something.

The generative story (all randomness from `seed`):

* products belong to `n_categories` categories (product j is in category j mod C); within a
  category, product appeal w_j ~ LogNormal(0, 1); a share `repeatable_share` of products is
  repeatable (consumables), the rest are bought once (durables); `in_stock_share` are in stock;
* every product j has `n_complements` complements drawn uniformly (not by appeal, so
  popularity cannot find them): all but one in j's own category, one in the next category;
* customer u has category affinities theta_u ~ Dirichlet(`affinity_concentration`), a
  purchase count N_u = max(1, Poisson(lambda_u)) with lambda_u ~ Gamma(2, mean / 2), and
  purchase times uniform over `days`;
* at each purchase after the first, with probability `repeat_share` u re-buys the most recent
  repeatable product they own (if any); otherwise with probability `complement_share` u buys
  a random complement of the previous purchase; otherwise u draws a category from theta_u
  and a product in it with probability proportional to appeal;
* a durable bought a second time is dropped (a customer owns it once).

So after a time split, what a customer buys next is predictable from (a) their categories and
(b) the complements of what they already own; neither is visible to popularity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd


@dataclass(frozen=True)
class SimulatedBaskets:
    """Simulated purchases with the ground truth that generated them."""

    interactions: pd.DataFrame  # customer_id, product_id, quantity, timestamp
    products: pd.DataFrame  # product_id, category, price, repeatable, in_stock
    affinity: npt.NDArray[np.float64]  # customers x categories, rows sum to 1
    complements: npt.NDArray[np.int64]  # products x n_complements, product positions


def simulate_baskets(
    n_customers: int = 2_000,
    n_products: int = 200,
    n_categories: int = 10,
    purchases_per_customer: float = 12.0,
    *,
    complement_share: float = 0.4,
    repeat_share: float = 0.2,
    repeatable_share: float = 0.4,
    in_stock_share: float = 0.95,
    n_complements: int = 3,
    affinity_concentration: float = 0.3,
    days: int = 365,
    start: str = "2024-01-01",
    seed: int = 0,
) -> SimulatedBaskets:
    """Simulate purchases following the module's generative story (vectorised over customers)."""
    rng = np.random.default_rng(seed)
    category = np.arange(n_products) % n_categories
    appeal = rng.lognormal(0.0, 1.0, n_products)
    repeatable = rng.random(n_products) < repeatable_share
    in_stock = rng.random(n_products) < in_stock_share
    price = np.round(rng.lognormal(3.0, 0.8, n_products), 2)

    members = [np.flatnonzero(category == c) for c in range(n_categories)]
    complements = np.empty((n_products, n_complements), dtype=np.int64)
    for j in range(n_products):
        own = members[category[j]][members[category[j]] != j]
        partner = members[(category[j] + 1) % n_categories]
        complements[j, :-1] = rng.choice(own, n_complements - 1, replace=False)
        complements[j, -1] = rng.choice(partner)

    # Products grouped by category with a cumulative appeal "c + cdf", so one searchsorted of
    # c + uniform picks a product of category c with probability proportional to appeal.
    by_category = np.concatenate(members)
    cdf = np.concatenate(
        [c + np.cumsum(appeal[m]) / appeal[m].sum() for c, m in enumerate(members)]
    )

    affinity = rng.dirichlet(np.full(n_categories, affinity_concentration), n_customers)
    cum_affinity = np.cumsum(affinity, axis=1)
    rate = rng.gamma(2.0, purchases_per_customer / 2.0, n_customers)
    counts = np.maximum(1, rng.poisson(rate))
    times = [np.sort(rng.random(k)) for k in counts]

    bought = np.full((n_customers, int(counts.max())), -1, dtype=np.int64)
    last_repeatable = np.full(n_customers, -1, dtype=np.int64)
    for step in range(int(counts.max())):
        active = np.flatnonzero(counts > step)
        draw = rng.random((3, active.size))
        cats = (cum_affinity[active] < draw[0][:, None]).sum(axis=1).clip(max=n_categories - 1)
        choice = by_category[np.searchsorted(cdf, cats + rng.random(active.size), side="right")]
        if step > 0:
            previous = bought[active, step - 1]
            complement = complements[previous, rng.integers(0, n_complements, active.size)]
            choice = np.where(draw[1] < complement_share, complement, choice)
            rebuy = (draw[2] < repeat_share) & (last_repeatable[active] >= 0)
            choice = np.where(rebuy, last_repeatable[active], choice)
        bought[active, step] = choice
        last_repeatable[active] = np.where(repeatable[choice], choice, last_repeatable[active])

    customer = np.repeat(np.arange(n_customers), counts)
    product = bought[bought >= 0]
    moment = np.concatenate(times) * days
    quantity = np.where(repeatable[product], 1 + rng.poisson(0.3, product.size), 1)
    frame = pd.DataFrame({"customer": customer, "product": product, "moment": moment})
    durable_again = frame.duplicated(["customer", "product"]) & ~repeatable[product]
    keep = ~durable_again.to_numpy()
    interactions = pd.DataFrame(
        {
            "customer_id": pd.Series(customer[keep]).map("C{:06d}".format),
            "product_id": pd.Series(product[keep]).map("P{:05d}".format),
            "quantity": quantity[keep],
            "timestamp": pd.Timestamp(start) + pd.to_timedelta(moment[keep], unit="D"),
        }
    )
    products = pd.DataFrame(
        {
            "product_id": [f"P{j:05d}" for j in range(n_products)],
            "category": [f"cat{c:02d}" for c in category],
            "price": price,
            "repeatable": repeatable,
            "in_stock": in_stock,
        }
    )
    return SimulatedBaskets(interactions, products, affinity, complements)
