"""Ground truth: simulate customers from known parameters, fit, and recover the parameters.

Also checks the simulators and the prediction formulas against each other: the mean simulated
frequency must match the model's E[X(T)], and the mean of P(alive | history) must match the
simulated share of customers still alive (law of total probability).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from cvm.core.errors import UserInputError
from cvm.value.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ClvModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_gamma_gamma,
    simulate_mbg_nbd,
    simulate_pareto_nbd,
    simulate_shifted_beta_geo,
)


def assert_recovered(
    model: ClvModel, truth: dict[str, float], max_relative_se: float = 0.25
) -> None:
    assert model.convergence_.success
    for name, value in truth.items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert 0 < se < max_relative_se * value, (name, se)
        assert abs(estimate - value) < 4 * se, (name, estimate, value, se)
        low, high = model.confidence_intervals_[name]
        assert low < estimate < high


CONTINUOUS: list[tuple[type[ClvModel], Callable[..., pd.DataFrame], dict[str, float], int]] = [
    (BetaGeoModel, simulate_bg_nbd, {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, 30_000),
    (ModifiedBetaGeoModel, simulate_mbg_nbd, {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}, 30_000),
    (
        ParetoNBDModel,
        simulate_pareto_nbd,
        {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7},
        8_000,
    ),
]


@pytest.mark.parametrize(
    ("model_cls", "simulate", "truth", "n"), CONTINUOUS, ids=lambda v: getattr(v, "__name__", "")
)
def test_continuous_models_recover_parameters(
    model_cls: type[ClvModel],
    simulate: Callable[..., pd.DataFrame],
    truth: dict[str, float],
    n: int,
) -> None:
    rng = np.random.default_rng(7)
    # Cohorts acquired over 1.5 years, observed in whole days (time unit: weeks), as real data.
    ages = np.round(rng.uniform(26, 104, n) * 7) / 7
    data = simulate(truth, n, ages, seed=11)
    data["recency"] = np.floor(data["recency"] * 7) / 7
    model = model_cls().fit(data[["frequency", "recency", "T"]])
    assert_recovered(model, truth)


@pytest.mark.parametrize(
    ("model_cls", "simulate", "truth", "n"), CONTINUOUS, ids=lambda v: getattr(v, "__name__", "")
)
def test_simulators_agree_with_the_prediction_formulas(
    model_cls: type[ClvModel],
    simulate: Callable[..., pd.DataFrame],
    truth: dict[str, float],
    n: int,
) -> None:
    data = simulate(truth, 40_000, 52.0, seed=3)
    model = model_cls.from_params(truth)
    mean, se = data["frequency"].mean(), data["frequency"].std() / np.sqrt(len(data))
    assert abs(mean - model.expected_purchases_new_customer(52.0)) < 4 * se  # type: ignore[attr-defined]
    alive = model.probability_alive(data).to_numpy()  # type: ignore[attr-defined]
    assert abs(alive.mean() - data["alive"].mean()) < 4 * data["alive"].std() / np.sqrt(len(data))


def test_bg_bb_recovers_parameters() -> None:
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    data = simulate_bg_bb(truth, 30_000, 6, seed=5)
    assert_recovered(BetaGeoBetaBinomModel().fit(data), truth)
    model = BetaGeoBetaBinomModel.from_params(truth)
    shares = data["frequency"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(model.probability_of_n_purchases(6, np.arange(7)), shares, atol=0.01)


def test_shifted_beta_geo_recovers_parameters() -> None:
    truth = {"alpha": 0.7, "beta": 1.2}
    data = simulate_shifted_beta_geo(truth, 20_000, 8, seed=6)
    model = ShiftedBetaGeoModel().fit(data)
    assert_recovered(model, truth)
    survived = [(data["recency"] > t).mean() for t in range(8)]
    np.testing.assert_allclose(model.survival(np.arange(8)), survived, atol=0.01)


def test_gamma_gamma_recovers_parameters() -> None:
    truth = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    frequency = np.random.default_rng(2).integers(1, 12, 20_000)
    data = simulate_gamma_gamma(truth, frequency, seed=8)
    model = GammaGammaModel().fit(data[["frequency", "monetary_value"]])
    assert_recovered(model, truth)
    # The conditional expected spend predicts each customer's true mean better than their own mean.
    own = np.mean((data["monetary_value"] - data["mean_spend"]) ** 2)
    shrunk = np.mean((model.expected_spend(data) - data["mean_spend"]) ** 2)
    assert shrunk < own


def test_simulators_validate_their_arguments() -> None:
    with pytest.raises(UserInputError, match="missing"):
        simulate_bg_nbd({"r": 1.0}, 10, 5.0, seed=0)
    with pytest.raises(UserInputError, match="positive"):
        simulate_pareto_nbd({"r": 1.0, "alpha": -1.0, "s": 1.0, "beta": 1.0}, 10, 5.0, seed=0)
    with pytest.raises(UserInputError, match="whole"):
        simulate_bg_bb({"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0}, 10, 2.5, seed=0)
    a = simulate_bg_nbd({"r": 1.0, "alpha": 2.0, "a": 1.0, "b": 2.0}, 100, 10.0, seed=1)
    b = simulate_bg_nbd({"r": 1.0, "alpha": 2.0, "a": 1.0, "b": 2.0}, 100, 10.0, seed=1)
    pd.testing.assert_frame_equal(a, b)
