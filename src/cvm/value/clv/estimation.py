"""Maximum-likelihood estimation shared by the CLV models.

Every model here has strictly positive parameters theta. We optimise phi = log(theta), which
removes the positivity constraints and evens out the scales of the parameters, and we minimise

    f(phi) = -(1/W) * sum_i w_i * log L(theta | row_i) + penalizer * sum_k theta_k**2,

the weighted mean negative log-likelihood (W = sum_i w_i, the number of customers) plus the L2
penalty of lifetimes (penalizer_coef * sum(params**2) on the per-customer mean), so that a
given `penalizer` means the same thing as in lifetimes.

Models supply the weighted sums of the log-likelihood and, when they can, of its gradient and
Hessian in theta; missing derivatives are taken by central finite differences in phi. With an
analytic Hessian we use scipy's Newton trust-region method (`trust-exact`), otherwise L-BFGS-B
followed by a few Newton steps on the finite-difference Hessian. Standard errors come from the
inverse of the Hessian of W * f at the optimum (the observed information of the penalised
likelihood, which is the plain negative log-likelihood when `penalizer` is 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

FloatArray = np.ndarray
# (theta, columns, weights, order) -> (sum w*ll, sum w*d ll/d theta or None, sum w*d2 ll or None)
Terms = Callable[
    [FloatArray, dict[str, FloatArray], FloatArray, int],
    tuple[float, FloatArray | None, FloatArray | None],
]

LOG_BOUND = 25.0  # |log theta| beyond this (theta outside [1.4e-11, 7.2e10]) is degenerate


def dot(weights: FloatArray, values: FloatArray) -> float:
    """sum_i weights_i * values_i.

    np.einsum rather than `@`: a 1-D BLAS dot starts OpenBLAS threads, and on a machine whose
    cores are busy that measured 10-30 times slower than this single-threaded loop.
    """
    return float(np.einsum("i,i->", weights, np.broadcast_to(values, weights.shape)))


@dataclass(frozen=True)
class ConvergenceReport:
    """How the optimiser ended.

    `gradient_norm` is the largest absolute gradient of the mean objective f in log-parameter
    space at the returned parameters; `hessian_positive_definite` is False when the optimum is
    on a ridge or boundary and the standard errors are then not available (NaN).
    """

    success: bool
    method: str
    iterations: int
    function_evaluations: int
    message: str
    gradient_norm: float
    hessian_positive_definite: bool
    warm_start_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Problem:
    """One likelihood to maximise: the model's terms bound to (aggregated) data."""

    terms: Terms
    analytic_order: int
    columns: dict[str, FloatArray]
    weights: FloatArray
    penalizer: float
    evaluations: int = 0

    @property
    def total_weight(self) -> float:
        return float(self.weights.sum())

    def log_likelihood(self, theta: FloatArray) -> float:
        """Unpenalised total log-likelihood sum_i w_i log L_i."""
        with np.errstate(all="ignore"):
            ll, _, _ = self.terms(theta, self.columns, self.weights, 0)
        return float(ll)

    def fun(self, phi: FloatArray) -> float:
        self.evaluations += 1
        theta = np.exp(phi)
        with np.errstate(all="ignore"):
            ll, _, _ = self.terms(theta, self.columns, self.weights, 0)
        value = -ll / self.total_weight + self.penalizer * float(np.sum(theta**2))
        return float(value) if np.isfinite(value) else np.inf

    def fun_grad(self, phi: FloatArray) -> tuple[float, FloatArray]:
        if np.any(np.abs(phi) > LOG_BOUND + 1e-9):
            return np.inf, np.zeros_like(phi)  # outside the box: the optimiser must step back
        if self.analytic_order < 1:
            return self.fun(phi), self._numerical_gradient(phi)
        cached = getattr(self, "_cached_value", None)
        if cached is not None and cached[0] == phi.tobytes():
            return cached[1], cached[2].copy()
        self.evaluations += 1
        theta = np.exp(phi)
        # With an analytic Hessian, compute it along with the gradient (it shares most of the
        # work) and keep it: Newton-type optimisers ask for it at the same point next.
        order = 2 if self.analytic_order >= 2 else 1
        with np.errstate(all="ignore"):
            ll, grad, hess = self.terms(theta, self.columns, self.weights, order)
        assert grad is not None
        value = -ll / self.total_weight + self.penalizer * float(np.sum(theta**2))
        g = -(theta * grad) / self.total_weight + 2.0 * self.penalizer * theta**2
        if hess is not None:
            # Chain rule for theta = exp(phi): D H D + diag(theta * grad).
            h = -(theta[:, None] * hess * theta[None, :] + np.diag(theta * grad))
            self._cached_hessian = (
                phi.tobytes(),
                h / self.total_weight + np.diag(4.0 * self.penalizer * theta**2),
            )
        if not (np.isfinite(value) and np.all(np.isfinite(g))):
            return np.inf, np.zeros_like(phi)
        self._cached_value = (phi.tobytes(), float(value), g.copy())
        return float(value), g

    def hess(self, phi: FloatArray) -> FloatArray:
        """Hessian of f in phi: analytic when the model has it, else finite differences."""
        if self.analytic_order >= 2:
            cached = getattr(self, "_cached_hessian", None)
            if cached is None or cached[0] != phi.tobytes():
                self.fun_grad(phi)
                cached = self._cached_hessian
            h = cached[1]
            return h if np.all(np.isfinite(h)) else self._hessian_from_gradient(phi)
        if self.analytic_order == 1:
            return self._hessian_from_gradient(phi)
        return self._hessian_from_values(phi)

    def _numerical_gradient(self, phi: FloatArray, step: float = 1e-5) -> FloatArray:
        grad = np.empty_like(phi)
        for k in range(len(phi)):
            e = np.zeros_like(phi)
            e[k] = step
            grad[k] = (self.fun(phi + e) - self.fun(phi - e)) / (2 * step)
        return grad if np.all(np.isfinite(grad)) else np.zeros_like(phi)

    def _hessian_from_gradient(self, phi: FloatArray, step: float = 1e-4) -> FloatArray:
        k = len(phi)
        h = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = step
            h[:, j] = (self.fun_grad(phi + e)[1] - self.fun_grad(phi - e)[1]) / (2 * step)
        h = (h + h.T) / 2
        # Far out on a flat ridge the likelihood can underflow; a huge curvature then keeps a
        # Newton step from moving further out, and the report shows the Hessian as not PD.
        return h if np.all(np.isfinite(h)) else np.eye(k) * 1e12

    def _hessian_from_values(self, phi: FloatArray, step: float = 2e-4) -> FloatArray:
        k = len(phi)
        f0 = self.fun(phi)
        h = np.empty((k, k))
        eye = np.eye(k) * step
        for i in range(k):
            h[i, i] = (self.fun(phi + eye[i]) - 2 * f0 + self.fun(phi - eye[i])) / step**2
            for j in range(i):
                h[i, j] = h[j, i] = (
                    self.fun(phi + eye[i] + eye[j])
                    - self.fun(phi + eye[i] - eye[j])
                    - self.fun(phi - eye[i] + eye[j])
                    + self.fun(phi - eye[i] - eye[j])
                ) / (4 * step**2)
        return h


