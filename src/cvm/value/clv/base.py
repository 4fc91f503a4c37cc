"""The estimator base class of the CLV models: fit, fitted state, standard errors and JSON.

The models follow scikit-learn's estimator contract: `__init__` stores settings only,
`fit(data)` returns `self`, learned state ends in `_`, and predicting before `fit` raises
`cvm.core.errors.NotFittedError`. Fitted state saves as plain JSON (`to_json`/`save`), never
pickle, and `from_json`/`load` rebuild a model that predicts identically.

Fitting aggregates identical customers into weighted rows first (see `validation.aggregate`).
For the continuous-time models time is rescaled internally so that max(T) = 1, as lifetimes
does: it conditions the optimisation and makes the `penalizer` independent of the time unit
(days or weeks give the same fit) and equal to lifetimes' `penalizer_coef`. Parameters are
reported in the data's own time unit. With many distinct rows the optimiser starts from a fit
on a random sample of them (seeded, so fits are reproducible), which leaves only a few
iterations on the full data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy.stats import norm

from cvm.core.errors import NotFittedError, UserInputError
from cvm.value.clv.estimation import ConvergenceReport, Problem, maximize
from cvm.value.clv.validation import FloatArray, aggregate, weights_column

FORMAT = "cvm.value.clv/1"
WARM_START_ROWS = 20_000  # above this many distinct rows, start from a fit on a sample of them


class ClvModel:
    """Common machinery; subclasses define the likelihood and the predictions.

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters, as lifetimes' `penalizer_coef` (0 = plain maximum
        likelihood). For the continuous-time models it applies to the rescaled parameters.
    max_iter:
        Iteration limit of the optimiser.
    confidence_level:
        Level of the confidence intervals in `confidence_intervals_`.
    """

    param_names: ClassVar[tuple[str, ...]] = ()
    input_columns: ClassVar[tuple[str, ...]] = ()  # the data columns the model reads
    time_params: ClassVar[tuple[str, ...]] = ()  # parameters measured in units of time
    time_columns: ClassVar[tuple[str, ...]] = ()  # data columns measured in units of time
    analytic_order: ClassVar[int] = 0  # 0: none, 1: gradient, 2: gradient and Hessian
    warm_start_rows: ClassVar[int] = WARM_START_ROWS
    _registry: ClassVar[dict[str, type[ClvModel]]] = {}

    params_: dict[str, float]
    log_likelihood_: float
    standard_errors_: dict[str, float]
    confidence_intervals_: dict[str, tuple[float, float]]
    covariance_: FloatArray
    convergence_: ConvergenceReport
    n_customers_: float
    n_rows_: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ClvModel._registry[cls.__name__] = cls

    def __init__(
        self, penalizer: float = 0.0, *, max_iter: int = 1000, confidence_level: float = 0.95
    ) -> None:
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.confidence_level = confidence_level

    def get_params(self) -> dict[str, Any]:
        """The settings, as scikit-learn's `get_params`."""
        return {
            "penalizer": self.penalizer,
            "max_iter": self.max_iter,
            "confidence_level": self.confidence_level,
        }

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({settings})"

    # ----- what a model defines ---------------------------------------------------------------

    def _validate(self, data: pd.DataFrame) -> dict[str, FloatArray]:
        raise NotImplementedError

    def _initial_params(self, columns: dict[str, FloatArray], weights: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _terms(
        self, theta: FloatArray, columns: dict[str, FloatArray], weights: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        raise NotImplementedError

    def _prepare(self, columns: dict[str, FloatArray]) -> dict[str, FloatArray]:
        """Precomputations on the aggregated columns that every likelihood evaluation reuses."""
        return columns

    # ----- fitting ------------------------------------------------------------------------------

    def _check_settings(self) -> None:
        name = type(self).__name__
        if not (np.isfinite(self.penalizer) and self.penalizer >= 0):
            raise UserInputError(f"{name}: penalizer must be >= 0, got {self.penalizer!r}.")
        if not (0 < self.confidence_level < 1):
            raise UserInputError(
                f"{name}: confidence_level must be in (0, 1), got {self.confidence_level!r}."
            )
        if int(self.max_iter) < 1:
            raise UserInputError(f"{name}: max_iter must be >= 1, got {self.max_iter!r}.")

    def _time_scale(self, columns: dict[str, FloatArray]) -> float:
        if not self.time_columns:
            return 1.0
        longest = float(np.max(columns["T"]))
        return 1.0 / longest if longest > 0 else 1.0

    def _problem(self, columns: dict[str, FloatArray], weights: FloatArray) -> Problem:
        return Problem(
            self._terms, self.analytic_order, self._prepare(columns), weights, self.penalizer
        )

    def fit(self, data: pd.DataFrame) -> Self:
        """Estimate the parameters by maximum likelihood; returns `self`.

        `data` holds the model's `input_columns` (one row per customer) and optionally
        `weights`, the number of identical customers a row stands for; other columns are
        ignored. Sets `params_`, `log_likelihood_` (unpenalised, in the data's units),
        `standard_errors_`, `confidence_intervals_`, `covariance_`, `convergence_`,
        `n_customers_` (sum of weights) and `n_rows_` (distinct rows fitted).
        """
        self._check_settings()
        columns, weights = aggregate(
            self._validate(data), weights_column(data, type(self).__name__)
        )
        scale = self._time_scale(columns)
        scaled = {k: v * scale if k in self.time_columns else v for k, v in columns.items()}
        problem = self._problem(scaled, weights)
        phi0 = np.log(self._initial_params(scaled, weights))
        warm_rows = 0
        if len(weights) > self.warm_start_rows:
            # A fit on a random sample of the distinct rows lands close to the optimum, so the
            # full data needs only the last few (expensive) iterations.
            rows = np.random.default_rng(0).choice(
                len(weights), self.warm_start_rows, replace=False
            )
            sample = self._problem({k: v[rows] for k, v in scaled.items()}, weights[rows])
            phi0, _, _ = maximize(sample, phi0, int(self.max_iter), final=False)
            warm_rows = self.warm_start_rows
        phi, hessian, report = maximize(problem, phi0, int(self.max_iter), warm=warm_rows > 0)
        report = ConvergenceReport(**{**report.to_dict(), "warm_start_rows": warm_rows})

        shift = np.array(
            [np.log(scale) if p in self.time_params else 0.0 for p in self.param_names]
        )
        phi_user = phi - shift
        theta = np.exp(phi_user)
        self.params_ = dict(zip(self.param_names, map(float, theta), strict=True))
        self._set_uncertainty(phi_user, hessian * problem.total_weight)
        self.log_likelihood_ = self._problem(columns, weights).log_likelihood(theta)
        self.convergence_ = report
        self.n_customers_ = float(weights.sum())
        self.n_rows_ = int(len(weights))
        return self

    def _set_uncertainty(self, phi: FloatArray, hessian: FloatArray) -> None:
        """Delta-method standard errors and log-scale Wald intervals (which stay positive)."""
        k = len(phi)
        try:
            np.linalg.cholesky(hessian)
            cov_phi = np.linalg.inv(hessian)
        except np.linalg.LinAlgError:
            cov_phi = np.full((k, k), np.nan)
        theta = np.exp(phi)
        se_phi = np.sqrt(np.diag(cov_phi))
        z = float(norm.ppf(0.5 + self.confidence_level / 2))
        self.covariance_ = theta[:, None] * cov_phi * theta[None, :]
        self.standard_errors_ = dict(zip(self.param_names, map(float, theta * se_phi), strict=True))
        self.confidence_intervals_ = {
            name: (float(np.exp(phi[i] - z * se_phi[i])), float(np.exp(phi[i] + z * se_phi[i])))
            for i, name in enumerate(self.param_names)
        }

    # ----- fitted state -------------------------------------------------------------------------

    def _fitted(self) -> tuple[float, ...]:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(data) first.")
        return tuple(self.params_[name] for name in self.param_names)

    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and confidence bounds, one row per parameter."""
        self._fitted()
        return pd.DataFrame(
            {
                "estimate": [self.params_[p] for p in self.param_names],
                "standard_error": [self.standard_errors_[p] for p in self.param_names],
                "lower": [self.confidence_intervals_[p][0] for p in self.param_names],
                "upper": [self.confidence_intervals_[p][1] for p in self.param_names],
            },
            index=pd.Index(self.param_names, name="parameter"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings and fitted state as JSON-ready values (NaN becomes None)."""
        self._fitted()

        def clean(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        return {
            "format": FORMAT,
            "model": type(self).__name__,
            "settings": self.get_params(),
            "params": dict(self.params_),
            "log_likelihood": clean(self.log_likelihood_),
            "standard_errors": {k: clean(v) for k, v in self.standard_errors_.items()},
            "confidence_intervals": {
                k: [clean(lo), clean(hi)] for k, (lo, hi) in self.confidence_intervals_.items()
            },
            "covariance": [[clean(v) for v in row] for row in self.covariance_],
            "convergence": {
                k: clean(v) if isinstance(v, float) else v
                for k, v in self.convergence_.to_dict().items()
            },
            "n_customers": self.n_customers_,
            "n_rows": self.n_rows_,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Self:
        """Rebuild a fitted model; on `ClvModel` itself, any model named in `state`."""
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise UserInputError(f"not a saved CLV model (expected format {FORMAT!r}).")
        target = ClvModel._registry.get(str(state.get("model")))
        if target is None or not issubclass(target, cls):
            raise UserInputError(f"saved model is a {state.get('model')!r}, not a {cls.__name__}.")
        model = target(**state["settings"])

        def num(value: float | None) -> float:
            return float("nan") if value is None else float(value)

        model.params_ = {p: float(state["params"][p]) for p in target.param_names}
        model.log_likelihood_ = num(state["log_likelihood"])
        model.standard_errors_ = {k: num(v) for k, v in state["standard_errors"].items()}
        model.confidence_intervals_ = {
            k: (num(lo), num(hi)) for k, (lo, hi) in state["confidence_intervals"].items()
        }
        model.covariance_ = np.array([[num(v) for v in row] for row in state["covariance"]])
        convergence = dict(state["convergence"])
        convergence["gradient_norm"] = num(convergence["gradient_norm"])
        model.convergence_ = ConvergenceReport(**convergence)
        model.n_customers_ = float(state["n_customers"])
        model.n_rows_ = int(state["n_rows"])
        return model  # type: ignore[return-value]

    @classmethod
    def from_params(cls, params: dict[str, float], **settings: Any) -> Self:
        """A model with given parameters and no fit (for scenarios and simulations): it predicts,
        but has no likelihood or standard errors."""
        missing = [p for p in cls.param_names if p not in params]
        if missing or not cls.param_names:
            raise UserInputError(
                f"{cls.__name__} needs parameters {list(cls.param_names)}; missing {missing}."
            )
        if not all(np.isfinite(float(params[p])) and float(params[p]) > 0 for p in cls.param_names):
            raise UserInputError(f"{cls.__name__} parameters must be positive, got {params}.")
        model = cls(**settings)
        k = len(cls.param_names)
        model.params_ = {p: float(params[p]) for p in cls.param_names}
        model.log_likelihood_ = float("nan")
        model.standard_errors_ = dict.fromkeys(cls.param_names, float("nan"))
        model.confidence_intervals_ = {p: (float("nan"), float("nan")) for p in cls.param_names}
        model.covariance_ = np.full((k, k), np.nan)
        model.convergence_ = ConvergenceReport(
            success=False, method="given", iterations=0, function_evaluations=0,
            message="parameters given, not estimated", gradient_norm=float("nan"),
            hessian_positive_definite=False, warm_start_rows=0,
        )  # fmt: skip
        model.n_customers_, model.n_rows_ = 0.0, 0
        return model

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserInputError(f"saved CLV model is not valid JSON ({exc}).") from None
        return cls.from_dict(state)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def as_series(values: FloatArray, data: pd.DataFrame, name: str) -> pd.Series:
    """Predictions aligned with the customers (index) of `data`."""
    return pd.Series(np.asarray(values, dtype=np.float64), index=data.index, name=name)
