"""ChurnModel: scikit-learn contract, calibration, plain-file persistence, IBM Telco accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from tests.conftest import shared_file

from cvm.predict.churn import ChurnModel
from cvm.predict.evaluation import evaluate_classifier
from cvm.predict.tabular import ModelNotFittedError, TabularInputError

# one LightGBM thread: on a shared 2-core machine two OpenMP threads per fit can spin against
# other work and slow a test several-fold; the fitted model is the same
SMALL = {"n_estimators": 80, "learning_rate": 0.1, "calibration_folds": 3, "n_jobs": 1}


def _simulate(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Churn with a known probability: logistic in tenure, plan and a missing-prone charge."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n).astype(float)
    plan = rng.choice(["monthly", "yearly", "two-year"], n, p=[0.5, 0.3, 0.2])
    charge = rng.normal(70, 20, n)
    noise = rng.normal(size=n)  # irrelevant by construction
    logit = (
        0.8 - 0.05 * tenure + np.select([plan == "yearly", plan == "two-year"], [-1.0, -2.0], 0.0)
    )
    logit += 0.02 * (charge - 70)
    p = 1.0 / (1.0 + np.exp(-logit))
    churned = np.where(rng.random(n) < p, "Yes", "No")
    charge[rng.random(n) < 0.05] = np.nan
    X = pd.DataFrame({"tenure": tenure, "plan": plan, "charge": charge, "noise": noise})
    return X, pd.Series(churned, name="churn"), p


def test_classifier_contract_and_labels() -> None:
    X, y, _ = _simulate(2000, 1)
    model = ChurnModel(**SMALL)
    assert model.fit(X, y) is model
    assert list(model.classes_) == ["No", "Yes"]
    proba = model.predict_proba(X)
    assert proba.shape == (2000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(X)) <= {"No", "Yes"}
    assert model.n_features_in_ == 4
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(ModelNotFittedError):
        ChurnModel().predict_proba(X)
    with pytest.raises(TabularInputError, match="two classes"):
        ChurnModel(**SMALL).fit(X, np.arange(len(X)) % 3)


def test_works_inside_sklearn_cross_validation_on_plain_arrays() -> None:
    X, y, p_true = _simulate(3000, 2)
    mixed = X.to_numpy()  # object array: numbers and text together, as sklearn tools pass it
    scores = cross_val_score(ChurnModel(**SMALL), mixed, y, cv=3, scoring="roc_auc")
    ceiling = roc_auc_score(y, p_true)  # AUC of the true churn probability
    assert scores.mean() > ceiling - 0.05


def test_unseen_categories_and_missing_values_at_predict_do_not_crash() -> None:
    X, y, _ = _simulate(1500, 3)
    model = ChurnModel(**SMALL).fit(X, y)
    new = X.head(4).copy()
    new["plan"] = ["lifetime", None, "monthly", "weekly"]
    new.loc[0, "tenure"] = np.nan
    p = model.predict_proba(new)[:, 1]
    assert np.isfinite(p).all()


def test_fit_is_deterministic() -> None:
    X, y, _ = _simulate(1500, 4)
    a = ChurnModel(**SMALL).fit(X, y).predict_proba(X)
    b = ChurnModel(**SMALL).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid"])
def test_calibrated_probabilities_match_the_planted_truth(calibration: str) -> None:
    X, y, _ = _simulate(6000, 5)
    X_test, y_test, p_true = _simulate(6000, 6)
    model = ChurnModel(**SMALL, calibration=calibration).fit(X, y)  # type: ignore[arg-type]
    p = model.predict_proba(X_test)[:, 1]
    report = evaluate_classifier(y_test, p, pos_label="Yes")
    assert report.ece < 0.03
    # close to the true probability of each customer, not just on average
    assert np.mean(np.abs(p - p_true)) < 0.05


def test_save_and_load_predict_identically_without_pickle(tmp_path: Path) -> None:
    X, y, _ = _simulate(1500, 7)
    for calibration in ("isotonic", "sigmoid", "none"):
        model = ChurnModel(**SMALL, calibration=calibration).fit(X, y)  # type: ignore[arg-type]
        folder = model.save(tmp_path / calibration)
        assert sorted(p.name for p in folder.iterdir()) == ["booster.txt", "churn_model.json"]
        loaded = ChurnModel.load(folder)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        assert list(loaded.predict(X)) == list(model.predict(X))
        assert loaded.get_params() == model.get_params()


def test_feature_importance_ranks_the_planted_drivers_first() -> None:
    X, y, _ = _simulate(3000, 8)
    table = ChurnModel(**SMALL).fit(X, y).feature_importance()
    assert list(table.columns) == ["feature", "gain", "split", "gain_share"]
    assert table["feature"].iloc[0] == "tenure"  # the strongest planted driver
    # split gain on training rows favours continuous columns (Strobl et al. 2007, BMC
    # Bioinformatics 8:25), so pure noise can outrank a 3-level driver; it never beats charge
    ranks = {name: i for i, name in enumerate(table["feature"])}
    assert ranks["charge"] < ranks["noise"]
    assert table["gain_share"].sum() == pytest.approx(1.0)


def _telco() -> tuple[pd.DataFrame, pd.Series]:
    data = pd.read_csv(shared_file("WA_Fn-UseC_-Telco-Customer-Churn.csv"))
    return data.drop(columns=["customerID", "Churn"]), data["Churn"]


def test_telco_stratified_five_fold_roc_auc() -> None:
    """Raw IBM Telco columns in (text categories, TotalCharges as text with blanks)."""
    X, y = _telco()
    assert len(X) == 7043
    oof = np.empty(len(X))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in folds.split(X, y):
        model = ChurnModel(n_estimators=150, learning_rate=0.05, calibration_folds=3, n_jobs=1)
        oof[test] = model.fit(X.iloc[train], y.iloc[train]).predict_proba(X.iloc[test])[:, 1]
    report = evaluate_classifier(y, oof, pos_label="Yes")
    print(
        f"Telco 5-fold: ROC-AUC {report.roc_auc:.4f}, PR-AUC {report.pr_auc:.4f}, "
        f"Brier {report.brier:.4f}, ECE {report.ece:.4f}, top-decile lift {report.top_decile_lift:.2f}"
    )
    assert report.roc_auc >= 0.83
    assert report.brier < report.brier_reference
    assert report.top_decile_lift > 2.5
    assert report.ece < 0.05


@pytest.mark.filterwarnings("ignore")
def test_passes_sklearn_estimator_checks() -> None:
    """scikit-learn's own contract checks (binary-only, NaN and text allowed by its tags)."""
    from sklearn.utils.estimator_checks import check_estimator

    model = ChurnModel(n_estimators=10, calibration_folds=2, min_child_samples=2, n_jobs=1)
    results = check_estimator(model, on_fail=None)
    failed = [
        (r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"
    ]
    assert failed == []
