"""Uplift (heterogeneous treatment effect) models: T-, X- and DR-learners over any base model.

`UpliftModel(method=...)` estimates the conditional average treatment effect (CATE)
tau(x) = E[Y(1) - Y(0) | X = x] of each treatment arm against a control arm, from a
randomised or observational table (X, treatment, y); binary y gives the change in response
probability, continuous y the change in its mean.

- **T-learner** (Künzel, Sekhon, Bickel & Yu 2019, "Metalearners for estimating heterogeneous
  treatment effects using machine learning", PNAS 116(10), section "T-learner"): fit
  mu_0(x) = E[Y | X=x, W=0] on control rows and mu_1(x) on treated rows; tau(x) = mu_1(x) -
  mu_0(x).
- **X-learner** (same paper, section "X-learner", steps 1-3): with the T-learner's mu_0 and
  mu_1, impute individual effects D1_i = Y_i - mu_0(X_i) on treated rows and D0_i = mu_1(X_i) -
  Y_i on control rows; regress them on X to get tau_1 and tau_0; combine with the propensity
  score as weight, tau(x) = g(x) tau_0(x) + (1 - g(x)) tau_1(x), g(x) = P(W=1 | X=x), the
  choice of g the paper recommends. It shines when one group is much larger than the other.
- **DR-learner** (Kennedy 2023, "Towards optimal doubly robust estimation of heterogeneous
  causal effects", Electronic Journal of Statistics 17(2); arXiv:2004.14497 (2020),
  Algorithm 1): nuisances pi(x) = P(W=1 | x), mu_0, mu_1 are fitted with K-fold
  cross-fitting; on each held-out fold the pseudo-outcome
  phi = (W - pi(X)) / (pi(X)(1 - pi(X))) * (Y - mu_W(X)) + mu_1(X) - mu_0(X)
  (Algorithm 1, step 2) is computed, and one final regression of phi on X over all rows
  estimates tau. One final regression on all cross-fitted pseudo-outcomes is the variant
  used by EconML's `DRLearner`; Kennedy's step 3 instead averages the final models of the
  swapped splits; both keep every pseudo-outcome out of sample for its nuisances.

Propensity: `propensity="estimate"` fits a classifier of W on X (observational data);
`"constant"` uses the treated share of the arm-vs-control rows, the true propensity of a
simple randomised experiment, which avoids adding estimation noise. Estimated propensities
are clipped to [propensity_clip, 1 - propensity_clip] before dividing by them.

Several treatments: every label in `treatment` other than `control` is an arm; each arm gets
its own learner fitted on that arm's rows and the control rows only. `predict(X)` returns a
1-D array when there is one arm, a DataFrame with one column per arm otherwise;
`predict(X, treatment=arm)` always returns one array.

Base models: LightGBM by default (classifier for binary y, regressor for continuous y and for
the effect stages); any scikit-learn style estimator may be passed instead. They receive the
`TabularEncoder` matrix: numbers, ordinal category codes, NaN for missing, so a non-LightGBM
estimator must accept NaN (e.g. HistGradientBoosting*). Persistence (`save`/`load`, no
pickle) is supported when every model used at prediction time is LightGBM: T saves mu_0, mu_1;
X saves tau_0, tau_1 and the propensity model (or the constant); DR saves the final tau model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold

from cvm.predict.tabular import (
    Component,
    ComponentKind,
    ModelNotFittedError,
    TabularEncoder,
    TabularInputError,
    as_frame,
    lgbm_settings,
)

Method = Literal["t", "x", "dr"]
Outcome = Literal["auto", "binary", "continuous"]
Propensity = Literal["estimate", "constant"]
FORMAT_VERSION = 1
_ESTIMATOR_PARAMS = ("outcome_model", "effect_model", "propensity_model")


class ArmFit:
    """Fitted state of one arm-vs-control learner: the prediction-time models only."""

    def __init__(self, components: dict[str, Component], propensity: float | None) -> None:
        self.components = components
        self.propensity = propensity


class UpliftModel(BaseEstimator):
    """CATE of each treatment arm vs control by a T-, X- or DR-learner (module docstring)."""

    def __init__(
        self,
        method: Method = "t",
        control: Any = 0,
        outcome: Outcome = "auto",
        outcome_model: Any = None,
        effect_model: Any = None,
        propensity: Propensity = "estimate",
        propensity_model: Any = None,
        propensity_clip: float = 0.01,
        n_folds: int = 5,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        max_categories: int = 200,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.method = method
        self.control = control
        self.outcome = outcome
        self.outcome_model = outcome_model
        self.effect_model = effect_model
        self.propensity = propensity
        self.propensity_model = propensity_model
        self.propensity_clip = propensity_clip
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_categories = max_categories
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- base models -------------------------------------------------------------------

    def _lgbm(self, kind: ComponentKind) -> Any:
        settings = lgbm_settings(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=min(self.n_jobs, 2),
        )
        return (
            lgb.LGBMClassifier(**settings)
            if kind == "classifier"
            else lgb.LGBMRegressor(**settings)
        )

    def _fit(self, role: str, X: np.ndarray, y: np.ndarray) -> Component:
        """Fit a fresh copy of the base model for `role` (outcome, effect or propensity)."""
        if role == "outcome":
            given = self.outcome_model
            # a passed regressor on binary y is a linear probability model: use its predict
            probabilistic = given is None or hasattr(given, "predict_proba")
            binary = self.outcome_type_ == "binary" and probabilistic
            kind: ComponentKind = "classifier" if binary else "regressor"
        elif role == "effect":
            kind, given = "regressor", self.effect_model
        else:
            kind, given = "classifier", self.propensity_model
        if kind == "classifier" and len(np.unique(y)) < 2:
            raise TabularInputError(f"cannot fit the {role} model: its rows hold a single class")
        estimator = clone(given) if given is not None else self._lgbm(kind)
        return Component.fit(estimator, kind, X, y, self.encoder_.categorical_indices)

    def _propensity(self, X: np.ndarray, w: np.ndarray) -> tuple[Component | None, float | None]:
        if self.propensity == "constant":
            return None, float(w.mean())
        return self._fit("propensity", X, w), None

    def _clipped(self, p: np.ndarray) -> np.ndarray:
        return np.clip(p, self.propensity_clip, 1.0 - self.propensity_clip)

    # -- learners (one arm vs control; w = 1 treated, 0 control) ----------------------------

    def _fit_t(self, X: np.ndarray, w: np.ndarray, y: np.ndarray) -> ArmFit:
        mu0 = self._fit("outcome", X[w == 0], y[w == 0])
        mu1 = self._fit("outcome", X[w == 1], y[w == 1])
        return ArmFit({"mu0": mu0, "mu1": mu1}, None)

    def _fit_x(self, X: np.ndarray, w: np.ndarray, y: np.ndarray) -> ArmFit:
        t, c = w == 1, w == 0
        mu0 = self._fit("outcome", X[c], y[c])
        mu1 = self._fit("outcome", X[t], y[t])
        d1 = y[t] - mu0.predict(X[t])  # imputed effects of the treated (X-learner step 2)
        d0 = mu1.predict(X[c]) - y[c]  # imputed effects of the controls
        parts = {"tau0": self._fit("effect", X[c], d0), "tau1": self._fit("effect", X[t], d1)}
        g, constant = self._propensity(X, w)
        if g is not None:
            parts["g"] = g
        return ArmFit(parts, constant)

    def _fit_dr(self, X: np.ndarray, w: np.ndarray, y: np.ndarray) -> ArmFit:
        phi = np.empty(len(y), dtype=np.float64)
        # stratify folds on (treatment, outcome) for binary y so every fold has both classes
        strata = w * 2 + y.astype(np.int64) if self.outcome_type_ == "binary" else w
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train, held in folds.split(X, strata):
            Xt, wt, yt = X[train], w[train], y[train]
            mu0 = self._fit("outcome", Xt[wt == 0], yt[wt == 0])
            mu1 = self._fit("outcome", Xt[wt == 1], yt[wt == 1])
            g, constant = self._propensity(Xt, wt)
            pi = (
                self._clipped(g.predict(X[held])) if g is not None else np.full(len(held), constant)
            )
            m0, m1 = mu0.predict(X[held]), mu1.predict(X[held])
            mw = np.where(w[held] == 1, m1, m0)
            # Kennedy (2023) Algorithm 1 step 2: the doubly robust (AIPW) pseudo-outcome
            phi[held] = (w[held] - pi) / (pi * (1.0 - pi)) * (y[held] - mw) + m1 - m0
        return ArmFit({"tau": self._fit("effect", X, phi)}, None)

    def _predict_arm(self, fit: ArmFit, X: np.ndarray) -> np.ndarray:
        parts = fit.components
        if self.method == "t":
            return parts["mu1"].predict(X) - parts["mu0"].predict(X)
        if self.method == "x":
            g = (
                self._clipped(parts["g"].predict(X))
                if "g" in parts
                else np.full(len(X), fit.propensity)
            )
            return g * parts["tau0"].predict(X) + (1.0 - g) * parts["tau1"].predict(X)
        return parts["tau"].predict(X)

    # -- public API --------------------------------------------------------------------

    def fit(self, X: Any, treatment: Any, y: Any) -> UpliftModel:
        """Fit one learner per treatment arm against the `control` arm."""
        if self.method not in ("t", "x", "dr"):
            raise TabularInputError(f"method must be 't', 'x' or 'dr', got {self.method!r}")
        if self.propensity not in ("estimate", "constant"):
            raise TabularInputError(
                f"propensity must be 'estimate' or 'constant', got {self.propensity!r}"
            )
        frame = as_frame(X)
        arms_in = np.asarray(treatment, dtype=object)
        outcome = np.asarray(y)
        if not len(frame) == len(arms_in) == len(outcome):
            raise TabularInputError(
                f"X, treatment and y differ in length: {len(frame)}, {len(arms_in)}, {len(outcome)}"
            )
        if pd.isna(arms_in).any() or pd.isna(outcome).any():
            raise TabularInputError("treatment and y must not hold missing values")
        is_control = arms_in == self.control
        if not is_control.any():
            raise TabularInputError(f"no row has the control label {self.control!r}")
        arms = sorted(set(arms_in[~is_control].tolist()), key=str)
        if not arms:
            raise TabularInputError("treatment holds only the control label; nothing to compare")
        self.outcome_type_ = self._outcome_type(outcome)
        values = outcome.astype(np.float64)
        self.encoder_ = TabularEncoder(self.max_categories).fit(frame)
        self.n_features_in_ = len(self.encoder_.feature_names)
        matrix = self.encoder_.transform(frame)
        learner = {"t": self._fit_t, "x": self._fit_x, "dr": self._fit_dr}[self.method]
        self.arms_ = arms
        self.arm_fits_: dict[Any, ArmFit] = {}
        for arm in arms:
            rows = is_control | (arms_in == arm)
            w = (arms_in[rows] == arm).astype(np.int64)
            self.arm_fits_[arm] = learner(matrix[rows], w, values[rows])
        return self

    def _outcome_type(self, y: np.ndarray) -> str:
        binary = set(np.unique(y).tolist()) <= {0, 1}
        if self.outcome == "binary" and not binary:
            raise TabularInputError("outcome='binary' needs y in {0, 1}")
        if self.outcome == "continuous" or (self.outcome == "auto" and not binary):
            return "continuous"
        return "binary"

    def _check_fitted(self) -> None:
        if not hasattr(self, "arm_fits_"):
            raise ModelNotFittedError(
                "UpliftModel is not fitted: call fit(X, treatment, y) or load(dir)"
            )

    def predict_all(self, X: Any) -> pd.DataFrame:
        """Estimated CATE, one column per treatment arm (column name = arm label)."""
        self._check_fitted()
        matrix = self.encoder_.transform(as_frame(X))
        index = X.index if isinstance(X, pd.DataFrame) else None
        data = {arm: self._predict_arm(self.arm_fits_[arm], matrix) for arm in self.arms_}
        return pd.DataFrame(data, index=index, columns=pd.Index(self.arms_, dtype=object))

    def predict(self, X: Any, treatment: Any = None) -> np.ndarray | pd.DataFrame:
        """CATE of `treatment` vs control (array); without it, array (one arm) or DataFrame."""
        self._check_fitted()
        if treatment is not None:
            if treatment not in self.arm_fits_:
                raise TabularInputError(f"unknown treatment {treatment!r}; arms are {self.arms_}")
            return self.predict_encoded(self.encoder_.transform(as_frame(X)), treatment)
        table = self.predict_all(X)
        return table.iloc[:, 0].to_numpy() if len(self.arms_) == 1 else table

    def predict_encoded(self, matrix: np.ndarray, treatment: Any) -> np.ndarray:
        """CATE of `treatment` vs control for rows already encoded by `encoder_.transform`
        (lets a scorer encode a batch once for several models that share the encoding)."""
        self._check_fitted()
        if treatment not in self.arm_fits_:
            raise TabularInputError(f"unknown treatment {treatment!r}; arms are {self.arms_}")
        return self._predict_arm(self.arm_fits_[treatment], matrix)

    # -- persistence (plain files, no pickle) ------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write `uplift_model.json` plus one LightGBM text file per prediction-time model."""
        self._check_fitted()
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        arms_state = []
        for i, arm in enumerate(self.arms_):
            fit = self.arm_fits_[arm]
            files = {}
            for name, component in fit.components.items():
                files[name] = f"arm{i}_{name}.txt"
                component.save(folder / files[name])
            arms_state.append({"label": _plain(arm), "files": files, "propensity": fit.propensity})
        params = {k: v for k, v in self.get_params().items() if k not in _ESTIMATOR_PARAMS}
        state = {
            "format": "cvm.uplift",
            "version": FORMAT_VERSION,
            "params": {**params, "control": _plain(self.control)},
            "base_models": {k: _describe(getattr(self, k)) for k in _ESTIMATOR_PARAMS},
            "outcome_type": self.outcome_type_,
            "encoder": self.encoder_.to_dict(),
            "arms": arms_state,
        }
        (folder / "uplift_model.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, directory: str | Path) -> UpliftModel:
        """Rebuild a fitted model from `save`'s files; it predicts identically. Passed base
        estimators are recorded by class name only, so a loaded model refits with defaults."""
        folder = Path(directory)
        state = json.loads((folder / "uplift_model.json").read_text(encoding="utf-8"))
        if state.get("format") != "cvm.uplift":
            raise TabularInputError(f"{folder} does not hold a saved uplift model")
        model = cls(**state["params"])
        model.outcome_type_ = state["outcome_type"]
        model.encoder_ = TabularEncoder.from_dict(state["encoder"])
        model.n_features_in_ = len(model.encoder_.feature_names)
        model.arms_ = [a["label"] for a in state["arms"]]
        model.arm_fits_ = {}
        for a in state["arms"]:
            parts = {
                name: Component.load(folder / file, "classifier" if name == "g" else "regressor")
                for name, file in a["files"].items()
            }
            model.arm_fits_[a["label"]] = ArmFit(parts, a["propensity"])
        return model


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars, for JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _describe(estimator: Any) -> str | None:
    return (
        None
        if estimator is None
        else f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    )
