"""The JSON columns assembled from precomputed pieces are spelled exactly as json.dumps spells
them, for awkward labels and numbers too."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cvm.predict.scoring import json_number_objects, json_string_lists


def test_product_lists_are_spelled_like_json_dumps() -> None:
    labels = np.array(["P1", 'say "hi"', "back\\slash", "ünï", "", 42, "tab\t"], dtype=object)
    positions = np.array(
        [[0, 1, 2], [3, 4, 5], [6, -1, -1], [-1, -1, -1], [5, 0, -1]], dtype=np.int32
    )
    got = json_string_lists(labels, positions).to_pylist()
    expected = [json.dumps([str(labels[p]) for p in row if p >= 0]) for row in positions]
    assert got == expected
    assert got[3] == "[]"


def test_number_objects_are_spelled_like_json_dumps() -> None:
    values = np.array([0.1234564999, -0.0, 1e-7, 2.5e16, 123456.1234567, np.nan, np.inf, -np.inf])
    other = np.linspace(-1, 1, len(values))
    columns = {"CMP-1": values, 'with "quote" and %s': other}
    got = json_number_objects(columns, len(values)).to_pylist()
    expected = [
        json.dumps({k: round(float(v[i]), 6) for k, v in columns.items()})
        for i in range(len(values))
    ]
    assert got == expected
    single = json_number_objects({"CMP-1": values}, len(values)).to_pylist()
    assert single == [json.dumps({"CMP-1": round(float(v), 6)}) for v in values]


def test_no_uplift_model_gives_nulls() -> None:
    assert json_number_objects({}, 3).to_pylist() == [None, None, None]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=40))
def test_any_float_rounds_and_prints_like_python(floats: list[float]) -> None:
    values = np.array(floats, dtype=np.float64)
    got = json_number_objects({"k": values}, len(values)).to_pylist()
    assert got == [json.dumps({"k": round(v, 6)}) for v in floats]
