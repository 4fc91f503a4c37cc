"""TabularEncoder: kinds learned in fit, unseen and rare categories, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cvm.predict.tabular import ModelNotFittedError, TabularEncoder, TabularInputError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "plan": pd.Series(["gold", "silver", None, "gold", "bronze"], dtype="string"),
            "spend": [1.5, np.nan, 3.0, 4.0, 0.0],
            "total": ["10.5", " ", "7", None, "3.25"],  # numbers stored as text, one blank
            "active": [True, False, True, True, False],
            "tier": pd.Categorical(["a", "b", "a", "c", "b"]),
        }
    )


def test_kinds_and_codes_are_learned_from_the_data() -> None:
    encoder = TabularEncoder().fit(_frame())
    kinds = {spec.name: spec.kind for spec in encoder.columns_}
    assert kinds == {
        "plan": "categorical",
        "spend": "numeric",
        "total": "numeric_text",
        "active": "numeric",
        "tier": "categorical",
    }
    matrix = encoder.transform(_frame())
    # categories sorted: bronze=0, gold=1, silver=2; missing stays NaN
    np.testing.assert_array_equal(matrix[:, 0], [1, 2, np.nan, 1, 0])
    np.testing.assert_array_equal(matrix[:, 2], [10.5, np.nan, 7.0, np.nan, 3.25])
    np.testing.assert_array_equal(matrix[:, 3], [1, 0, 1, 1, 0])
    assert encoder.categorical_indices == [0, 4]


def test_unseen_and_rare_categories_share_the_other_code() -> None:
    train = pd.DataFrame({"city": ["a"] * 5 + ["b"] * 3 + ["c"]})
    encoder = TabularEncoder(max_categories=2).fit(train)
    assert encoder.columns_[0].categories == ("a", "b")
    new = pd.DataFrame({"city": ["c", "zzz", "a", None], "extra": [1, 2, 3, 4]})
    np.testing.assert_array_equal(encoder.transform(new)[:, 0], [2, 2, 0, np.nan])


def test_missing_column_dates_and_unfitted_use_give_clear_errors() -> None:
    encoder = TabularEncoder().fit(_frame())
    with pytest.raises(TabularInputError, match="plan"):
        encoder.transform(_frame().drop(columns=["plan"]))
    with pytest.raises(TabularInputError, match="dates"):
        TabularEncoder().fit(pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])}))
    with pytest.raises(ModelNotFittedError):
        TabularEncoder().transform(_frame())


def test_json_round_trip_encodes_identically() -> None:
    encoder = TabularEncoder().fit(_frame())
    again = TabularEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    np.testing.assert_array_equal(again.transform(_frame()), encoder.transform(_frame()))


def test_arrays_are_matched_by_position_and_infinities_refused() -> None:
    encoder = TabularEncoder().fit(np.zeros((3, 2)))
    assert encoder.feature_names == ["x0", "x1"]
    with pytest.raises(TabularInputError, match="X has 3 features"):
        encoder.transform(np.zeros((2, 3)))
    with pytest.raises(TabularInputError, match="infinite"):
        encoder.transform(np.array([[1.0, np.inf]]))
