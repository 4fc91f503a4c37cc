"""Implicit-feedback matrix factorisation (ALS) recommender.

Hu, Koren & Volinsky (2008), "Collaborative filtering for implicit feedback datasets", ICDM.
Purchases r_ui >= 0 give a preference p_ui = 1 if r_ui > 0 else 0 and a confidence c_ui;
customer factors x_u and product factors y_i (`factors` dimensions) minimise (eq. 3)

    sum_{u,i} c_ui (p_ui - x_u^T y_i)^2 + lambda (sum_u |x_u|^2 + sum_i |y_i|^2)

over *all* pairs, unbought ones with c_ui = 1, by alternating least squares (section 4, eqs.
4-5; solved with the conjugate-gradient steps of Takacs, Pilaszy & Tikk 2011 as implemented by
`implicit.cpu.als.AlternatingLeastSquares`). The predicted preference is x_u^T y_i (eq. 6
without the explanation term), the score returned.

Confidence c_ui = 1 + alpha f(r_ui), with `weighting`:

* ``linear``: f(r) = r                       (Hu et al. 2008, section 4, first form)
* ``log``:    f(r) = log(1 + r / epsilon)    (Hu et al. 2008, section 4, second form; damps
  customers who buy one product in bulk)
* ``bm25``:   f = Okapi BM25 weight of r (Robertson & Zaragoza 2009, eq. 3.15, K1 = 100,
  B = 0.8), computed as in implicit's examples on the product x customer matrix: customers
  who buy many products count less per purchase, and counts saturate.

Determinism: initial factors come from `random_state`, and each ALS half-step solves every
customer (product) independently, so the result does not depend on `num_threads`.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.topk import topk
from implicit.nearest_neighbours import bm25_weight
from threadpoolctl import ThreadpoolController

from cvm.core.errors import UserInputError
from cvm.predict.recommend_base import Recommender
from cvm.predict.recommend_data import BoolArray
from cvm.predict.recommend_topk import Ids, Scores

Weighting = Literal["linear", "log", "bm25"]
WEIGHTINGS: tuple[str, ...] = ("linear", "log", "bm25")
# implicit's top-k marks filtered-out slots with -FLT_MAX.
_FILTERED = -1e38


@cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries, found once (a fresh lookup costs milliseconds per batch)."""
    return ThreadpoolController()


def confidence(
    user_items: sp.csr_matrix, weighting: Weighting, alpha: float, epsilon: float
) -> sp.csr_matrix:
    """The confidence matrix c_ui = 1 + alpha f(r_ui) on purchased pairs (module docstring)."""
    r = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
    if weighting == "linear":
        f = r.data
    elif weighting == "log":
        f = np.log1p(r.data / epsilon)
    elif weighting == "bm25":
        weighted = sp.csr_matrix(bm25_weight(r.T.tocsr(), K1=100, B=0.8).T, dtype=np.float32)
        weighted.sort_indices()
        r.sort_indices()
        f = weighted.data
    else:
        raise UserInputError(f"weighting must be one of {', '.join(WEIGHTINGS)}")
    # BM25's idf turns negative for a customer buying most of the catalogue; c_ui < 1 would
    # mean "less sure than an unbought product" (and a negative value is a dislike to
    # implicit), so f is floored at 0.
    r.data = (1.0 + alpha * np.maximum(f, 0.0)).astype(np.float32)
    return r


class ImplicitALSRecommender(Recommender):
    """Hu, Koren & Volinsky (2008) implicit-feedback ALS (see the module docstring).

    Parameters
    ----------
    factors: latent dimensions. regularization: lambda of eq. 3. alpha, weighting, epsilon:
    the confidence c_ui = 1 + alpha f(r_ui). iterations: ALS sweeps. random_state: seed of the
    initial factors. num_threads: threads for fitting and scoring (1 or 2 on a small machine).

    Default lambda = 50 with alpha = 10: one purchase carries c ~ 1 + 10 log 2 ~ 8, so the
    prior weighs about as much as six purchases and customers with a short history are shrunk
    towards the average taste instead of memorised. Small lambda (implicit's 0.01) overfits
    such data badly: on the demo company recall@10 for new products was 0.10 at lambda = 5
    against 0.22 at 50 (grid in docs/recommendations.md).
    """

    user_factors_: npt.NDArray[np.float32]
    item_factors_: npt.NDArray[np.float32]

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 50.0,
        alpha: float = 10.0,
        weighting: Weighting = "log",
        epsilon: float = 1.0,
        iterations: int = 15,
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.weighting = weighting
        self.epsilon = epsilon
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        if self.factors < 1 or self.iterations < 1 or self.num_threads < 1:
            raise UserInputError("factors, iterations and num_threads must be at least 1")
        if self.alpha <= 0 or self.regularization < 0 or self.epsilon <= 0:
            raise UserInputError("alpha and epsilon must be positive, regularization >= 0")
        weights = confidence(user_items, self.weighting, self.alpha, self.epsilon)
        # implicit solves with its own threads; a multi-threaded BLAS underneath it only
        # oversubscribes the cores (implicit warns about exactly this).
        with _blas().limit(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,  # confidence already holds alpha (c_ui = 1 + alpha f(r_ui))
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
                dtype=np.float32,
            )
            model.fit(weights, show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _candidates(
        self, rows: npt.NDArray[np.int64], width: int, allowed: BoolArray
    ) -> tuple[Ids, Scores]:
        width = min(width, int(allowed.sum()))
        if width == 0:
            return np.full((len(rows), 0), -1, dtype=np.int32), np.empty(
                (len(rows), 0), dtype=np.float32
            )
        blocked = np.flatnonzero(~allowed).astype(np.int32)
        with _blas().limit(limits=1, user_api="blas"):
            ids, scores = topk(
                self.item_factors_,
                np.ascontiguousarray(self.user_factors_[rows]),
                width,
                filter_items=blocked if blocked.size else None,
                num_threads=self.num_threads,
            )
        ids = np.where(scores > _FILTERED, ids, -1).astype(np.int32)
        return ids, scores.astype(np.float32)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, object]) -> None:
        self.user_factors_ = arrays["user_factors"]
        self.item_factors_ = arrays["item_factors"]