def _newton_polish(problem: Problem, phi: FloatArray, steps: int) -> tuple[FloatArray, int]:
    """A few Newton steps with step halving: L-BFGS-B stops early on flat likelihoods.

    The Hessian is computed once (finite differences are expensive) and then updated by BFGS
    from the steps taken; every step must lower f.
    """
    f, g = problem.fun_grad(phi)
    h = problem.hess(phi)
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return phi, 0
    done = 0
    for _ in range(steps):
        direction = -np.linalg.solve(h, g)
        # Newton decrement: the predicted fall of f. Below ~1e-14 (per customer) the remaining
        # change is at the noise level of the likelihood sums (and of finite differences).
        if -float(g @ direction) < 1e-14:
            break
        for _ in range(20):
            candidate = np.clip(phi + direction, -LOG_BOUND, LOG_BOUND)
            fc, gc = problem.fun_grad(candidate)
            if fc <= f:
                # BFGS update of the Hessian along the step: superlinear convergence without
                # recomputing the finite-difference Hessian.
                step, change = candidate - phi, gc - g
                if float(change @ step) > 1e-300:
                    hs = h @ step
                    h = (
                        h
                        - np.outer(hs, hs) / float(step @ hs)
                        + np.outer(change, change) / float(change @ step)
                    )
                phi, f, g = candidate, fc, gc
                done += 1
                break
            direction = direction / 2
        else:
            break
    return phi, done


