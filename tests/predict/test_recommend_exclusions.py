"""Property test: the eligibility rules hold for every recommender and every eligibility set.

For random stock flags, repeatable flags, global and per-customer ineligible sets, and with or
without `exclude_owned`, no recommendation is out of stock, owned and non-repeatable (or owned
at all with `exclude_owned`), or ineligible; and every customer gets exactly
min(n, number of eligible products) products, so the rules never cost a slot either.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvm.predict.recommend import (
    BlendRecommender,
    ImplicitALSRecommender,
    ItemCoOccurrenceRecommender,
    OwnHistoryRecommender,
    PopularityRecommender,
    Recommender,
    simulate_baskets,
)

N_PRODUCTS = 40
# Enough products per customer that some rows land in the widest tier (over 16 blocked).
SIM = simulate_baskets(
    n_customers=150, n_products=N_PRODUCTS, n_categories=4, purchases_per_customer=15, seed=5
)
PRODUCT_IDS = SIM.products["product_id"].tolist()
CUSTOMERS = sorted(SIM.interactions["customer_id"].unique())[:60] + ["cold-1", "cold-2"]


@cache
def _model(name: str) -> Recommender:
    model: Recommender = {
        "popularity": PopularityRecommender(),
        "own_history": OwnHistoryRecommender(),
        "cooccurrence": ItemCoOccurrenceRecommender(neighbours=10, min_support=1),
        "als": ImplicitALSRecommender(factors=8, iterations=3),
        "blend": BlendRecommender(
            [(ImplicitALSRecommender(factors=8, iterations=3), 1.0), (OwnHistoryRecommender(), 1.0)]
        ),
    }[name]
    return model.fit(SIM.interactions, SIM.products)


def _owned() -> dict[str, set[str]]:
    bought = SIM.interactions[SIM.interactions["quantity"] > 0]
    return bought.groupby("customer_id")["product_id"].agg(set).to_dict()


OWNED = _owned()

flags = st.lists(st.booleans(), min_size=N_PRODUCTS, max_size=N_PRODUCTS)
product = st.sampled_from(PRODUCT_IDS)


@pytest.mark.parametrize("name", ["popularity", "own_history", "cooccurrence", "als", "blend"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    in_stock=flags,
    repeatable=flags,
    banned=st.sets(product, max_size=10),
    pairs=st.lists(st.tuples(st.sampled_from(CUSTOMERS), product), max_size=60),
    exclude_owned=st.booleans(),
    n=st.integers(1, 12),
    batch_size=st.sampled_from([7, 1000]),
)
def test_no_ineligible_product_is_ever_recommended(
    name: str,
    in_stock: list[bool],
    repeatable: list[bool],
    banned: set[str],
    pairs: list[tuple[str, str]],
    exclude_owned: bool,
    n: int,
    batch_size: int,
) -> None:
    catalogue = SIM.products.assign(in_stock=in_stock, repeatable=repeatable)
    exclude = pd.DataFrame(
        {
            "customer_id": [c for c, _ in pairs] + [None] * len(banned),
            "product_id": [p for _, p in pairs] + sorted(banned),
        }
    )
    recs = _model(name).recommend(
        CUSTOMERS,
        n=n,
        exclude=exclude,
        products=catalogue,
        exclude_owned=exclude_owned,
        batch_size=batch_size,
    )
    stocked = {p for p, ok in zip(PRODUCT_IDS, in_stock, strict=True) if ok}
    durable = {p for p, again in zip(PRODUCT_IDS, repeatable, strict=True) if not again}
    per_customer: dict[str, set[str]] = {}
    for customer, item in pairs:
        per_customer.setdefault(customer, set()).add(item)
    got = recs.groupby("customer_id")["product_id"].agg(list).to_dict()
    for customer in CUSTOMERS:
        owned = OWNED.get(customer, set())
        blocked = banned | per_customer.get(customer, set())
        blocked |= owned if exclude_owned else owned & durable
        eligible = stocked - blocked
        offered = got.get(customer, [])
        assert set(offered) <= eligible, (customer, set(offered) - eligible)
        assert len(offered) == len(set(offered)) == min(n, len(eligible))
