"""CUPED: variance reduction with pre-period covariates (Deng, Xu, Kohavi & Walker 2013).

The adjusted outcome of customer i is (Deng et al. 2013, eq. 4; several covariates: sec. 3.3)::

    Y_i^cv = Y_i - (X_i - mean(X)) theta,        theta = Cov(X)^-1 Cov(X, Y)

with one covariate ``theta = cov(Y, X) / var(X)`` (eq. 3). Because X is fixed before
assignment, it is independent of the arm, so the adjusted difference of arm means is unbiased
for the same lift, and its variance shrinks by the factor ``1 - rho^2`` (eq. 5), rho being
the correlation of X and Y: last month's spend often predicts this month's well.

The guarantee needs X to be measured *before assignment*. A covariate measured after it
(e.g. spend in the campaign window, opens) can carry the treatment effect and bias the lift,
so the API makes each covariate state when it was measured and refuses it otherwise.

theta is pooled across arms. ``pooling="within"`` (default) pools the within-arm
covariances, which makes the adjusted difference identical to the treatment coefficient of
the ANCOVA regression ``Y ~ arm + X`` (checked against statsmodels OLS in the tests);
``pooling="total"`` is the plain covariance over all customers as written in Deng et al.
The two agree asymptotically. The variance of the adjusted means ignores the estimation error
of theta, which is O(1/n) (Deng et al. 2013, sec. 3.2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from cvm.core.errors import NotFittedError, UserInputError
from cvm.measure.significance import welch_from_stats

Pooling = Literal["within", "total"]


@dataclass(frozen=True)
class Covariate:
    """A pre-period covariate column and the evidence that it predates assignment.

    ``measured_at`` is a timestamp (the end of the measurement window) or the name of a
    column holding one per customer; it must not be later than the assignment time.
    ``measured_before_assignment=True`` is the explicit alternative when no timestamp exists.
    """

    column: str
    measured_at: datetime | str | None = None
    measured_before_assignment: bool | None = None


def _as_times(df: pd.DataFrame, value: datetime | str, what: str) -> pd.Series:
    if isinstance(value, str):
        if value not in df.columns:
            raise UserInputError(f"{what} column '{value}' is not in the data")
        return pd.to_datetime(df[value])
    return pd.Series(pd.Timestamp(value), index=df.index)


def check_pre_assignment(
    df: pd.DataFrame,
    covariates: Sequence[Covariate],
    assignment_time: datetime | str | None = None,
) -> None:
    """Raise UserInputError naming the first covariate that is not provably pre-assignment.

    A covariate measured at the assignment instant is accepted (a window that ends when the
    campaign starts cannot contain its effect); one measured later is refused.
    """
    for cov in covariates:
        if cov.column not in df.columns:
            raise UserInputError(f"covariate column '{cov.column}' is not in the data")
        if cov.measured_before_assignment is False:
            raise UserInputError(
                f"covariate '{cov.column}' is marked as measured after assignment; CUPED needs "
                "pre-period covariates (a post-assignment value can carry the treatment effect)"
            )
        if cov.measured_at is None:
            if cov.measured_before_assignment is None:
                raise UserInputError(
                    f"covariate '{cov.column}' has no measurement time: pass measured_at or "
                    "measured_before_assignment=True"
                )
            continue
        if assignment_time is None:
            raise UserInputError(
                f"covariate '{cov.column}' has a measurement time but no assignment_time was given"
            )
        measured = _as_times(df, cov.measured_at, f"measurement time of '{cov.column}'")
        assigned = _as_times(df, assignment_time, "assignment time")
        unknown = measured.isna() | assigned.isna()
        late = (measured > assigned) & ~unknown
        if unknown.any() or late.any():
            bad = int(late.sum() + unknown.sum())
            first = df.index[(late | unknown).to_numpy()][0]
            raise UserInputError(
                f"covariate '{cov.column}' was measured after assignment (or at an unknown "
                f"time) for {bad} customer(s), first at row {first}; CUPED needs pre-period "
                "covariates"
            )


class CupedAdjuster:
    """Estimates theta and adjusts outcomes (scikit-learn contract: fit returns self)."""

    def __init__(self, pooling: Pooling = "within") -> None:
        self.pooling = pooling

    def fit(
        self, y: npt.ArrayLike, x: npt.ArrayLike, groups: npt.ArrayLike | None = None
    ) -> CupedAdjuster:
        """Learn ``theta_`` and the covariate means ``x_mean_`` from all customers."""
        ya = np.asarray(y, dtype=np.float64).ravel()
        xa = np.asarray(x, dtype=np.float64).reshape(ya.size, -1)
        if self.pooling not in ("within", "total"):
            raise ValueError(f"pooling must be 'within' or 'total', got {self.pooling!r}")
        if self.pooling == "within" and groups is not None:
            # Centre each arm on its own means: the pooled within-arm cross-products.
            g = pd.Series(np.asarray(groups)).astype(str).to_numpy()
            frame = pd.DataFrame(np.column_stack([ya, xa]))
            centred = (frame - frame.groupby(g).transform("mean")).to_numpy()
        else:
            centred = np.column_stack([ya, xa]) - np.column_stack([ya, xa]).mean(axis=0)
        yc, xc = centred[:, 0], centred[:, 1:]
        sxx = xc.T @ xc
        sxy = xc.T @ yc
        try:
            theta = np.linalg.solve(sxx, sxy)
        except np.linalg.LinAlgError as err:
            raise UserInputError(
                "CUPED covariates are constant or collinear; drop redundant ones"
            ) from err
        self.theta_ = theta
        self.x_mean_ = xa.mean(axis=0)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise NotFittedError("CupedAdjuster must be fitted before transform")

    def transform(self, y: npt.ArrayLike, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Adjusted outcome ``y - (x - x_mean_) theta_`` (Deng et al. 2013, eq. 4)."""
        self._check_fitted()
        ya = np.asarray(y, dtype=np.float64).ravel()
        xa = np.asarray(x, dtype=np.float64).reshape(ya.size, -1)
        return np.asarray(ya - (xa - self.x_mean_) @ self.theta_, dtype=np.float64)

    def to_json(self) -> str:
        """Fitted state as JSON (never pickle)."""
        self._check_fitted()
        return json.dumps(
            {
                "pooling": self.pooling,
                "theta_": self.theta_.tolist(),
                "x_mean_": self.x_mean_.tolist(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CupedAdjuster:
        state = json.loads(text)
        model = cls(pooling=state["pooling"])
        model.theta_ = np.asarray(state["theta_"], dtype=np.float64)
        model.x_mean_ = np.asarray(state["x_mean_"], dtype=np.float64)
        return model


@dataclass(frozen=True)
class CupedArm:
    """Raw and CUPED-adjusted mean of one arm, with the interval of the adjusted mean."""

    arm: str
    n: int
    mean: float
    adjusted_mean: float
    adjusted_low: float
    adjusted_high: float


@dataclass(frozen=True)
class CupedComparison:
    """Treated arm minus control: raw (Welch) and adjusted (Welch on Y^cv) difference."""

    arm: str
    control: str
    difference: float
    low: float
    high: float
    adjusted_difference: float
    adjusted_low: float
    adjusted_high: float
    adjusted_p_value: float


@dataclass(frozen=True)
class CupedResult:
    """theta per covariate, variance reduction, per-arm means and comparisons with control."""

    outcome: str
    theta: dict[str, float]
    variance_reduction: float
    arms: list[CupedArm]
    comparisons: list[CupedComparison]

    def to_frame(self) -> pd.DataFrame:
        """One row per treated arm with its control comparison."""
        return pd.DataFrame([asdict(c) for c in self.comparisons])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cuped_adjust(
    df: pd.DataFrame,
    *,
    outcome: str,
    arm: str,
    control_arm: str,
    covariates: Sequence[Covariate],
    assignment_time: datetime | str | None = None,
    pooling: Pooling = "within",
    alpha: float = 0.05,
) -> CupedResult:
    """Compare every arm with ``control_arm`` on ``outcome``, with and without CUPED."""
    if not covariates:
        raise UserInputError("CUPED needs at least one pre-period covariate")
    for col in (outcome, arm):
        if col not in df.columns:
            raise UserInputError(f"column '{col}' is not in the data")
    check_pre_assignment(df, covariates, assignment_time)
    names = [c.column for c in covariates]
    for col in [outcome, *names]:
        missing = int(df[col].isna().sum())
        if missing:
            raise UserInputError(
                f"column '{col}' has {missing} missing value(s); fill them (e.g. 0 plus an "
                "indicator covariate for customers without a pre-period) before CUPED"
            )
    groups = df[arm].astype(str)
    if control_arm not in set(groups):
        raise UserInputError(f"control arm '{control_arm}' does not occur in column '{arm}'")
    y = df[outcome].to_numpy(dtype=np.float64)
    x = df[names].to_numpy(dtype=np.float64)
    model = CupedAdjuster(pooling=pooling).fit(y, x, groups.to_numpy())
    frame = pd.DataFrame({"g": groups.to_numpy(), "y": y, "adj": model.transform(y, x)})
    summary = frame.groupby("g").agg(
        n=("y", "size"),
        mean=("y", "mean"),
        var=("y", "var"),
        adj_mean=("adj", "mean"),
        adj_var=("adj", "var"),
    )
    reduction = 1.0 - float(
        ((summary["n"] - 1) * summary["adj_var"]).sum()
        / ((summary["n"] - 1) * summary["var"]).sum()
    )
    arms: list[CupedArm] = []
    for name, row in summary.iterrows():
        half = stats.t.isf(alpha / 2.0, row["n"] - 1) * np.sqrt(row["adj_var"] / row["n"])
        arms.append(
            CupedArm(
                arm=str(name),
                n=int(row["n"]),
                mean=float(row["mean"]),
                adjusted_mean=float(row["adj_mean"]),
                adjusted_low=float(row["adj_mean"] - half),
                adjusted_high=float(row["adj_mean"] + half),
            )
        )
    ctrl = summary.loc[control_arm]
    comparisons: list[CupedComparison] = []
    for name, row in summary.drop(index=control_arm).iterrows():
        raw = welch_from_stats(
            row["mean"], row["var"], row["n"], ctrl["mean"], ctrl["var"], ctrl["n"], alpha
        )
        adj = welch_from_stats(
            row["adj_mean"],
            row["adj_var"],
            row["n"],
            ctrl["adj_mean"],
            ctrl["adj_var"],
            ctrl["n"],
            alpha,
        )
        comparisons.append(
            CupedComparison(
                arm=str(name),
                control=control_arm,
                difference=float(raw.difference),
                low=float(raw.low),
                high=float(raw.high),
                adjusted_difference=float(adj.difference),
                adjusted_low=float(adj.low),
                adjusted_high=float(adj.high),
                adjusted_p_value=float(adj.p_value),
            )
        )
    return CupedResult(
        outcome=outcome,
        theta={n: float(t) for n, t in zip(names, model.theta_, strict=True)},
        variance_reduction=reduction,
        arms=arms,
        comparisons=comparisons,
    )
