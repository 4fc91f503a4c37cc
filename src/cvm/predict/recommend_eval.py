"""Offline evaluation of next-best-product recommendations with a time split.

Protocol: fit on the interactions before `cutoff`, recommend `n` products to every customer who
bought after it (`cutoff <= timestamp < horizon`), and compare with what they bought.

Relevance is binary: product i is relevant for customer u when u's net quantity of i after the
cutoff is positive. A relevant product is a *repeat* item when u also bought it before the
cutoff, and a *new* item otherwise; each metric is reported for all, new and repeat items,
averaged over the customers with at least one relevant item of that kind. With R_u the
relevant set, L_u the list (ranks 1..n) and hit(r) = 1 when the product at rank r is in R_u:

* recall@n  = |L_u & R_u| / min(n, |R_u|), so a perfect list scores 1 even when u bought
  more than n products (the normalised form of Liang, Krishnan, Hoffman & Jebara 2018,
  "Variational autoencoders for collaborative filtering", WWW, eq. 9);
* NDCG@n    = DCG / IDCG with DCG = sum_r hit(r) / log2(r + 1) and IDCG the DCG of a list with
  every hit on top, sum_{r <= min(n, |R_u|)} 1 / log2(r + 1) (Jarvelin & Kekalainen 2002,
  "Cumulated gain-based evaluation of IR techniques", ACM TOIS 20(4));
* coverage  = distinct products recommended to anyone / products that could be offered (in
  stock in the catalogue), the catalogue coverage of Ge, Delgado-Battenfeld & Jannach 2010.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from cvm.core.errors import UserInputError
from cvm.predict.recommend_base import Recommender
from cvm.predict.recommend_data import interaction_weights, require_columns

KINDS = ("all", "new", "repeat")


@dataclass(frozen=True)
class RecommendationReport:
    """Metrics of one time-split evaluation (definitions in the module docstring)."""

    n: int
    recall: float
    ndcg: float
    recall_new: float
    ndcg_new: float
    recall_repeat: float
    ndcg_repeat: float
    coverage: float
    customers: int
    customers_new: int
    customers_repeat: int
    cold_start: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_by_time(
    interactions: pd.DataFrame,
    cutoff: Any,
    horizon: Any | None = None,
    timestamp: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Interactions before `cutoff` (train) and in [`cutoff`, `horizon`) (test).

    `timestamp` names the time column; by default `timestamp`, else the canonical
    transactions table's `occurred_at`.
    """
    if timestamp is None:
        timestamp = "occurred_at" if "timestamp" not in interactions.columns else "timestamp"
        if timestamp not in interactions.columns:
            timestamp = "timestamp"
    require_columns(interactions, [timestamp], "interactions")
    when = interactions[timestamp]
    if when.isna().any():
        row = interactions.index[int(np.argmax(when.isna().to_numpy()))]
        raise UserInputError(f"interactions row {row!r}: column {timestamp} is empty")
    test = when >= cutoff
    if horizon is not None:
        test &= when < horizon
    return interactions[when < cutoff], interactions[test]


def _bought(interactions: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, product_id) pairs with a positive net quantity."""
    net = (
        interactions[["customer_id", "product_id"]]
        .assign(weight=interaction_weights(interactions))
        .groupby(["customer_id", "product_id"], sort=False, observed=True)["weight"]
        .sum()
    )
    return net[net > 0].reset_index()[["customer_id", "product_id"]]


def _ideal_dcg(counts: np.ndarray, n: int) -> np.ndarray:
    gains = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, n + 2)))])
    return np.asarray(gains[np.minimum(counts, n)])


def score_recommendations(
    recommendations: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    n: int = 10,
    offerable: int | None = None,
) -> RecommendationReport:
    """Recall@n, NDCG@n (all, new, repeat items) and coverage of given recommendations.

    `recommendations` has customer_id, rank and product_id (as returned by `recommend`);
    ranks above `n` are ignored. `offerable` is the number of products that could be offered
    (coverage denominator); by default the distinct products of `train` and `test`.
    """
    require_columns(recommendations, ["customer_id", "rank", "product_id"], "recommendations")
    recs = recommendations[recommendations["rank"] <= n]
    relevant = _bought(test)
    before = _bought(train).assign(repeat=True)
    relevant = relevant.merge(before, on=["customer_id", "product_id"], how="left")
    relevant["repeat"] = relevant["repeat"].fillna(False).astype(bool)
    hits = recs[["customer_id", "rank", "product_id"]].merge(
        relevant, on=["customer_id", "product_id"], how="inner"
    )
    hits = hits.assign(gain=1.0 / np.log2(hits["rank"].to_numpy(dtype=np.float64) + 1.0))
    recall: dict[str, float] = {}
    ndcg: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for kind in KINDS:
        if kind == "all":
            rel_of_kind, hits_of_kind = relevant, hits
        else:
            rel_of_kind = relevant[relevant["repeat"] == (kind == "repeat")]
            hits_of_kind = hits[hits["repeat"] == (kind == "repeat")]
        rel = rel_of_kind.groupby("customer_id", sort=False).size()
        per = hits_of_kind.groupby("customer_id", sort=False)["gain"].agg(["size", "sum"])
        per = per.reindex(rel.index, fill_value=0)
        counts = rel.to_numpy()
        empty = len(rel) == 0
        recall[kind] = (
            float("nan") if empty else float(np.mean(per["size"] / np.minimum(counts, n)))
        )
        ndcg[kind] = float("nan") if empty else float(np.mean(per["sum"] / _ideal_dcg(counts, n)))
        sizes[kind] = len(rel)
    if offerable is None:
        offerable = pd.concat([train["product_id"], test["product_id"]]).nunique()
    test_customers = pd.Index(test["customer_id"].unique())
    return RecommendationReport(
        n=n,
        recall=recall["all"],
        ndcg=ndcg["all"],
        recall_new=recall["new"],
        ndcg_new=ndcg["new"],
        recall_repeat=recall["repeat"],
        ndcg_repeat=ndcg["repeat"],
        coverage=recs["product_id"].nunique() / max(offerable, 1),
        customers=sizes["all"],
        customers_new=sizes["new"],
        customers_repeat=sizes["repeat"],
        cold_start=int((~test_customers.isin(train["customer_id"])).sum()),
    )


def evaluate_recommendations(
    model: Recommender,
    interactions: pd.DataFrame,
    products: pd.DataFrame | None,
    cutoff: Any,
    n: int = 10,
    *,
    horizon: Any | None = None,
    exclude: Any = None,
    exclude_owned: bool = False,
    cold_start: bool = True,
    timestamp: str | None = None,
) -> RecommendationReport:
    """Fit a fresh copy of `model` before `cutoff` and score its top-`n` lists after it.

    Every customer who bought in [`cutoff`, `horizon`) is scored, including cold-start ones
    (no purchase before the cutoff; every method gives them popularity) unless `cold_start`
    is False. `model` itself is left untouched.
    """
    train, test = split_by_time(interactions, cutoff, horizon, timestamp)
    if not cold_start:
        test = test[test["customer_id"].isin(train["customer_id"])]
    if train.empty or test.empty:
        raise UserInputError(f"cutoff {cutoff!r} leaves no interactions on one side of the split")
    fitted = clone(model).fit(train, products)
    customers = test["customer_id"].unique()
    recs = fitted.recommend(customers, n=n, exclude=exclude, exclude_owned=exclude_owned)
    offerable = int(fitted.in_stock_.sum())
    return score_recommendations(recs, train, test, n=n, offerable=offerable)
