"""The estimator contract every CLV model keeps: errors, fitted state, JSON round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cvm.core.errors import NotFittedError, UserInputError
from cvm.value.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ClvModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    simulate_bg_nbd,
)

RFT = pd.DataFrame(
    {
        "frequency": [0, 2, 5, 1, 3],
        "recency": [0.0, 20.5, 30.0, 4.0, 38.0],
        "T": [38.9, 38.9, 38.0, 30.0, 38.5],
    }
)
DISCRETE = pd.DataFrame(
    {
        "frequency": [0, 1, 3, 6],
        "recency": [0, 2, 5, 6],
        "T": [6, 6, 6, 6],
        "weights": [30, 20, 15, 10],
    }
)
CONTRACTS = pd.DataFrame(
    {"recency": [1, 2, 3, 8, 8, 5], "T": [8] * 6, "weights": [30, 20, 10, 25, 15, 5]}
)
SPEND = pd.DataFrame(
    {"frequency": [1, 2, 3, 5, 8, 2], "monetary_value": [10.0, 25.0, 14.0, 40.0, 22.0, 31.0]}
)

SIMULATED = simulate_bg_nbd({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}, 400, 39.0, seed=1)[
    ["frequency", "recency", "T"]
]

CASES: list[tuple[type[ClvModel], pd.DataFrame]] = [
    (BetaGeoModel, SIMULATED),
    (ModifiedBetaGeoModel, SIMULATED),
    (ParetoNBDModel, SIMULATED),
    (BetaGeoBetaBinomModel, DISCRETE),
    (ShiftedBetaGeoModel, CONTRACTS),
    (GammaGammaModel, SPEND),
]
IDS = [cls.__name__ for cls, _ in CASES]


def predictions(model: Any, data: pd.DataFrame) -> list[Any]:
    if isinstance(model, GammaGammaModel):
        return [model.expected_spend(data), model.expected_spend_new_customer()]
    out = [
        model.expected_purchases(data, 4),
        model.probability_alive(data),
        model.expected_purchases_new_customer(5),
    ]
    if hasattr(model, "probability_of_n_purchases"):
        out.append(model.probability_of_n_purchases(6, np.arange(3)))
    return out


@pytest.mark.parametrize(("cls", "data"), CASES, ids=IDS)
def test_predicting_before_fit_raises(cls: type[ClvModel], data: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        predictions(cls(), data)
    with pytest.raises(NotFittedError):
        cls().to_json()


@pytest.mark.parametrize(("cls", "data"), CASES, ids=IDS)
def test_fit_returns_self_and_json_round_trip_predicts_identically(
    cls: type[ClvModel], data: pd.DataFrame, tmp_path: Path
) -> None:
    model = cls(penalizer=0.001)
    assert model.fit(data) is model
    assert model.convergence_.success and model.convergence_.hessian_positive_definite
    assert set(model.params_) == set(cls.param_names)
    text = model.to_json()
    state = json.loads(text)  # plain JSON: no NaN, no pickle
    assert state["model"] == cls.__name__ and state["settings"]["penalizer"] == 0.001
    assert set(state["convergence"]) >= {"success", "iterations", "message", "gradient_norm"}
    model.save(tmp_path / "model.json")
    for restored in (
        cls.from_json(text),
        cls.load(tmp_path / "model.json"),
        ClvModel.from_json(text),
    ):
        assert type(restored) is cls and restored.params_ == model.params_
        assert restored.standard_errors_ == model.standard_errors_
        for ours, theirs in zip(predictions(model, data), predictions(restored, data), strict=True):
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_degenerate_data_is_reported_not_hidden() -> None:
    # Five customers cannot pin down four parameters: the fit ends on a ridge (a -> 0) and the
    # report says so instead of pretending; the model still predicts and serialises.
    model = BetaGeoModel().fit(RFT)
    assert not model.convergence_.success and not model.convergence_.hessian_positive_definite
    assert np.isnan(model.standard_errors_["a"])
    assert np.all(np.isfinite(model.expected_purchases(RFT, 10)))
    assert json.loads(model.to_json())["standard_errors"]["a"] is None


def test_loading_the_wrong_model_is_refused() -> None:
    text = BetaGeoModel().fit(SIMULATED).to_json()
    with pytest.raises(UserInputError, match="not a ParetoNBDModel"):
        ParetoNBDModel.from_json(text)
    with pytest.raises(UserInputError, match="not a saved CLV model"):
        BetaGeoModel.from_json('{"params": {}}')
    with pytest.raises(UserInputError, match="not valid JSON"):
        BetaGeoModel.from_json("pickle?")


def test_given_parameters_predict_and_serialise() -> None:
    model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert model.expected_purchases_new_customer(39.0) > 0
    assert BetaGeoModel.from_json(model.to_json()).params_ == model.params_
    with pytest.raises(UserInputError, match="missing"):
        BetaGeoModel.from_params({"r": 1.0})


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"frequency": [-1, 2, 5, 1, 3]}, "frequency"),
        ({"frequency": [0, 2.5, 5, 1, 3]}, "frequency"),
        ({"recency": [0.0, 40.0, 30.0, 4.0, 38.0]}, "recency"),
        ({"recency": [1.0, 20.5, 30.0, 4.0, 38.0]}, "recency"),
        ({"recency": [0.0, -1.0, 30.0, 4.0, 38.0]}, "recency"),
        ({"T": [38.9, np.nan, 38.0, 30.0, 38.5]}, "T"),
        ({"T": ["a", "b", "c", "d", "e"]}, "T"),
        ({"weights": [1, 1, -2, 1, 1]}, "weights"),
    ],
)
@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel, ModifiedBetaGeoModel])
def test_bad_input_names_the_column(
    cls: type[ClvModel], change: dict[str, list[Any]], column: str
) -> None:
    with pytest.raises(UserInputError, match=f"'{column}'"):
        cls().fit(RFT.assign(**change))


@pytest.mark.parametrize(("cls", "data"), CASES, ids=IDS)
def test_missing_column_is_named(cls: type[ClvModel], data: pd.DataFrame) -> None:
    for column in cls.input_columns:
        with pytest.raises(UserInputError, match=f"missing column '{column}'"):
            cls().fit(data.drop(columns=[column]))


def test_bad_row_is_located_by_index_label() -> None:
    data = RFT.set_axis(["c1", "c2", "c3", "c4", "c5"]).assign(recency=[0.0, 20.5, 39.0, 4.0, 38.0])
    with pytest.raises(UserInputError, match="recency <= T.*'c3'"):
        BetaGeoModel().fit(data)
    fitted = BetaGeoModel().fit(SIMULATED)
    with pytest.raises(UserInputError, match="'recency'"):
        fitted.expected_purchases(data, 10)


def test_settings_are_checked_at_fit() -> None:
    assert repr(BetaGeoModel(penalizer=0.1)).startswith("BetaGeoModel(penalizer=0.1")
    with pytest.raises(UserInputError, match="penalizer"):
        BetaGeoModel(penalizer=-1.0).fit(RFT)
    with pytest.raises(UserInputError, match="confidence_level"):
        BetaGeoModel(confidence_level=1.5).fit(RFT)
    with pytest.raises(UserInputError, match="DataFrame"):
        BetaGeoModel().fit(RFT.to_numpy())  # type: ignore[arg-type]


def test_predictions_are_aligned_with_the_input_index() -> None:
    data = RFT.set_axis([10, 11, 12, 13, 14])
    fitted = BetaGeoModel().fit(SIMULATED)
    result = fitted.expected_purchases(data, 10)
    assert list(result.index) == [10, 11, 12, 13, 14] and result.name == "expected_purchases"
    per_customer_t = fitted.expected_purchases(data, np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert per_customer_t.iloc[0] == pytest.approx(
        fitted.expected_purchases(data.iloc[[0]], 1.0).iloc[0]
    )
