"""Next-best-product recommenders: interface, eligibility rules, cold start, persistence."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cvm.core.errors import NotFittedError, UserInputError
from cvm.predict.recommend import (
    BlendRecommender,
    ImplicitALSRecommender,
    ItemCoOccurrenceRecommender,
    OwnHistoryRecommender,
    PopularityRecommender,
    Recommender,
    load_recommender,
    simulate_baskets,
)
from cvm.predict.recommend_topk import top_k_per_row

MODELS: dict[str, Callable[[], Recommender]] = {
    "popularity": PopularityRecommender,
    "own_history": OwnHistoryRecommender,
    "cooccurrence": ItemCoOccurrenceRecommender,
    "als": lambda: ImplicitALSRecommender(factors=16, iterations=8),
    "blend": lambda: BlendRecommender(
        [(OwnHistoryRecommender(), 1.0), (ItemCoOccurrenceRecommender(), 0.5)]
    ),
}


@cache
def _sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    sim = simulate_baskets(n_customers=600, n_products=60, n_categories=6, seed=3)
    return sim.interactions, sim.products


@cache
def _fitted(name: str) -> Recommender:
    interactions, products = _sim()
    return MODELS[name]().fit(interactions, products)


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    interactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "c", "c"],
            "product_id": ["tv", "soap", "tv", "cable", "soap", "cable", "soap"],
            "quantity": [1, 3, 1, 1, 2, 1, 1],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["tv", "soap", "cable", "lamp", "gone"],
            "category": ["av", "home", "av", "home", "home"],
            "price": [500.0, 3.0, 10.0, 40.0, 9.0],
            "repeatable": [False, True, False, False, True],
            "in_stock": [True, True, True, True, False],
        }
    )
    return interactions, products


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_has_n_ranked_rows_per_customer_in_request_order(name: str) -> None:
    model = _fitted(name)
    customers = list(model.customer_ids_[[5, 1, 3]]) + ["never-seen"]
    recs = model.recommend(customers, n=7)
    assert list(recs.columns) == ["customer_id", "rank", "product_id", "score", "source"]
    assert list(pd.unique(recs["customer_id"])) == customers
    assert (
        recs.groupby("customer_id", sort=False)["rank"].apply(list).tolist()
        == [list(range(1, 8))] * 4
    )
    assert not recs.duplicated(["customer_id", "product_id"]).any()
    model_rows = recs[recs["source"] == "model"]
    for _, group in model_rows.groupby("customer_id"):
        assert (np.diff(group["score"].to_numpy()) <= 1e-6).all()


def test_cold_start_customer_gets_the_popularity_list() -> None:
    expected = _fitted("popularity").recommend(["nobody"], n=5)
    for name in ("own_history", "cooccurrence", "als", "blend"):
        got = _fitted(name).recommend(["nobody"], n=5)
        assert got["product_id"].tolist() == expected["product_id"].tolist()
        assert (got["source"] == "popularity").all()


def test_popularity_ranks_by_share_of_buyers_and_skips_out_of_stock() -> None:
    interactions, products = _tiny()
    recs = PopularityRecommender().fit(interactions, products).recommend(["z"], n=5)
    # soap: 2 of 3 customers (a, c); tv and cable: 2 of 3 each; lamp: 0; "gone" out of stock.
    assert recs["product_id"].tolist() == ["tv", "soap", "cable", "lamp"]
    assert recs["score"].tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 0.0])


def test_owned_non_repeatable_never_offered_but_repeatable_is() -> None:
    interactions, products = _tiny()
    model = OwnHistoryRecommender().fit(interactions, products)
    recs = model.recommend(["a"], n=5)
    # a owns tv (durable) and soap (repeatable): soap first (own history), never tv.
    assert recs["product_id"].tolist() == ["soap", "cable", "lamp"]
    assert recs["source"].tolist() == ["model", "popularity", "popularity"]
    assert recs["score"].iloc[0] == pytest.approx(3.0)
    pure_cross_sell = model.recommend(["a"], n=5, exclude_owned=True)
    assert pure_cross_sell["product_id"].tolist() == ["cable", "lamp"]


def test_explicit_exclusions_global_and_per_customer() -> None:
    interactions, products = _tiny()
    model = PopularityRecommender().fit(interactions, products)
    assert "lamp" not in model.recommend(["a", "z"], exclude=["lamp"])["product_id"].tolist()
    pairs = pd.DataFrame({"customer_id": ["z", None], "product_id": ["soap", "cable"]})
    recs = model.recommend(["z", "y"], exclude=pairs)
    assert recs.groupby("customer_id")["product_id"].apply(list).to_dict() == {
        "y": ["tv", "soap", "lamp"],
        "z": ["tv", "lamp"],
    }


def test_current_catalogue_overrides_fitted_stock() -> None:
    interactions, products = _tiny()
    model = PopularityRecommender().fit(interactions, products)
    now = products.assign(in_stock=[False, True, True, True, True])
    recs = model.recommend(["z"], n=5, products=now)
    assert recs["product_id"].tolist() == ["soap", "cable", "lamp", "gone"]
    # A product missing from the current catalogue is not offered.
    recs = model.recommend(["z"], n=5, products=now[now["product_id"] != "lamp"])
    assert "lamp" not in recs["product_id"].tolist()


def test_returns_net_out_and_weight_column_wins() -> None:
    interactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "product_id": ["x", "x", "y"],
            "quantity": [2, -2, 1],
        }
    )
    model = PopularityRecommender().fit(interactions)
    assert model.popularity_.tolist() == pytest.approx([0.0, 0.5])  # x fully returned
    weighted = OwnHistoryRecommender().fit(interactions.assign(weight=[1.0, 5.0, 1.0]))
    assert weighted.user_items_.toarray()[0].tolist() == [6.0, 0.0]


def test_no_catalogue_means_everything_offerable_and_nothing_repeatable() -> None:
    interactions, _ = _tiny()
    recs = OwnHistoryRecommender().fit(interactions).recommend(["a"], n=5)
    assert sorted(recs["product_id"]) == ["cable"]


def test_batches_do_not_change_results() -> None:
    model = _fitted("cooccurrence")
    customers = np.concatenate([model.customer_ids_[:40], ["new1", "new2"]])
    whole = model.recommend(customers, n=6)
    pieces = model.recommend(customers, n=6, batch_size=7)
    pd.testing.assert_frame_equal(whole, pieces)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_and_load_round_trip_without_pickle(name: str, tmp_path: Path) -> None:
    model = _fitted(name)
    folder = model.save(tmp_path / name)
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pickle"))
    meta = json.loads((folder / "recommender.json").read_text())
    assert meta["kind"] == type(model).__name__
    loaded = load_recommender(folder)
    customers = list(model.customer_ids_[:25]) + ["unknown"]
    pd.testing.assert_frame_equal(model.recommend(customers), loaded.recommend(customers))


def test_integer_ids_survive_saving(tmp_path: Path) -> None:
    interactions = pd.DataFrame({"customer_id": [10, 10, 20], "product_id": [1, 2, 2]})
    model = ItemCoOccurrenceRecommender(min_support=1).fit(interactions)
    loaded = load_recommender(model.save(tmp_path / "m"))
    assert loaded.customer_ids_.tolist() == [10, 20]
    assert loaded.recommend([20])["product_id"].tolist() == [1]


def test_als_is_deterministic_and_thread_count_does_not_matter() -> None:
    interactions, products = _sim()

    def fit(threads: int) -> ImplicitALSRecommender:
        model = ImplicitALSRecommender(factors=8, iterations=4, random_state=7, num_threads=threads)
        return model.fit(interactions, products)

    one, again, two = fit(1), fit(1), fit(2)
    np.testing.assert_array_equal(one.item_factors_, again.item_factors_)
    np.testing.assert_allclose(one.item_factors_, two.item_factors_, rtol=1e-5, atol=1e-6)


def test_als_scores_are_factor_dot_products() -> None:
    model = _fitted("als")
    recs = model.recommend([model.customer_ids_[0]], n=3)
    items = pd.Index(model.product_ids_).get_indexer(recs["product_id"])
    expected = model.item_factors_[items] @ model.user_factors_[0]
    np.testing.assert_allclose(recs["score"], expected, rtol=1e-4)


def test_cooccurrence_scores_sum_neighbour_similarities() -> None:
    interactions, products = _tiny()
    model = ItemCoOccurrenceRecommender(min_support=1).fit(interactions, products)
    # Buyers: tv {a, b}, soap {a, c}, cable {b, c}; each pair shares one customer.
    s = model.similarity_.toarray()
    assert s[0, 1] == pytest.approx(1 / np.sqrt(2 * 2))
    # a owns tv and soap: cable scores s(tv, cable) + s(soap, cable) = 1/2 + 1/2; soap (owned
    # but repeatable) scores s(tv, soap) = 1/2; tv is owned and durable.
    recs = model.recommend(["a"], n=2)
    assert recs["product_id"].tolist() == ["cable", "soap"]
    assert recs["score"].tolist() == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize("k", [1, 6, 50])
def test_top_k_per_row_matches_sorting_each_row(k: int) -> None:
    rng = np.random.default_rng(k)
    matrix = sp.random(300, 120, density=0.4, format="csr", random_state=k, dtype=np.float32)
    matrix.data = np.round(rng.normal(size=matrix.nnz), 1).astype(np.float32)  # ties, negatives
    matrix.data[matrix.indptr[5] : matrix.indptr[6]] = 0.5  # a row of equal scores
    matrix.eliminate_zeros()
    ids, scores = top_k_per_row(matrix, k)
    for r in range(matrix.shape[0]):
        entries = slice(matrix.indptr[r], matrix.indptr[r + 1])
        cols, data = matrix.indices[entries], matrix.data[entries]
        order = np.lexsort((cols, -data))[:k]
        assert ids[r][: len(order)].tolist() == cols[order].tolist()
        assert (ids[r][len(order) :] == -1).all()
        np.testing.assert_array_equal(scores[r][: len(order)], data[order])


def test_clear_errors() -> None:
    interactions, products = _tiny()
    with pytest.raises(NotFittedError):
        PopularityRecommender().recommend(["a"])
    with pytest.raises(UserInputError, match="product_id"):
        PopularityRecommender().fit(interactions.drop(columns="product_id"))
    broken = interactions.copy()
    broken.loc[3, "customer_id"] = None
    with pytest.raises(UserInputError, match="row 3: column customer_id"):
        PopularityRecommender().fit(broken)
    with pytest.raises(UserInputError, match="appears twice"):
        PopularityRecommender().fit(interactions, pd.concat([products, products.head(1)]))
    with pytest.raises(UserInputError, match="in_stock"):
        PopularityRecommender().fit(interactions, products.assign(in_stock="yes"))
    with pytest.raises(UserInputError, match="similarity"):
        ItemCoOccurrenceRecommender(similarity="pearson").fit(interactions)  # type: ignore[arg-type]


def test_blend_fuses_reciprocal_ranks() -> None:
    interactions, products = _tiny()
    own = OwnHistoryRecommender()
    co = ItemCoOccurrenceRecommender(min_support=1)
    blend = BlendRecommender([(own, 2.0), (co, 1.0)], k=1.0).fit(interactions, products)
    assert blend.components_[0] is not own  # components are cloned, settings untouched
    # c owns soap (3 units) and cable (durable, so never offered). Own history ranks soap 1,
    # cable 2; co-occurrence ranks tv 1 (0.5 + 0.5), then soap and cable (0.5 each; the tie
    # goes to catalogue order: soap 2, cable 3). RRF with k = 1: soap 2/(1+1) + 1/(1+2) = 4/3,
    # tv 1/(1+1) = 1/2; lamp comes from the popularity fill.
    recs = blend.recommend(["c"], n=3)
    assert recs["product_id"].tolist() == ["soap", "tv", "lamp"]
    assert recs["score"].tolist()[:2] == pytest.approx([4 / 3, 0.5])
    with pytest.raises(UserInputError, match="at least one"):
        BlendRecommender().fit(interactions, products)


def test_empty_catalogue_flags_take_the_cautious_defaults() -> None:
    interactions, products = _tiny()
    unknown = products.astype({"repeatable": object, "in_stock": object})
    unknown.loc[1, ["repeatable", "in_stock"]] = None  # soap: flags unknown
    model = PopularityRecommender().fit(interactions, unknown)
    assert model.repeatable_.tolist() == [False, False, False, False, True]
    assert model.in_stock_.tolist() == [True, True, True, True, False]
    assert "soap" not in model.recommend(["a"])["product_id"].tolist()  # owned, not repeatable