def maximize(
    problem: Problem, phi0: FloatArray, max_iter: int, *, final: bool = True, warm: bool = False
) -> tuple[FloatArray, FloatArray, ConvergenceReport]:
    """Minimise f from phi0; returns (phi, Hessian of f at phi, report).

    `final=False` (the warm start on a sample) stops at a looser tolerance and skips the Newton
    polish and the Hessian. `warm=True` says phi0 is already close (a fit on a sample): without
    an analytic Hessian we then try Newton steps on the finite-difference Hessian first, which
    need far fewer likelihood evaluations than restarting L-BFGS-B from scratch.
    """
    start = np.clip(phi0, -LOG_BOUND, LOG_BOUND)
    message, iterations = "", 0
    if problem.analytic_order >= 2:
        method = "trust-exact"
        try:
            result = minimize(
                problem.fun_grad,
                start,
                jac=True,
                hess=problem.hess,
                method=method,
                options={"maxiter": max_iter, "gtol": 1e-9 if final else 1e-6},
            )
            phi, iterations, message = np.asarray(result.x), int(result.nit), str(result.message)
        except (ValueError, np.linalg.LinAlgError) as exc:
            # A degenerate likelihood (e.g. a handful of customers, the optimum at a boundary)
            # can make the trust-region subproblem fail; L-BFGS-B with bounds still ends somewhere.
            result = minimize(
                problem.fun_grad,
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-LOG_BOUND, LOG_BOUND)] * len(phi0),
                options={"maxiter": max_iter, "ftol": 1e-14, "gtol": 1e-9},
            )
            method = "L-BFGS-B"
            phi, iterations = np.asarray(result.x), int(result.nit)
            message = f"trust-exact failed ({exc}); {result.message}"
    else:
        method, phi = "", start
        if warm and final:
            phi, iterations = _newton_polish(problem, start, steps=10)
            method, message = "newton", "Newton steps from a warm start"
        if not method or np.max(np.abs(problem.fun_grad(phi)[1])) > 1e-7:
            tol = {"ftol": 1e-14, "gtol": 1e-9} if final else {"ftol": 1e-10, "gtol": 1e-6}
            result = minimize(
                problem.fun_grad,
                phi,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-LOG_BOUND, LOG_BOUND)] * len(phi0),
                options={"maxiter": max_iter, "maxcor": 20, **tol},
            )
            phi, message = np.asarray(result.x), str(result.message)
            iterations += int(result.nit)
            method = "+".join(filter(None, [method, "L-BFGS-B"]))
            if final:
                phi, polished = _newton_polish(problem, phi, steps=3)
                iterations += polished
                method += "+newton" if polished else ""
    f, g = problem.fun_grad(phi)
    h = problem.hess(phi) if final else np.full((len(phi), len(phi)), np.nan)
    try:
        np.linalg.cholesky(h)
        positive_definite = True
    except np.linalg.LinAlgError:
        positive_definite = False
    gradient_norm = float(np.max(np.abs(g))) if np.isfinite(f) else float("inf")
    report = ConvergenceReport(
        success=bool(np.isfinite(f) and gradient_norm < 1e-4 and positive_definite),
        method=method,
        iterations=iterations,
        function_evaluations=problem.evaluations,
        message=message,
        gradient_norm=gradient_norm,
        hessian_positive_definite=positive_definite,
        warm_start_rows=0,
    )
    return phi, h, report
