"""Value tiers by CLV rank: `top 1%`, `top 10%`, `top 50%`, `bottom 50%` (cut-offs configurable)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def tier_labels(cutoffs: list[float]) -> list[str]:
    """Names for the tiers defined by increasing top-share cut-offs, e.g. [0.01, 0.1, 0.5]."""
    labels = [f"top {c * 100:g}%" for c in cutoffs]
    labels.append(f"bottom {(1 - cutoffs[-1]) * 100:g}%")
    return labels


def assign_value_tiers(
    clv: npt.NDArray[np.float64], cutoffs: list[float]
) -> npt.NDArray[np.object_]:
    """Tier of each customer by the rank of their CLV (ties broken by position, stable).

    A customer in the top ``c`` share of CLV (rank < ceil(c · n)) gets the first tier whose
    cut-off contains them; customers with missing CLV get None.
    """
    cutoffs = sorted(cutoffs)
    labels = tier_labels(cutoffs)
    out = np.full(len(clv), None, dtype=object)
    valid = ~np.isnan(clv)
    n = int(valid.sum())
    if n == 0:
        return out
    order = np.argsort(-clv[valid], kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n)
    tier_index = np.full(n, len(cutoffs), dtype=np.int64)
    for i in reversed(range(len(cutoffs))):
        tier_index[ranks < int(np.ceil(cutoffs[i] * n))] = i
    out[valid] = np.asarray(labels, dtype=object)[tier_index]
    return out
