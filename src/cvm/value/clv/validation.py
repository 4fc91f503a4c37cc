"""Input checks for the CLV models and the aggregation of identical customers into weighted rows.

Every check raises `cvm.core.errors.UserInputError` naming the column and the first offending
row (by the DataFrame's index label), so a user can find and fix the record. Nothing is dropped
silently: a model either accepts every row or refuses the whole input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError

FloatArray = np.ndarray

WEIGHTS = "weights"


def require_columns(data: pd.DataFrame, columns: Sequence[str], model: str) -> None:
    """Raise if `data` is not a DataFrame or lacks one of `columns`."""
    if not isinstance(data, pd.DataFrame):
        raise UserInputError(
            f"{model} expects a pandas DataFrame with columns {list(columns)}, got {type(data).__name__}."
        )
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise UserInputError(
            f"{model}: missing column '{missing[0]}' (needs {list(columns)}; found {list(map(str, data.columns))})."
        )
    if len(data) == 0:
        raise UserInputError(f"{model}: the input has no rows.")


def _first_bad(data: pd.DataFrame, mask: np.ndarray) -> object:
    return data.index[int(np.argmax(mask))]


def numeric_column(data: pd.DataFrame, column: str, model: str) -> FloatArray:
    """The column as float64; refuses text, missing and infinite values."""
    series = data[column]
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise UserInputError(f"{model}: column '{column}' must be numeric ({exc}).") from None
    bad = ~np.isfinite(values)
    if bad.any():
        raise UserInputError(
            f"{model}: column '{column}' has {int(bad.sum())} missing or infinite values "
            f"(first at row {_first_bad(data, bad)!r})."
        )
    return values


def check(data: pd.DataFrame, bad: np.ndarray, column: str, model: str, rule: str) -> None:
    """Raise naming `column` when any row violates `rule` (`bad` marks the violating rows)."""
    if bad.any():
        raise UserInputError(
            f"{model}: column '{column}' must satisfy {rule}; {int(bad.sum())} rows do not "
            f"(first at row {_first_bad(data, bad)!r})."
        )


def weights_column(data: pd.DataFrame, model: str) -> FloatArray:
    """The optional `weights` column (number of identical customers a row stands for), else ones."""
    if WEIGHTS not in data.columns:
        return np.ones(len(data), dtype=np.float64)
    weights = numeric_column(data, WEIGHTS, model)
    check(data, weights < 0, WEIGHTS, model, "weights >= 0")
    if weights.sum() <= 0:
        raise UserInputError(f"{model}: column 'weights' sums to zero; there is nothing to fit.")
    return weights


def frequency_recency_T(
    data: pd.DataFrame, model: str, *, discrete: bool = False
) -> dict[str, FloatArray]:
    """Validated `frequency`, `recency`, `T` arrays for the buy-till-you-die models.

    Continuous-time models (BG/NBD, Pareto/NBD, MBG/NBD) need integer frequency >= 0 and
    0 <= recency <= T, with recency = 0 when frequency = 0 (Fader, Hardie & Lee 2005, section 2).
    Discrete-time BG/BB (`discrete=True`) also needs integer recency and T (transaction
    opportunities) and frequency <= recency, since each repeat transaction occupies one
    opportunity (Fader, Hardie & Shang 2010, section 2).
    """
    require_columns(data, ("frequency", "recency", "T"), model)
    x = numeric_column(data, "frequency", model)
    t_x = numeric_column(data, "recency", model)
    T = numeric_column(data, "T", model)
    check(data, x < 0, "frequency", model, "frequency >= 0")
    check(data, x != np.round(x), "frequency", model, "frequency is a whole number")
    check(data, t_x < 0, "recency", model, "recency >= 0")
    check(data, t_x > T, "recency", model, "recency <= T")
    check(data, (x == 0) & (t_x != 0), "recency", model, "recency = 0 when frequency = 0")
    if discrete:
        check(data, t_x != np.round(t_x), "recency", model, "recency is a whole number")
        check(data, T != np.round(T), "T", model, "T is a whole number of opportunities")
        check(data, x > t_x, "frequency", model, "frequency <= recency")
    return {"frequency": x, "recency": t_x, "T": T}


def _group_exact(kept: dict[str, FloatArray]) -> FloatArray:
    """Group codes from one `pandas.factorize` per column, combined into one integer key."""
    key = np.zeros(len(next(iter(kept.values()))), dtype=np.int64)
    n_keys = 1
    for values in kept.values():
        codes, distinct = pd.factorize(values)
        if n_keys * max(len(distinct), 1) >= 2**62:
            # Re-number the combined key densely so the next product cannot overflow int64.
            key, seen = pd.factorize(key)
            key, n_keys = key.astype(np.int64), len(seen)
        key = key * len(distinct) + codes
        n_keys *= max(len(distinct), 1)
    group, _ = pd.factorize(key)
    return group


def _group_hashed(kept: dict[str, FloatArray]) -> FloatArray:
    """Group codes from a 64-bit mix of the rows' bit patterns: one hash table pass instead of
    one per column. Two different rows could share a hash, so callers verify the grouping."""
    mixed = np.zeros(len(next(iter(kept.values()))), dtype=np.uint64)
    for values in kept.values():
        bits = (values + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
        mixed = (mixed ^ bits) * np.uint64(0x9E3779B97F4A7C15)
        mixed ^= mixed >> np.uint64(31)
    group, _ = pd.factorize(mixed.view(np.int64))
    return group


def aggregate(
    columns: Mapping[str, FloatArray], weights: FloatArray
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Collapse identical rows into one row each, summing their weights.

    The likelihood of the models here depends on a customer only through these columns, so a
    million customers cost what their distinct rows cost (Fader, Hardie & Lee 2005, section 4,
    fit the CDNOW data this way). Rows with zero weight are dropped because they carry no
    likelihood. Rows are grouped by a hash of their values, checked exactly afterwards (every
    row must equal its group's representative), with a column-by-column grouping as fallback.
    """
    keep = weights > 0
    kept = {name: np.asarray(values, dtype=np.float64)[keep] for name, values in columns.items()}
    group = _group_hashed(kept)
    representative = np.empty(int(group.max(initial=-1)) + 1, dtype=np.int64)
    # Rows of a group are identical, so any of them can represent it.
    representative[group] = np.arange(len(group))
    if not all(np.array_equal(values[representative][group], values) for values in kept.values()):
        group = _group_exact(kept)  # a hash collision: astronomically rare, but never wrong
        representative = np.empty(int(group.max(initial=-1)) + 1, dtype=np.int64)
        representative[group] = np.arange(len(group))
    counts = np.bincount(group, weights=weights[keep], minlength=len(representative))
    return {name: values[representative] for name, values in kept.items()}, counts
