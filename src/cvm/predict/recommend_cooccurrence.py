"""Item-to-item co-occurrence recommender ("customers who bought this also bought").

Item-based top-N recommendation after Sarwar, Karypis, Konstan & Riedl (2001), "Item-based
collaborative filtering recommendation algorithms", WWW, and Deshpande & Karypis (2004),
"Item-based top-N recommendation algorithms", ACM TOIS 22(1):

1. From the binary customer x product matrix B (b_ui = 1 when u bought i), count
   co-occurrences C = B^T B: c_ij customers bought both i and j, c_ii customers bought i.
2. Turn counts into a similarity s_ij for i != j, keeping pairs with c_ij >= `min_support`:

   * ``cosine``   s_ij = c_ij / sqrt(c_ii c_jj)          (Sarwar et al. 2001, eq. 1, binary data)
   * ``jaccard``  s_ij = c_ij / (c_ii + c_jj - c_ij)
   * ``lift``     s_ij = c_ij N / (c_ii c_jj)            (Brin, Motwani, Ullman & Tsur 1997,
     "interest": P(i, j) / (P(i) P(j)); N = customers)
   * ``conditional`` s_ij = c_ij / c_ii = P(j | i)       (Deshpande & Karypis 2004, eq. 2 with
     alpha = 0)

3. Keep the `neighbours` most similar products j of each product i (Deshpande & Karypis 2004,
   section 4.1: the model is the k-nearest-neighbour item-item matrix S).
4. Score: score_uj = sum over i bought by u of s_ij, i.e. the row b_u S (Deshpande & Karypis
   2004, section 4.2). Computed for a batch of customers as one sparse product.

Products with no co-occurring purchase score nothing; the base class then fills the list in
popularity order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from cvm.core.errors import UserInputError
from cvm.predict.recommend_base import Recommender
from cvm.predict.recommend_data import BoolArray
from cvm.predict.recommend_topk import Ids, Scores, top_k_per_row

Similarity = Literal["cosine", "jaccard", "lift", "conditional"]
SIMILARITIES: tuple[str, ...] = ("cosine", "jaccard", "lift", "conditional")


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.copy()
    out.data = np.ones_like(out.data, dtype=np.float32)
    return out


def item_similarity(
    user_items: sp.csr_matrix, similarity: Similarity, neighbours: int, min_support: int
) -> sp.csr_matrix:
    """The k-nearest-neighbour product x product similarity matrix S (see module docstring)."""
    bought = _binary(user_items)
    counts = sp.csr_matrix(bought.T @ bought, dtype=np.float64)
    support = counts.diagonal()
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    # A product is not its own neighbour; rare pairs are noise.
    counts.data[(rows == counts.indices) | (counts.data < max(min_support, 1))] = 0.0
    counts.eliminate_zeros()
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    cols = counts.indices
    both = counts.data
    if similarity == "cosine":
        values = both / np.sqrt(support[rows] * support[cols])
    elif similarity == "jaccard":
        values = both / (support[rows] + support[cols] - both)
    elif similarity == "lift":
        values = both * user_items.shape[0] / (support[rows] * support[cols])
    elif similarity == "conditional":
        values = both / support[rows]
    else:
        raise UserInputError(f"similarity must be one of {', '.join(SIMILARITIES)}")
    full = sp.csr_matrix((values.astype(np.float32), cols, counts.indptr), shape=counts.shape)
    ids, scores = top_k_per_row(full, neighbours)
    keep = ids >= 0
    out = sp.csr_matrix(
        (scores[keep], (np.nonzero(keep)[0], ids[keep])), shape=counts.shape, dtype=np.float32
    )
    out.sort_indices()
    return out


class ItemCoOccurrenceRecommender(Recommender):
    """Item-item co-occurrence recommender with top-k neighbours (module docstring).

    Parameters
    ----------
    similarity: ``cosine`` (default), ``jaccard``, ``lift`` or ``conditional``.
    neighbours: products kept per product in the similarity matrix (k).
    min_support: smallest number of common customers for a pair to count; guards ``lift``
        and ``conditional`` against pairs seen once.
    """

    similarity_: sp.csr_matrix

    def __init__(
        self, similarity: Similarity = "cosine", neighbours: int = 50, min_support: int = 2
    ) -> None:
        self.similarity = similarity
        self.neighbours = neighbours
        self.min_support = min_support

    def _fit_model(self, user_items: sp.csr_matrix) -> None:
        if self.similarity not in SIMILARITIES:
            raise UserInputError(f"similarity must be one of {', '.join(SIMILARITIES)}")
        if self.neighbours < 1:
            raise UserInputError("neighbours must be at least 1")
        self.similarity_ = item_similarity(
            user_items, self.similarity, self.neighbours, self.min_support
        )

    def _candidates(
        self, rows: npt.NDArray[np.int64], width: int, allowed: BoolArray
    ) -> tuple[Ids, Scores]:
        neighbours = self.similarity_.copy()
        neighbours.data = neighbours.data * allowed[neighbours.indices]
        neighbours.eliminate_zeros()
        scores = sp.csr_matrix(_binary(self.user_items_[rows]) @ neighbours)
        # Negative similarities cannot occur (all four measures are >= 0), so every stored
        # entry is a real candidate; exact zeros were never stored.
        return top_k_per_row(scores, width)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity_
        return {
            "similarity_indptr": s.indptr,
            "similarity_indices": s.indices,
            "similarity_data": s.data,
        }

    def _load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, object]) -> None:
        n_items = len(self.product_ids_)
        self.similarity_ = sp.csr_matrix(
            (arrays["similarity_data"], arrays["similarity_indices"], arrays["similarity_indptr"]),
            shape=(n_items, n_items),
        )
