"""Shared tabular plumbing for the predict models: DataFrame encoding and LightGBM components.

`TabularEncoder` turns a raw pandas DataFrame (numbers, text categories, missing values, the
odd number stored as text) into the float matrix that LightGBM and scikit-learn models take,
and saves what it learned as plain JSON so a model scores the same way after a restart.

Rules, learned in `fit` and applied unchanged in `transform`:

- numeric and boolean columns pass through as float; missing stays NaN;
- text columns whose every non-blank value parses as a number (IBM Telco's `TotalCharges`,
  stored as text with a blank for new customers) become numeric; blanks become NaN;
- other text / object / category columns become ordinal codes `0..k-1` over the categories
  seen in fit (sorted, so the coding does not depend on row order). Only the `max_categories`
  most frequent levels get their own code; rarer levels and levels never seen in fit share
  one "other" code `k`, so scoring new data never crashes; missing stays NaN, which
  LightGBM routes with its learned missing-value direction;
- date/time columns are refused with a clear error: turn them into ages or durations first,
  because a tree split on an absolute date does not transfer to the next scoring date.

`Component` wraps one fitted base model (LightGBM or any scikit-learn estimator) behind a
single `predict` that returns P(y=1) for classifiers and the value for regressors. A LightGBM
component predicts through its `Booster` and saves as the LightGBM text format
(`Booster.model_to_string`), never pickle, so a loaded component predicts identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from cvm.core.errors import NotFittedError, UserInputError

ColumnKind = Literal["numeric", "numeric_text", "categorical"]


class ModelNotFittedError(NotFittedError, SklearnNotFittedError):
    """Predict or save before fit; also a scikit-learn NotFittedError for sklearn tooling."""


class TabularInputError(UserInputError, ValueError):
    """A table a model cannot use: missing column, unsupported dtype, unusable labels."""


def as_frame(X: Any) -> pd.DataFrame:
    """The input as a DataFrame; arrays get the column names x0, x1, ... (scikit-learn tools)."""
    if isinstance(X, pd.DataFrame):
        return X
    if sparse.issparse(X):
        raise TabularInputError("sparse input is not supported: pass a DataFrame or dense array")
    array = np.asarray(X)
    if array.ndim != 2:
        raise TabularInputError(
            f"expected a 2-D table of features, got shape {array.shape}; Reshape your data"
        )
    if np.iscomplexobj(array):
        raise TabularInputError("Complex data not supported as features")
    frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    frame.attrs["cvm_from_array"] = True
    return frame


def _is_text_like(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _as_text(series: pd.Series) -> pd.Series:
    """Values as stripped strings; missing and blank values become None."""
    values = series.astype(object)
    missing = values.isna().to_numpy()
    # a copy: pandas may hand back a read-only array (an empty Series does)
    text = np.array(values.map(lambda v: None if v is None else str(v).strip()), dtype=object)
    text[missing] = None
    text[text == ""] = None
    return pd.Series(text, index=series.index, dtype=object)


_NUMERIC_OBJECTS = frozenset({"integer", "floating", "decimal", "mixed-integer-float"})


def _parses_back_exactly(dtype: Any) -> bool:
    """Integer or float storage: the row-by-row rule prints each value as a Python int or
    float and parses it back, which gives the value itself as float64."""
    types = pd.api.types
    if types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return False  # str(True) is "True", which parses as missing
    return bool(types.is_integer_dtype(dtype) or types.is_float_dtype(dtype))


def _distinct_values_suffice(spec: ColumnSpec, series: pd.Series) -> bool:
    """Whether encoding the distinct values of `series` equals encoding every row.

    `pd.factorize` merges values that compare equal, so this holds when equal values also
    have equal text (`str`): strings, integers, categories. Numbers that compare equal but
    print differently (1 and 1.0, 0.0 and -0.0, Decimal("1.0") and 1) still parse to the same
    float, so they are safe for numeric kinds only; True == 1 prints "True" and parses as
    missing, so object columns mixing booleans and numbers keep the row-by-row path.
    """
    dtype = series.dtype
    types = pd.api.types
    if isinstance(dtype, pd.CategoricalDtype) or types.is_bool_dtype(dtype):
        return True
    if types.is_integer_dtype(dtype):
        return True
    if types.is_float_dtype(dtype):
        return spec.kind != "categorical"
    if types.is_object_dtype(dtype):
        inferred = types.infer_dtype(series, skipna=True)
        if inferred in ("string", "empty", "integer"):
            return True
        return spec.kind != "categorical" and inferred in _NUMERIC_OBJECTS
    return types.is_string_dtype(dtype)  # pandas' own string dtypes hold only str and NA


@dataclass(frozen=True)
class ColumnSpec:
    """How one input column is encoded (JSON-serialisable)."""

    name: str
    kind: ColumnKind
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        return cls(str(data["name"]), data["kind"], tuple(str(c) for c in data["categories"]))


class TabularEncoder:
    """Learns a column-by-column encoding of a DataFrame; see the module docstring for rules."""

    def __init__(self, max_categories: int = 200) -> None:
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame) -> TabularEncoder:
        """Learn the kind of each column and, for categorical ones, the category list."""
        frame = as_frame(X)
        if frame.shape[1] == 0:
            raise TabularInputError(
                f"0 feature(s) (shape={frame.shape}) while a minimum of 1 is required."
            )
        if frame.columns.duplicated().any():
            dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise TabularInputError(f"duplicate feature columns: {dups}")
        self.columns_ = [self._learn(str(name), frame[name]) for name in frame.columns]
        return self

    def _learn(self, name: str, series: pd.Series) -> ColumnSpec:
        if pd.api.types.is_datetime64_any_dtype(series) or isinstance(series.dtype, pd.PeriodDtype):
            raise TabularInputError(
                f"column {name!r} holds dates ({series.dtype}); derive a number such as "
                "days since the event before fitting"
            )
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            if not _is_text_like(series):
                return ColumnSpec(name, "numeric")
        text = _as_text(series)
        present = text.dropna()
        if len(present) and pd.to_numeric(present, errors="coerce").notna().all():
            return ColumnSpec(name, "numeric_text")
        counts = present.value_counts()
        # most frequent first, ties broken by value so the choice is deterministic
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = sorted(value for value, _ in ranked[: self.max_categories])
        return ColumnSpec(name, "categorical", tuple(kept))

    def _check_fitted(self) -> list[ColumnSpec]:
        if not hasattr(self, "columns_"):
            raise ModelNotFittedError("the encoder is not fitted: call fit(X) first")
        return self.columns_

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self._check_fitted()]

    @property
    def categorical_indices(self) -> list[int]:
        """Positions of categorical columns (for LightGBM's `categorical_feature`)."""
        specs = self._check_fitted()
        return [i for i, spec in enumerate(specs) if spec.kind == "categorical"]

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Float matrix in the fitted column order; extra input columns are ignored."""
        specs = self._check_fitted()
        frame = as_frame(X)
        if frame.attrs.get("cvm_from_array") and frame.shape[1] != len(specs):
            # positional input: a different width means different columns, not extra ones
            raise TabularInputError(
                f"X has {frame.shape[1]} features, but estimator is expecting {len(specs)} "
                "features as input"
            )
        names = {str(c): c for c in frame.columns}
        missing = [spec.name for spec in specs if spec.name not in names]
        if missing:
            raise TabularInputError(f"columns used in fit are missing: {missing}")
        out = np.empty((len(frame), len(specs)), dtype=np.float64)
        for j, spec in enumerate(specs):
            out[:, j] = self._encode(spec, frame[names[spec.name]])
            if np.isinf(out[:, j]).any():
                raise TabularInputError(f"column {spec.name!r} holds infinite values")
        return out

    @classmethod
    def _encode(cls, spec: ColumnSpec, series: pd.Series) -> np.ndarray:
        if spec.kind == "numeric" and not _is_text_like(series):
            return np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)
        if spec.kind != "categorical" and _parses_back_exactly(series.dtype):
            # printing a number and parsing it back gives the number itself
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        if _distinct_values_suffice(spec, series):
            # Encode each distinct value once and spread the codes: a million rows of a
            # dozen countries cost a dozen string operations, not a million.
            positions, uniques = pd.factorize(series, use_na_sentinel=True)
            coded = np.append(cls._encode_values(spec, pd.Series(uniques, dtype=object)), np.nan)
            return coded[positions]  # position -1 (missing) picks the NaN appended last
        return cls._encode_values(spec, series)

    @staticmethod
    def _encode_values(spec: ColumnSpec, series: pd.Series) -> np.ndarray:
        """The row-by-row rule of the module docstring for text and text-stored numbers."""
        text = _as_text(series)
        if spec.kind in ("numeric", "numeric_text"):
            # unparseable text at scoring time is treated as missing, like a blank
            return np.asarray(pd.to_numeric(text, errors="coerce"), dtype=np.float64)
        codes = {value: float(i) for i, value in enumerate(spec.categories)}
        other = float(len(spec.categories))
        return np.array(
            [np.nan if v is None else codes.get(v, other) for v in text], dtype=np.float64
        )

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_categories": self.max_categories,
            "columns": [spec.to_dict() for spec in self._check_fitted()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularEncoder:
        encoder = cls(max_categories=int(data["max_categories"]))
        encoder.columns_ = [ColumnSpec.from_dict(c) for c in data["columns"]]
        return encoder


ComponentKind = Literal["classifier", "regressor"]


def lgbm_settings(
    *,
    n_estimators: int,
    learning_rate: float,
    num_leaves: int,
    min_child_samples: int,
    random_state: int,
    n_jobs: int,
) -> dict[str, Any]:
    """LightGBM settings that make a fit reproducible bit for bit on the same machine."""
    return {
        "n_estimators": n_estimators,
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_child_samples": min_child_samples,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
        "random_state": random_state,
        "n_jobs": n_jobs,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


class Component:
    """One fitted base model behind a single `predict(X) -> P(y=1) or value`."""

    def __init__(self, kind: ComponentKind, booster: lgb.Booster | None, estimator: Any) -> None:
        self.kind = kind
        self.booster = booster
        self.estimator = estimator

    @classmethod
    def fit(
        cls,
        estimator: Any,
        kind: ComponentKind,
        X: np.ndarray,
        y: np.ndarray,
        categorical: list[int],
    ) -> Component:
        """Fit `estimator` (already a fresh clone) on encoded X; LightGBM gets the categoricals."""
        if isinstance(estimator, lgb.LGBMModel):
            estimator.fit(X, y, categorical_feature=categorical or "auto")
            return cls(kind, estimator.booster_, None)
        estimator.fit(X, y)
        return cls(kind, None, estimator)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.booster is not None:
            # for a binary LightGBM classifier the booster returns P(y=1) directly
            return np.asarray(self.booster.predict(X), dtype=np.float64)
        if self.kind == "classifier":
            proba = self.estimator.predict_proba(X)
            positive = list(self.estimator.classes_).index(1)
            return np.asarray(proba[:, positive], dtype=np.float64)
        return np.asarray(self.estimator.predict(X), dtype=np.float64)

    @property
    def savable(self) -> bool:
        return self.booster is not None

    def save(self, path: Path) -> None:
        """Write the LightGBM text model; other estimators have no pickle-free format here."""
        if self.booster is None:
            raise TabularInputError(
                f"cannot save a {type(self.estimator).__name__} base model without pickle; "
                "only LightGBM base models save as plain files"
            )
        path.write_text(self.booster.model_to_string(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path, kind: ComponentKind) -> Component:
        return cls(kind, lgb.Booster(model_str=path.read_text(encoding="utf-8")), None)
