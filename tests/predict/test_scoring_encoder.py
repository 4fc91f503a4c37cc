"""The encoder's fast paths (each distinct value encoded once; float64 and integers passed
through) give exactly the codes and numbers of the row-by-row rule, whatever the storage."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cvm.predict.tabular import ColumnSpec, TabularEncoder, TabularInputError

CATEGORIES = ("-0.0", "0.0", "1", "1.0", "DE", "True", "a b", "ru")


def plain_encode(spec: ColumnSpec, series: pd.Series) -> np.ndarray:
    """The rule of `cvm.predict.tabular`, one row at a time with no shortcut."""
    if spec.kind == "numeric" and not (
        pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
        or isinstance(series.dtype, pd.CategoricalDtype)
    ):
        return np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)
    values = series.astype(object)
    missing = values.isna().to_numpy()
    out = np.full(len(values), np.nan)
    codes = {value: float(i) for i, value in enumerate(spec.categories)}
    for i, value in enumerate(values.tolist()):
        text = "" if missing[i] else str(value).strip()
        if not text:
            continue
        if spec.kind == "categorical":
            out[i] = codes.get(text, float(len(spec.categories)))
        else:
            parsed = pd.to_numeric(pd.Series([text], dtype=object), errors="coerce").iloc[0]
            out[i] = float(parsed)
    return out


def encoder(*specs: ColumnSpec) -> TabularEncoder:
    return TabularEncoder.from_dict(
        {"max_categories": 200, "columns": [spec.to_dict() for spec in specs]}
    )


def assert_same_encoding(series: pd.Series, kinds: tuple[str, ...] = ("categorical",)) -> None:
    for kind in kinds:
        spec = ColumnSpec("x", kind, CATEGORIES if kind == "categorical" else ())  # type: ignore[arg-type]
        got = encoder(spec).transform(pd.DataFrame({"x": series}))[:, 0]
        np.testing.assert_array_equal(got, plain_encode(spec, series), err_msg=f"{kind} {series}")


ALL_KINDS = ("categorical", "numeric_text", "numeric")

COLUMNS: dict[str, pd.Series] = {
    "pandas strings": pd.Series(["ru", " ru ", "", None, "DE", "fr", "a b", "ru"], dtype="string"),
    "arrow strings": pd.Series(["ru", "  ", None, "x", "1.0", " 1"], dtype="string[pyarrow]"),
    "object strings": pd.Series(["ru", None, np.nan, " DE", "", "1", "1.0"], dtype=object),
    "category": pd.Series(pd.Categorical(["ru", "DE", None, "zz", "ru", " ru"])),
    "ints and bools mixed": pd.Series([1, True, 1.0, "1", 0, False, None], dtype=object),
    "signed zeros": pd.Series([0.0, -0.0, 1.0, np.nan, -0.0]),
    "float32": pd.Series([0.1, 1.5, np.nan, 3.0], dtype=np.float32),
    "float64": pd.Series([0.1, 1e16, -2.5, np.nan, 1e-7]),
    "int64": pd.Series([1, 0, -3, 2**62, 1]),
    "nullable ints": pd.Series([1, None, 3, 1], dtype="Int64"),
    "nullable floats": pd.Series([0.1, None, 2.0], dtype="Float64"),
    "big unsigned": pd.Series([2**64 - 1, 0, 2**53 + 1], dtype=np.uint64),
    "bools": pd.Series([True, False, True]),
    "decimals": pd.Series([Decimal("1"), Decimal("1.0"), Decimal("0"), None, Decimal("2.50")]),
    "numbers as objects": pd.Series([1, 2.5, None, 1.0, -0.0, 0], dtype=object),
    "all missing": pd.Series([None, None, np.nan], dtype=object),
    "empty": pd.Series([], dtype=object),
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_fast_encoding_equals_the_row_by_row_rule(name: str) -> None:
    assert_same_encoding(COLUMNS[name], ALL_KINDS)


TRICKY: list[Any] = [
    None,
    np.nan,
    pd.NA,
    "",
    "  ",
    "ru",
    " ru",
    "DE",
    "1",
    "1.0",
    " 1 ",
    "True",
    "-0.0",
    1,
    0,
    True,
    False,
    1.0,
    0.0,
    -0.0,
    2.5,
    Decimal("1"),
    Decimal("1.0"),
    np.int64(1),
    np.float64(0.1),
]


@given(st.lists(st.sampled_from(TRICKY), max_size=30))
def test_any_mix_of_tricky_values_encodes_like_the_rule(values: list[Any]) -> None:
    assert_same_encoding(pd.Series(values, dtype=object), ALL_KINDS)


@given(st.lists(st.sampled_from(["ru", " ru", "", "DE", "1", " 1.0 ", "x y"]) | st.none()))
def test_any_string_column_encodes_like_the_rule(values: list[str | None]) -> None:
    assert_same_encoding(pd.Series(values, dtype="string"), ALL_KINDS)


def test_infinite_numbers_are_refused_on_every_path() -> None:
    spec = ColumnSpec("x", "numeric_text")
    for series in (pd.Series([1.0, np.inf]), pd.Series(["1", "inf"], dtype=object)):
        with pytest.raises(TabularInputError, match="'x' holds infinite values"):
            encoder(spec).transform(pd.DataFrame({"x": series}))
