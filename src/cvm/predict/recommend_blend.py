"""A blend of recommenders by weighted reciprocal-rank fusion.

Cormack, Clarke & Buettcher (2009), "Reciprocal rank fusion outperforms Condorcet and
individual rank learning methods", SIGIR, eq. 1: a product d ranked r_m(d) by component m
scores

    RRF(d) = sum_m w_m / (k + r_m(d)),    k = 60,

with r_m(d) = infinity (no contribution) when d is not among component m's candidates. Ranks,
not scores, are fused, so components on different scales (a co-occurrence sum, a factor dot
product, a purchase count) combine without calibration. Typical use: the customer's own
repeatable history (re-buys) with co-occurrence or ALS (new products).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import clone

from cvm.core.errors import UserInputError
from cvm.predict.recommend_base import Recommender
from cvm.predict.recommend_data import BoolArray, FitData
from cvm.predict.recommend_topk import Ids, Scores, top_k_per_row


class BlendRecommender(Recommender):
    """Weighted reciprocal-rank fusion of several recommenders (module docstring).

    Parameters
    ----------
    components: (unfitted recommender, weight) pairs; each is cloned and fitted on the same data.
    k: the rank offset of RRF (60 in Cormack et al. 2009); larger flattens rank differences.
    depth: each component proposes `depth` x the needed candidates, so a product ranked a
        little lower by one component can still be lifted by another.
    """

    components_: list[Recommender]

    def __init__(
        self,
        components: Sequence[tuple[Recommender, float]] = (),
        k: float = 60.0,
        depth: int = 2,
    ) -> None:
        self.components = components
        self.k = k
        self.depth = depth

    def _fit_data(self, data: FitData) -> None:
        if not self.components:
            raise UserInputError("a blend needs at least one (recommender, weight) component")
        if any(weight < 0 for _, weight in self.components) or self.k < 0 or self.depth < 1:
            raise UserInputError("blend weights and k must be >= 0 and depth >= 1")
        super()._fit_data(data)
        self.components_ = [clone(model) for model, _ in self.components]
        for model in self.components_:
            model._fit_data(data)

    def _candidates(
        self, rows: npt.NDArray[np.int64], width: int, allowed: BoolArray
    ) -> tuple[Ids, Scores]:
        n_items = len(self.product_ids_)
        keys: list[npt.NDArray[np.int64]] = []
        gains: list[npt.NDArray[np.float64]] = []
        for model, (_, weight) in zip(self.components_, self.components, strict=True):
            ids, _ = model._candidates(rows, self.depth * width, allowed)
            rank = np.broadcast_to(np.arange(1, ids.shape[1] + 1), ids.shape)
            listed = ids >= 0
            row = np.broadcast_to(np.arange(len(rows))[:, None], ids.shape)
            keys.append(row[listed] * n_items + ids[listed])
            gains.append(weight / (self.k + rank[listed]))
        # Sum the contributions of each (row, product) across components.
        unique, where = np.unique(np.concatenate(keys), return_inverse=True)
        fused = np.bincount(where, weights=np.concatenate(gains)).astype(np.float32)
        matrix = sp.csr_matrix(
            (fused, (unique // n_items, unique % n_items)), shape=(len(rows), n_items)
        )
        return top_k_per_row(matrix, width)

    def _json_params(self) -> dict[str, Any]:
        return {"weights": [float(w) for _, w in self.components], "k": self.k, "depth": self.depth}

    def _save_parts(self, folder: Path) -> None:
        for i, model in enumerate(self.components_):
            model.save(folder / f"component_{i}")

    @classmethod
    def _from_json_params(cls, params: dict[str, Any], folder: Path) -> Recommender:
        fitted = [
            Recommender.load(folder / f"component_{i}") for i in range(len(params["weights"]))
        ]
        blend = cls(
            components=[(clone(m), w) for m, w in zip(fitted, params["weights"], strict=True)],
            k=params["k"],
            depth=params["depth"],
        )
        blend.components_ = fitted
        return blend
