"""The shared contract of every next-best-product recommender.

`Recommender` follows scikit-learn's estimator contract: settings in `__init__`, `fit` returns
`self`, learned state ends in `_`. Subclasses only learn (`_fit_model`) and propose candidates
for known customers (`_candidates`); this class does everything else the same way for all of
them:

* eligibility: a product is never recommended when it is out of stock (or unknown to the
  catalogue), explicitly ineligible (globally or for that customer), or already owned by the
  customer and not repeatable (with `exclude_owned=True`, owned repeatable products too);
* cold start: customers absent from the training data get the most popular eligible products;
* top-up: when the model proposes fewer than `n` eligible products, the list is completed in
  popularity order (`source = "popularity"`, `score` = share of training customers who bought);
* batching: customers are scored in batches with numpy/scipy array operations only;
* persistence: `save(path)` writes JSON and `.npy` files (loaded with `allow_pickle=False`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from cvm.core.errors import NotFittedError, UserInputError
from cvm.predict.recommend_data import (
    BoolArray,
    FitData,
    build_fit_data,
    catalog_flags,
    exclusion_inputs,
)
from cvm.predict.recommend_topk import Ids, Scores, merge_candidates

FORMAT = "cvm.recommender"
FORMAT_VERSION = 1
OUTPUT_COLUMNS = ["customer_id", "rank", "product_id", "score", "source"]
SOURCES = ["model", "popularity"]
# A row with b blocked products needs n + b candidates to be sure of n eligible ones. Rows are
# ranked in tiers of b (0, 1-4, 5-16, more) with the width of the tier's largest b, so the
# many customers owning few durables do not pay for the few owning many.
_TIERS = np.array([1, 5, 17])


class Recommender(BaseEstimator):  # type: ignore[misc]
    """Base of the next-best-product recommenders (see the module docstring)."""

    registry: ClassVar[dict[str, type[Recommender]]] = {}

    customer_ids_: npt.NDArray[Any]
    product_ids_: npt.NDArray[Any]
    user_items_: sp.csr_matrix
    popularity_: npt.NDArray[np.float32]
    repeatable_: BoolArray
    in_stock_: BoolArray

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Recommender.registry[cls.__name__] = cls

    # ---- learning -----------------------------------------------------------------------
    def fit(self, interactions: pd.DataFrame, products: pd.DataFrame | None = None) -> Self:
        """Learn from `interactions` (customer_id, product_id, weight or quantity, optional
        timestamp) and the catalogue `products` (product_id, repeatable, in_stock, ...)."""
        data = build_fit_data(interactions, products)
        if data.user_items.nnz == 0:
            raise UserInputError("interactions hold no purchase with a positive quantity")
        self._fit_data(data)
        return self

    def _fit_data(self, data: FitData) -> None:
        """Fit from already indexed data (lets a blend index the DataFrames once)."""
        self.customer_ids_ = data.customer_ids
        self.product_ids_ = data.product_ids
        self.user_items_ = data.user_items
        self.repeatable_ = data.repeatable
        self.in_stock_ = data.in_stock
        buyers = np.diff(data.user_items.tocsc().indptr).astype(np.float32)
        self.popularity_ = buyers / np.float32(data.user_items.shape[0])
        self._fit_model(data.user_items)

    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        """Learn the model's own state from the customer x product weight matrix."""

    def _candidates(
        self, rows: npt.NDArray[np.int64], width: int, allowed: BoolArray
    ) -> tuple[Ids, Scores]:
        """Up to `width` best `allowed` products per known customer row, best first."""
        empty = np.empty((len(rows), 0))
        return empty.astype(np.int32), empty.astype(np.float32)

    def _customer_index(self) -> pd.Index:
        """Hash index of the training customers, built once per fitted state."""
        cached = self.__dict__.get("_customer_lookup")
        if cached is None or cached[0] is not self.customer_ids_:
            cached = (self.customer_ids_, pd.Index(self.customer_ids_))
            self.__dict__["_customer_lookup"] = cached
        return cached[1]

    def _check_fitted(self) -> None:
        if not hasattr(self, "user_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ---- scoring ------------------------------------------------------------------------
    def recommend(
        self,
        customer_ids: Sequence[Any] | npt.NDArray[Any] | pd.Series,
        n: int = 10,
        *,
        exclude: pd.DataFrame | Iterable[Any] | None = None,
        products: pd.DataFrame | None = None,
        exclude_owned: bool = False,
        batch_size: int = 50_000,
    ) -> pd.DataFrame:
        """Top-`n` eligible products for each customer, best first.

        Returns one row per recommendation with columns customer_id, rank (1..n), product_id,
        score and source (`model` or `popularity`), in the order of `customer_ids`. A customer
        gets fewer than `n` rows only when fewer than `n` products are eligible for them.

        `exclude`: product ids ineligible for everyone, or a DataFrame of (customer_id,
        product_id) pairs (a missing customer_id means everyone). `products`: the current
        catalogue, replacing the fitted `repeatable`/`in_stock` flags (products missing from
        it are not offered). `exclude_owned`: also drop owned repeatable products (pure
        cross-sell). Larger `batch_size` is faster and uses more memory.
        """
        requested = pd.Index(customer_ids)
        picks = self.recommend_positions(
            requested,
            n,
            exclude=exclude,
            products=products,
            exclude_owned=exclude_owned,
            batch_size=batch_size,
        )
        return self._frame(requested, *picks)

    def recommend_positions(
        self,
        customer_ids: Sequence[Any] | npt.NDArray[Any] | pd.Series | pd.Index,
        n: int = 10,
        *,
        exclude: pd.DataFrame | Iterable[Any] | None = None,
        products: pd.DataFrame | None = None,
        exclude_owned: bool = False,
        batch_size: int = 50_000,
    ) -> tuple[Ids, Scores, npt.NDArray[np.bool_]]:
        """`recommend` as arrays, without building a DataFrame (for scoring millions).

        Returns `(positions, scores, from_model)`, each of shape `(len(customer_ids), n)`, row
        i for customer i, best first: positions index `product_ids_` and are padded with -1
        at the end of a row when fewer than `n` products are eligible.
        """
        self._check_fitted()
        if n < 1 or batch_size < 1:
            raise UserInputError("n and batch_size must be positive")
        requested = pd.Index(customer_ids)
        repeatable, in_stock = (
            (self.repeatable_, self.in_stock_)
            if products is None
            else catalog_flags(self.product_ids_, products)
        )
        global_block, per_customer = exclusion_inputs(exclude, requested, self.product_ids_)
        allowed = in_stock & ~global_block
        # The fill list is popularity order restricted to allowed products, built once.
        order = np.argsort(-self.popularity_, kind="stable")
        fill_order = order[allowed[order]].astype(np.int32)
        rows = self._customer_index().get_indexer(requested).astype(np.int64)
        ids = np.full((len(requested), n), -1, dtype=np.int32)
        scores = np.full((len(requested), n), np.nan, dtype=np.float32)
        from_model = np.zeros((len(requested), n), dtype=bool)
        for start in range(0, len(requested), batch_size):
            part = slice(start, min(start + batch_size, len(requested)))
            blocked = self._blocked(rows[part], per_customer[part], repeatable, exclude_owned)
            counts = np.diff(blocked.indptr)
            tier = np.digitize(counts, _TIERS)
            for level in np.unique(tier):
                group = np.flatnonzero(tier == level)
                width = n + int(counts[group].max())
                picked = self._rank(
                    rows[part][group], blocked[group], width, n, allowed, fill_order
                )
                target = start + group
                ids[target], scores[target], from_model[target] = picked
        return ids, scores, from_model

    def _blocked(
        self,
        rows: npt.NDArray[np.int64],
        explicit: sp.csr_matrix,
        repeatable: BoolArray,
        exclude_owned: bool,
    ) -> sp.csr_matrix:
        """Per-row blocked products: owned (non-repeatable unless `exclude_owned`) + explicit."""
        owned = self.user_items_[np.where(rows >= 0, rows, 0)]
        # Cold-start rows borrowed row 0 above; blank them, and keep repeatable products
        # unless asked to drop every owned product.
        keep = np.repeat(rows >= 0, np.diff(owned.indptr))
        if not exclude_owned:
            keep &= ~repeatable[owned.indices]
        owned.data = keep.astype(np.float32)
        owned.eliminate_zeros()
        blocked = sp.csr_matrix(owned + explicit)
        blocked.sort_indices()
        return blocked

    def _rank(
        self,
        rows: npt.NDArray[np.int64],
        blocked: sp.csr_matrix,
        width: int,
        n: int,
        allowed: BoolArray,
        fill_order: Ids,
    ) -> tuple[Ids, Scores, npt.NDArray[np.bool_]]:
        known = rows >= 0
        model_ids = np.full((len(rows), 0), -1, dtype=np.int32)
        model_scores = np.full((len(rows), 0), np.nan, dtype=np.float32)
        if known.any():
            cand_ids, cand_scores = self._candidates(rows[known], width, allowed)
            model_ids = np.full((len(rows), cand_ids.shape[1]), -1, dtype=np.int32)
            model_scores = np.full(model_ids.shape, np.nan, dtype=np.float32)
            model_ids[known], model_scores[known] = cand_ids, cand_scores
        fill_ids = fill_order[:width]
        fill_scores = self.popularity_[fill_ids]
        return merge_candidates(model_ids, model_scores, fill_ids, fill_scores, blocked, n)

    def _frame(
        self,
        requested: pd.Index,
        ids: Ids,
        scores: Scores,
        from_model: npt.NDArray[np.bool_],
    ) -> pd.DataFrame:
        valid = ids >= 0
        per_row = valid.sum(axis=1)
        rank = np.broadcast_to(np.arange(1, ids.shape[1] + 1, dtype=np.int32), ids.shape)
        return pd.DataFrame(
            {
                # Index.take keeps pandas' string storage; numpy object arrays are 5-10x slower.
                "customer_id": requested.take(np.repeat(np.arange(len(requested)), per_row)),
                "rank": rank[valid],
                "product_id": pd.Index(self.product_ids_).take(ids[valid]),
                "score": scores[valid],
                "source": pd.Categorical.from_codes(
                    np.where(from_model[valid], 0, 1).astype(np.int8), categories=SOURCES
                ),
            },
            columns=OUTPUT_COLUMNS,
        )

    # ---- persistence --------------------------------------------------------------------
    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Fitted arrays of the subclass, saved as `<name>.npy`."""
        return {}

    def _load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore the subclass's fitted state from `_state_arrays` output."""

    def _json_params(self) -> dict[str, Any]:
        """Settings as JSON; a blend replaces its sub-models by their saved folders."""
        return dict(self.get_params(deep=False))

    def _save_parts(self, folder: Path) -> None:
        """Write sub-models (a blend's components) next to the model's own files."""

    @classmethod
    def _from_json_params(cls, params: dict[str, Any], folder: Path) -> Recommender:
        return cls(**params)

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to the folder `path` as JSON and `.npy` files (no pickle)."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        items = self.user_items_
        arrays: dict[str, np.ndarray] = {
            "user_items_indptr": items.indptr,
            "user_items_indices": items.indices,
            "user_items_data": items.data,
            "popularity": self.popularity_,
            "repeatable": self.repeatable_,
            "in_stock": self.in_stock_,
            **self._state_arrays(),
        }
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": type(self).__name__,
            "params": self._json_params(),
            "shape": list(items.shape),
            "arrays": sorted(arrays),
            "customer_ids": _save_ids(folder, "customer_ids", self.customer_ids_),
            "product_ids": _save_ids(folder, "product_ids", self.product_ids_),
        }
        self._save_parts(folder)
        (folder / "recommender.json").write_text(json.dumps(meta, indent=2))
        return folder

    @staticmethod
    def load(path: str | Path) -> Recommender:
        """Read a model written by `save`; its class must have been imported."""
        folder = Path(path)
        try:
            meta = json.loads((folder / "recommender.json").read_text())
        except (OSError, ValueError) as exc:
            raise UserInputError(f"{folder}: not a saved recommender ({exc})") from exc
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise UserInputError(f"{folder}: unsupported recommender format {meta.get('format')}")
        cls = Recommender.registry.get(meta["kind"])
        if cls is None:
            raise UserInputError(f"{folder}: unknown recommender kind {meta['kind']!r}")
        model = cls._from_json_params(meta["params"], folder)
        arrays = {
            name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in meta["arrays"]
        }
        model.user_items_ = sp.csr_matrix(
            (arrays["user_items_data"], arrays["user_items_indices"], arrays["user_items_indptr"]),
            shape=tuple(meta["shape"]),
        )
        model.popularity_ = arrays["popularity"]
        model.repeatable_ = arrays["repeatable"]
        model.in_stock_ = arrays["in_stock"]
        model.customer_ids_ = _load_ids(folder, meta["customer_ids"])
        model.product_ids_ = _load_ids(folder, meta["product_ids"])
        model._load_state(arrays, meta)
        return model


def _save_ids(folder: Path, name: str, ids: npt.NDArray[Any]) -> str:
    """Integer ids go to `.npy`; anything else to a JSON list of strings. Returns the file."""
    if ids.dtype.kind in "iu":
        np.save(folder / f"{name}.npy", ids, allow_pickle=False)
        return f"{name}.npy"
    values = ids.tolist()
    if not all(isinstance(v, str) for v in values):
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        if not all(isinstance(v, int | str) for v in values):
            raise UserInputError(f"{name} must be integers or strings to be saved")
    (folder / f"{name}.json").write_text(json.dumps(values))
    return f"{name}.json"


def _load_ids(folder: Path, file: str) -> npt.NDArray[Any]:
    if file.endswith(".npy"):
        return np.load(folder / file, allow_pickle=False)
    values = json.loads((folder / file).read_text())
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
