"""Figures for docs/models.md: ChurnModel on IBM Telco, UpliftModel on Hillstrom and on a
planted-truth simulation, and agreement of cvm's uplift metrics with scikit-uplift.

Run:  .venv/bin/python benchmarks/predict_churn_uplift.py [--data ../shared/data] [--seed 0]

References run in the same process: one-hot logistic regression for churn (the usual strong
baseline on Telco) and scikit-uplift's `TwoModels` (a T-learner) with the same LightGBM
settings for uplift; the metrics themselves are recomputed with `sklift.metrics`.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cvm.predict import uplift_metrics as um
from cvm.predict.churn import ChurnModel
from cvm.predict.evaluation import ClassifierEvaluation, evaluate_classifier
from cvm.predict.tabular import lgbm_settings
from cvm.predict.uplift import UpliftModel
from cvm.predict.uplift_metrics import evaluate_uplift, uplift_by_decile

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


def telco(data: Path, seed: int, n_jobs: int) -> None:
    frame = pd.read_csv(data / "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    X, y = frame.drop(columns=["customerID", "Churn"]), (frame["Churn"] == "Yes").astype(int)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y))
    settings = {
        "default": {},
        "test (150 trees, 3 calibration folds)": {
            "n_estimators": 150,
            "learning_rate": 0.05,
            "calibration_folds": 3,
        },
    }
    print("## IBM Telco churn, stratified 5-fold (out-of-fold predictions)\n")
    print("| model | ROC-AUC | PR-AUC | Brier | log-loss | ECE | top-decile lift | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, kw in settings.items():
        for calibration in ("isotonic", "sigmoid", "none"):
            start, oof = time.perf_counter(), np.empty(len(X))
            for train, test in folds:
                model = ChurnModel(**kw, calibration=calibration, random_state=seed, n_jobs=n_jobs)  # type: ignore[arg-type]
                oof[test] = model.fit(X.iloc[train], y.iloc[train]).predict_proba(X.iloc[test])[
                    :, 1
                ]
            _row(
                f"ChurnModel {name}, {calibration}",
                evaluate_classifier(y, oof),
                time.perf_counter() - start,
            )
    # reference: one-hot logistic regression on cleaned numbers (blanks imputed with 0)
    numeric = ["tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"]
    clean = X.assign(TotalCharges=pd.to_numeric(X["TotalCharges"], errors="coerce")).fillna(
        {c: 0.0 for c in numeric}
    )
    clean = clean.fillna("missing")
    categorical = [c for c in clean.columns if c not in numeric]
    start, oof = time.perf_counter(), np.empty(len(X))
    for train, test in folds:
        logit = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
            ),
            LogisticRegression(max_iter=2000),
        )
        oof[test] = logit.fit(clean.iloc[train], y.iloc[train]).predict_proba(clean.iloc[test])[
            :, 1
        ]
    _row(
        "reference: one-hot logistic regression",
        evaluate_classifier(y, oof),
        time.perf_counter() - start,
    )


def _row(name: str, e: ClassifierEvaluation, seconds: float) -> None:
    print(
        f"| {name} | {e.roc_auc:.4f} | {e.pr_auc:.4f} | {e.brier:.4f} | {e.log_loss:.4f} | "
        f"{e.ece:.4f} | {e.top_decile_lift:.2f} | {seconds:.1f} |"
    )


def hillstrom(data: Path, seed: int, n_jobs: int) -> None:
    import sklift.metrics as skm
    from sklift.models import TwoModels

    frame = pd.read_csv(data / "hillstrom.csv")
    frame = frame[frame["segment"].isin(["Womens E-Mail", "No E-Mail"])].reset_index(drop=True)
    train, test = train_test_split(
        frame,
        test_size=0.5,
        random_state=seed,
        stratify=frame["segment"] + frame["visit"].astype(str),
    )
    y, t = test["visit"].to_numpy(), (test["segment"] == "Womens E-Mail").to_numpy().astype(int)
    print("\n## Hillstrom, Womens E-Mail vs No E-Mail, outcome visit (50/50 split, test half)\n")
    print("| model | Qini coefficient [95% CI] | AUUC | uplift@30% [95% CI] | ATE | seconds |")
    print("|---|---|---|---|---|---|")
    predictions = {}
    for method in ("t", "x", "dr"):
        start = time.perf_counter()
        model = UpliftModel(method=method, control="No E-Mail", random_state=seed, n_jobs=n_jobs)  # type: ignore[arg-type]
        model.fit(train[HILLSTROM_FEATURES], train["segment"], train["visit"])
        predictions[method] = np.asarray(model.predict(test[HILLSTROM_FEATURES]))
        _uplift_row(
            f"UpliftModel {method}", y, predictions[method], t, seed, time.perf_counter() - start
        )
    # reference: scikit-uplift's T-learner with the same LightGBM settings on encoded features
    start = time.perf_counter()
    encoded = pd.get_dummies(frame[HILLSTROM_FEATURES], dtype=float)
    encoded.columns = [f"f{i}" for i in range(encoded.shape[1])]  # LightGBM refuses "$", ")"
    settings = lgbm_settings(
        n_estimators=150,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples=100,
        random_state=seed,
        n_jobs=n_jobs,
    )
    two = TwoModels(lgb.LGBMClassifier(**settings), lgb.LGBMClassifier(**settings))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        two.fit(
            encoded.loc[train.index],
            train["visit"],
            (train["segment"] == "Womens E-Mail").astype(int),
        )
        reference = two.predict(encoded.loc[test.index])
    _uplift_row(
        "reference: sklift TwoModels (LightGBM)", y, reference, t, seed, time.perf_counter() - start
    )
    print(
        "\nAgreement of cvm.predict.uplift_metrics with sklift.metrics on the same predictions (max |difference|):\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method, u in predictions.items():
            diffs = [
                abs(um.qini_coefficient(y, u, t) - skm.qini_auc_score(y, u, t)),
                abs(um.auuc(y, u, t) - skm.uplift_auc_score(y, u, t)),
                abs(
                    um.uplift_at_k(y, u, t, 0.3)
                    - skm.uplift_at_k(y, u, t, strategy="overall", k=0.3)
                ),
                float(
                    np.max(
                        np.abs(
                            uplift_by_decile(y, u, t)["uplift"].to_numpy()
                            - skm.uplift_by_percentile(y, u, t, bins=10)["uplift"].to_numpy()
                        )
                    )
                ),
            ]
            print(
                f"- {method}: Qini {diffs[0]:.1e}, AUUC {diffs[1]:.1e}, uplift@30% {diffs[2]:.1e}, deciles {diffs[3]:.1e}"
            )
    print(
        "\nUplift by decile of predicted uplift (DR-learner; treated rate - control rate, 95% bootstrap CI):\n"
    )
    report = evaluate_uplift(y, predictions["dr"], t, n_bootstrap=500, seed=seed)
    print("| decile | n treated | n control | treated rate | control rate | uplift [95% CI] |")
    print("|---|---|---|---|---|---|")
    for row in report.deciles:
        print(
            f"| {row['bin']} | {row['n_treatment']} | {row['n_control']} | {row['rate_treatment']:.4f} | "
            f"{row['rate_control']:.4f} | {row['uplift']:+.4f} [{row['low']:+.4f}, {row['high']:+.4f}] |"
        )


def _uplift_row(
    name: str, y: np.ndarray, u: np.ndarray, t: np.ndarray, seed: int, seconds: float
) -> None:
    r = evaluate_uplift(y, u, t, k=0.3, n_bootstrap=500, seed=seed)
    q, k = r.qini_coefficient, r.uplift_at_k
    print(
        f"| {name} | {q.value:.4f} [{q.low:.4f}, {q.high:.4f}] | {r.auuc.value:.4f} | "
        f"{k.value:.4f} [{k.low:.4f}, {k.high:.4f}] | {r.ate.value:.4f} | {seconds:.1f} |"
    )


def planted(seeds: int) -> None:
    # the simulation is the one the tests assert on, so the table and the tests cannot drift
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.predict.test_uplift_model import FAST, _simulate

    print("\n## Planted truth: Spearman(predicted, true effect) on 2,000 new rows, fit on 4,000\n")
    print("| design | outcome | T | X | DR |")
    print("|---|---|---|---|---|")
    for design, p_treat in (("balanced (50% treated)", 0.5), ("unbalanced (10% treated)", 0.1)):
        for binary in (False, True):
            cells = []
            for method in ("t", "x", "dr"):
                values = []
                for seed in range(1, seeds + 1):
                    X, w, y, _ = _simulate(4000, p_treat, seed, binary)
                    X_new, _, _, tau = _simulate(2000, p_treat, 100 + seed, binary)
                    model = UpliftModel(method=method, **{**FAST, "propensity": "constant"}).fit(
                        X, w, y
                    )  # type: ignore[arg-type]
                    values.append(spearmanr(model.predict(X_new), tau)[0])
                cells.append(f"{np.mean(values):.3f} ({np.min(values):.3f}-{np.max(values):.3f})")
            print(
                f"| {design} | {'binary' if binary else 'continuous'} | " + " | ".join(cells) + " |"
            )
    print(f"\nmean (min-max) over {seeds} seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--planted-seeds", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2, help="LightGBM threads per fit")
    args = parser.parse_args()
    telco(args.data, args.seed, args.n_jobs)
    hillstrom(args.data, args.seed, args.n_jobs)
    planted(args.planted_seeds)


if __name__ == "__main__":
    main()
