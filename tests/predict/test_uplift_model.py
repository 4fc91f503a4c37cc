"""UpliftModel: planted heterogeneous effects, several arms, plain-file persistence, Hillstrom.

LightGBM runs on one thread in these tests: on a shared 2-core machine two OpenMP threads
per fit can spin against other work and slow a test several-fold; results are the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import spearmanr
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split
from tests.conftest import shared_file

from cvm.predict.tabular import TabularInputError
from cvm.predict.uplift import UpliftModel
from cvm.predict.uplift_metrics import evaluate_uplift

FAST = {"n_estimators": 150, "num_leaves": 7, "min_child_samples": 50, "n_folds": 3, "n_jobs": 1}


def _simulate(
    n: int, p_treat: float, seed: int, binary: bool = False
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Planted truth: a complex baseline mu_0 and an effect driven by x0 and x1 only.

    tau(x) = 0.5 + x0 + 0.5 * [x1 > 0] on the outcome scale (continuous y), or on the
    log-odds scale for binary y (then the returned tau is the true change in probability).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 6))
    X = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    X["region"] = rng.choice(["north", "south", "east", "west"], n)
    mu0 = (
        2 * np.sin(3 * x[:, 2])
        + 2 * x[:, 3] ** 2
        + (X["region"] == "north")
        + 2 * x[:, 4] * x[:, 5]
    )
    tau = 0.5 + x[:, 0] + 0.5 * (x[:, 1] > 0)
    w = (rng.random(n) < p_treat).astype(int)
    if binary:
        p0, p1 = expit(-1 + 0.5 * mu0), expit(-1 + 0.5 * mu0 + tau)
        return X, w, (rng.random(n) < np.where(w == 1, p1, p0)).astype(int), p1 - p0
    return X, w, mu0 + w * tau + rng.normal(0, 1, n), tau


def _rank_agreement(
    method: str, p_treat: float, binary: bool, seed: int = 1, **kw: object
) -> float:
    X, w, y, _ = _simulate(4000, p_treat, seed, binary)
    X_new, _, _, tau = _simulate(2000, p_treat, 100 + seed, binary)
    settings = {**FAST, "propensity": "constant", **kw}
    model = UpliftModel(method=method, **settings).fit(X, w, y)  # type: ignore[arg-type]
    return float(spearmanr(model.predict(X_new), tau)[0])


@pytest.mark.parametrize("method", ["t", "x", "dr"])
def test_each_learner_ranks_customers_by_the_planted_effect(method: str) -> None:
    assert _rank_agreement(method, 0.5, binary=False) > 0.8
    assert _rank_agreement(method, 0.5, binary=True) > 0.6


def test_x_learner_beats_t_learner_when_few_are_treated() -> None:
    """Künzel et al. (2019): with 10% treated and a simpler effect than baseline, X wins.
    (DR does not beat T in this design: 1/(pi(1-pi)) = 11 inflates its pseudo-outcomes.)"""
    t, x = _rank_agreement("t", 0.1, False), _rank_agreement("x", 0.1, False)
    assert x > t + 0.05


def test_dr_learner_beats_t_learner_on_the_balanced_design() -> None:
    assert _rank_agreement("dr", 0.5, False) > _rank_agreement("t", 0.5, False)


def test_several_arms_get_one_effect_column_each() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    X = pd.DataFrame({"x0": rng.uniform(-1, 1, n), "x1": rng.uniform(-1, 1, n)})
    arm = rng.choice(["control", "email", "sms"], n)
    effect = np.select([arm == "email", arm == "sms"], [1.0 + X["x0"], -1.0], 0.0)
    y = X["x1"] + effect + rng.normal(0, 0.5, n)
    model = UpliftModel(method="x", control="control", **FAST).fit(X, arm, y)
    table = model.predict(X)
    assert isinstance(table, pd.DataFrame) and list(table.columns) == ["email", "sms"]
    np.testing.assert_array_equal(model.predict(X, treatment="sms"), table["sms"].to_numpy())
    assert spearmanr(table["email"], X["x0"])[0] > 0.8
    assert table["sms"].mean() == pytest.approx(-1.0, abs=0.15)
    with pytest.raises(TabularInputError, match="unknown treatment"):
        model.predict(X, treatment="push")


@pytest.mark.parametrize(
    ("method", "propensity"),
    [("t", "estimate"), ("x", "estimate"), ("x", "constant"), ("dr", "estimate")],
)
def test_save_and_load_predict_identically(tmp_path: Path, method: str, propensity: str) -> None:
    X, w, y, _ = _simulate(1500, 0.5, 4, binary=True)
    arms = np.where(w == 1, "offer", "none")
    model = UpliftModel(method=method, control="none", propensity=propensity, **FAST)  # type: ignore[arg-type]
    model.fit(X, arms, y)
    folder = model.save(tmp_path / method)
    assert {p.suffix for p in folder.iterdir()} == {".json", ".txt"}
    loaded = UpliftModel.load(folder)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params() == model.get_params()


def test_fit_is_deterministic_and_accepts_other_estimators(tmp_path: Path) -> None:
    X, w, y, tau = _simulate(3000, 0.5, 5)
    a = UpliftModel(method="dr", **FAST).fit(X, w, y).predict(X)
    np.testing.assert_array_equal(a, UpliftModel(method="dr", **FAST).fit(X, w, y).predict(X))
    forest = RandomForestRegressor(
        60, min_samples_leaf=20, max_features=0.5, n_jobs=1, random_state=0
    )
    model = UpliftModel(
        method="x", outcome_model=forest, effect_model=forest, propensity="constant"
    )
    assert spearmanr(model.fit(X, w, y).predict(X), tau)[0] > 0.6
    with pytest.raises(TabularInputError, match="only LightGBM"):
        model.save(tmp_path / "forest")


def test_clear_errors() -> None:
    X, w, y, _ = _simulate(500, 0.5, 6)
    with pytest.raises(TabularInputError, match="control label"):
        UpliftModel(control="none").fit(X, w, y)
    with pytest.raises(TabularInputError, match="method"):
        UpliftModel(method="s").fit(X, w, y)  # type: ignore[arg-type]
    with pytest.raises(TabularInputError, match="differ in length"):
        UpliftModel().fit(X, w[:-1], y)


HILLSTROM_FEATURES = [
    "recency",
    "history",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "channel",
    "history_segment",
]


@pytest.fixture(scope="module")
def hillstrom() -> pd.DataFrame:
    data = pd.read_csv(shared_file("hillstrom.csv"))
    return data[data["segment"].isin(["Womens E-Mail", "No E-Mail"])].reset_index(drop=True)


@pytest.mark.parametrize("method", ["t", "x", "dr"])
def test_hillstrom_womens_email_beats_random_targeting_out_of_sample(
    hillstrom: pd.DataFrame, method: str
) -> None:
    """Womens E-Mail vs No E-Mail, outcome visit; 50/50 split seeded, test half scored."""
    train, test = train_test_split(
        hillstrom,
        test_size=0.5,
        random_state=0,
        stratify=hillstrom["segment"] + hillstrom["visit"].astype(str),
    )
    model = UpliftModel(method=method, control="No E-Mail", n_jobs=1)
    model.fit(train[HILLSTROM_FEATURES], train["segment"], train["visit"])
    uplift = model.predict(test[HILLSTROM_FEATURES], treatment="Womens E-Mail")
    treated = (test["segment"] == "Womens E-Mail").to_numpy().astype(int)
    report = evaluate_uplift(
        test["visit"].to_numpy(), uplift, treated, k=0.3, n_bootstrap=200, seed=0
    )
    q, top = report.qini_coefficient, report.uplift_at_k
    print(
        f"Hillstrom {method}: Qini {q.value:.4f} [{q.low:.4f}, {q.high:.4f}], AUUC {report.auuc.value:.4f}, "
        f"uplift@30% {top.value:.4f} [{top.low:.4f}, {top.high:.4f}], ATE {report.ate.value:.4f}"
    )
    assert q.low > 0.0
    assert top.low > report.ate.value
