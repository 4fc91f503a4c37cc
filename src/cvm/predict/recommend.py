"""Next-best-product recommendations: cross-sell (products new to the customer) and up-sell or
replenishment (products bought before and bought again).

Every recommender has one interface (scikit-learn's estimator contract)::

    model = ImplicitALSRecommender(factors=64, random_state=0).fit(interactions, products)
    recs = model.recommend(customer_ids, n=10, exclude=ineligible)  # customer_id, rank, ...
    model.save("models/nbp"); same = load_recommender("models/nbp")

Inputs are plain DataFrames: interactions (customer_id, product_id, weight or quantity,
optional timestamp) and the catalogue (product_id, category, price, repeatable, in_stock).
Eligibility, cold start and batching are shared by every method (see `recommend_base`).

Methods:

* `PopularityRecommender`: the products most customers bought (baseline);
* `OwnHistoryRecommender`: the customer's own most bought repeatable products, then
  popularity (baseline; "buy again");
* `ItemCoOccurrenceRecommender`: item-item co-occurrence with cosine, Jaccard, lift or
  conditional-probability similarity (`recommend_cooccurrence`);
* `ImplicitALSRecommender`: implicit-feedback matrix factorisation, Hu, Koren & Volinsky 2008
  (`recommend_als`);
* `BlendRecommender`: weighted reciprocal-rank fusion of any of the above (`recommend_blend`).

Evaluation with a time split is in `recommend_eval`, a simulator with known structure in
`recommend_sim`; both are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from cvm.predict.recommend_als import ImplicitALSRecommender
from cvm.predict.recommend_base import Recommender
from cvm.predict.recommend_blend import BlendRecommender
from cvm.predict.recommend_cooccurrence import ItemCoOccurrenceRecommender
from cvm.predict.recommend_data import BoolArray
from cvm.predict.recommend_eval import (
    RecommendationReport,
    evaluate_recommendations,
    score_recommendations,
    split_by_time,
)
from cvm.predict.recommend_sim import SimulatedBaskets, simulate_baskets
from cvm.predict.recommend_topk import Ids, Scores, top_k_per_row

__all__ = [
    "BlendRecommender",
    "ImplicitALSRecommender",
    "ItemCoOccurrenceRecommender",
    "OwnHistoryRecommender",
    "PopularityRecommender",
    "RecommendationReport",
    "Recommender",
    "SimulatedBaskets",
    "evaluate_recommendations",
    "load_recommender",
    "score_recommendations",
    "simulate_baskets",
    "split_by_time",
]


class PopularityRecommender(Recommender):
    """Baseline: the eligible products bought by the largest share of customers.

    score = share of training customers who bought the product; the same list for everyone,
    minus each customer's ineligible products.
    """


class OwnHistoryRecommender(Recommender):
    """Baseline: the customer's own most bought products (total weight or quantity), then
    popularity. Owned non-repeatable products are excluded by the shared eligibility rules,
    so what remains of the history is the repeatable products ("buy again")."""

    def _candidates(
        self, rows: npt.NDArray[np.int64], width: int, allowed: BoolArray
    ) -> tuple[Ids, Scores]:
        history = self.user_items_[rows]
        history.data = history.data * allowed[history.indices]
        history.eliminate_zeros()
        return top_k_per_row(history, width)


def load_recommender(path: str | Path) -> Recommender:
    """Read any recommender written by `Recommender.save` (JSON and `.npy`, no pickle)."""
    return Recommender.load(path)
