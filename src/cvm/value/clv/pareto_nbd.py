"""Pareto/NBD: Poisson purchasing with exponential lifetimes, both gamma-heterogeneous.

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting your customers: who are
they and what will they do next?", Management Science 33(1), 1-24 (SMC below); expressions
from Fader, P. S. & Hardie, B. G. S. (2005), "A note on deriving the Pareto/NBD model and
related expressions", brucehardie.com/notes/009 (FH below; equation numbers of the 2005-11-05
version).

While alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha) and lives an exponential
lifetime with rate mu ~ Gamma(s, beta). Input as for BG/NBD: `frequency`, `recency`, `T`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.integrate import quad
from scipy.special import expit, gammaln, hyp2f1

from cvm.value.clv.base import ClvModel, as_series
from cvm.value.clv.estimation import dot
from cvm.value.clv.validation import FloatArray, frequency_recency_T


def log_F(
    x: FloatArray, y: FloatArray, r: float, alpha: float, s: float, beta: float
) -> FloatArray:
    """log of FH's A0 building block, eq. (19)-(20), at time y (y = t_x or T):

        F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x)   alpha >= beta
        F(y) = 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+y)) / (beta+y)^(r+s+x)     alpha < beta

    so that A0 = F(t_x) - F(T) = (r+s+x) * integral_{t_x}^{T} (alpha+u)^-(r+x) (beta+u)^-(s+1) du.
    For alpha < beta and large x the first 2F1 grows like (1-z)^(1-r-x) and overflows. Euler's
    transformation 2F1(A,B;A+1;z) = (1-z)^(1-B) 2F1(1, A+1-B; A+1; z) (Abramowitz & Stegun
    15.3.3) moves that power into closed form and leaves 2F1(1, b; c; z) with c > b > 0 and
    0 <= z < 1: a series of positive terms, between 1 and (c-1)/(c-1-b) when it converges at 1,
    so its logarithm is well conditioned for any x and T. In logs:

        alpha >= beta: -s ln(beta+y) - (r+x) ln(alpha+y) + ln 2F1(1, r+x; r+s+x+1; z)
        alpha <  beta: (1-r-x) ln(alpha+y) - (s+1) ln(beta+y) + ln 2F1(1, s+1; r+s+x+1; z)
    """
    c = r + s + x + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + y)
        return (
            -s * np.log(beta + y) - (r + x) * np.log(alpha + y) + np.log(hyp2f1(1.0, r + x, c, z))
        )
    z = (beta - alpha) / (beta + y)
    return (
        (1.0 - r - x) * np.log(alpha + y)
        - (s + 1.0) * np.log(beta + y)
        + np.log(hyp2f1(1.0, s + 1.0, c, z))
    )


def log_A0(log_F_tx: FloatArray, log_F_T: FloatArray) -> FloatArray:
    """log(F(t_x) - F(T)) without cancellation; -inf when t_x = T (A0 = 0)."""
    gap = np.minimum(log_F_T - log_F_tx, 0.0)
    with np.errstate(divide="ignore"):
        return log_F_tx + np.where(gap > -0.693, np.log(-np.expm1(gap)), np.log1p(-np.exp(gap)))


def one_minus_power_over(k: float, u: FloatArray) -> FloatArray:
    """(1 - (1+u)^-k) / k, continuous through k = 0 where it is log(1+u)."""
    if abs(k) < 1e-10:
        return np.log1p(u)
    return -np.expm1(-k * np.log1p(u)) / k


class ParetoNBDModel(ClvModel):
    """Pareto/NBD model (SMC 1987) fitted by maximum likelihood on FH's likelihood, eq. (18).

    `params_` holds r, alpha (purchase-rate heterogeneity) and s, beta (dropout-rate
    heterogeneity). On the CDNOW sample (weeks) FH report r = 0.553, alpha = 10.58, s = 0.606,
    beta = 11.67, LL = -9595.0. The likelihood has no convenient derivatives in closed form
    (they involve derivatives of 2F1 in its parameters), so the gradient is taken by central
    differences; 2F1 is evaluated once per distinct (x, t_x) and (x, T) pair.
    """

    param_names = ("r", "alpha", "s", "beta")
    input_columns = ("frequency", "recency", "T")
    time_params = ("alpha", "beta")
    time_columns = ("recency", "T")
    analytic_order = 0
    # Finite-difference gradients make each iteration cost 9 likelihoods: start from a fit on a
    # small sample early, so the full data only sees a few Newton steps.
    warm_start_rows = 5_000

    def _validate(self, data: pd.DataFrame) -> dict[str, FloatArray]:
        return frequency_recency_T(data, type(self).__name__)

    def _prepare(self, columns: dict[str, FloatArray]) -> dict[str, FloatArray]:
        x, n = columns["frequency"], len(columns["frequency"])
        pairs = pd.DataFrame(
            {"x": np.concatenate([x, x]), "y": np.concatenate([columns["recency"], columns["T"]])}
        )
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs))
        pair_x = np.asarray(uniques.get_level_values(0), dtype=np.float64)
        pair_y = np.asarray(uniques.get_level_values(1), dtype=np.float64)
        return {
            **columns,
            "pair_x": pair_x,
            "pair_y": pair_y,
            "at_tx": codes[:n],
            "at_T": codes[n:],
        }

    def _initial_params(self, columns: dict[str, FloatArray], weights: FloatArray) -> FloatArray:
        # Purchase-rate mean r/alpha from the data; mean lifetime beta/s ~ the mean customer age.
        rate = max(dot(weights, columns["frequency"]), 1.0) / max(dot(weights, columns["T"]), 1e-9)
        age = max(float(dot(weights, columns["T"]) / weights.sum()), 1e-3)
        return np.array([1.0, 1.0 / rate, 1.0, age])

    def _row_log_likelihood(self, theta: FloatArray, c: dict[str, FloatArray]) -> FloatArray:
        """FH eq. (18): ln L = lnG(r+x) - lnG(r) + r ln(alpha) + s ln(beta)
        + ln[ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ]."""
        r, alpha, s, beta = theta
        x, T = c["frequency"], c["T"]
        lf = log_F(c["pair_x"], c["pair_y"], r, alpha, s, beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        died = np.log(s) - np.log(r + s + x) + log_A0(lf[c["at_tx"]], lf[c["at_T"]])
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        return head + np.logaddexp(alive, died)

    def _terms(
        self, theta: FloatArray, c: dict[str, FloatArray], w: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        return float(dot(w, self._row_log_likelihood(theta, c))), None, None

    # ----- predictions --------------------------------------------------------------------------

    def _log_odds_dead(self, c: dict[str, FloatArray]) -> FloatArray:
        r, alpha, s, beta = self._fitted()
        x, tx, T = c["frequency"], c["recency"], c["T"]
        a0 = log_A0(log_F(x, tx, r, alpha, s, beta), log_F(x, T, r, alpha, s, beta))
        return (
            np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + a0
        )

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at T | x, t_x, T), FH section 5 (SMC eq. 11):
        1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)."""
        odds = self._log_odds_dead(self._validate(data))
        return as_series(expit(-odds), data, "probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """E[Y(t) | x, t_x, T], FH eq. (41) (SMC eq. 22):

            P(alive) * (r+x)(beta+T) / ((alpha+T)(s-1)) * [1 - ((beta+T)/(beta+T+t))^(s-1)],

        with [1 - (1+u)^-(s-1)]/(s-1) evaluated by expm1/log1p, continuous at s = 1.
        """
        r, alpha, s, beta = self._fitted()
        c = self._validate(data)
        x, T = c["frequency"], c["T"]
        alive = expit(-self._log_odds_dead(c))
        u = np.asarray(t, dtype=float) / (beta + T)
        rate = (r + x) / (alpha + T) * (beta + T)
        return as_series(
            alive * rate * one_minus_power_over(s - 1.0, u), data, "expected_purchases"
        )

    def expected_purchases_new_customer(self, t: float | FloatArray) -> float | FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)], FH eq. (27)."""
        r, alpha, s, beta = self._fitted()
        out = r / alpha * beta * one_minus_power_over(s - 1.0, np.asarray(t, dtype=float) / beta)
        return float(out) if np.ndim(out) == 0 else out

    def probability_of_n_purchases(self, t: float, n: int | FloatArray) -> float | FloatArray:
        """P(X(t) = n) for a customer just acquired.

        From the model assumptions (SMC section 2; Fader & Hardie 2006, "Deriving an
        expression for P(X(t) = x) under the Pareto/NBD model", note 012, section 3): a
        customer alive through (0, t] buys NB(n; r, alpha/(alpha+t)) times, and one who dies at
        tau < t buys NB(n; r, alpha/(alpha+tau)) times; tau has the Pareto (Lomax) density
        s beta^s / (beta+tau)^(s+1), so

            P(X(t)=n) = NB(n; t) (beta/(beta+t))^s + int_0^t NB(n; tau) s beta^s (beta+tau)^-(s+1) dtau.

        We integrate numerically (adaptive quadrature, smooth integrand) rather than use the
        note's closed form, which needs a sum of 2F1 terms of alternating sign.
        """
        r, alpha, s, beta = self._fitted()

        def nb(k: float, y: float) -> float:
            if y <= 0:
                return 1.0 if k == 0 else 0.0
            q = y / (alpha + y)
            log_pmf = (
                gammaln(r + k) - gammaln(r) - gammaln(k + 1) + r * np.log1p(-q) + k * np.log(q)
            )
            return float(np.exp(log_pmf))

        def one(k: float) -> float:
            alive = nb(k, t) * (beta / (beta + t)) ** s
            died, _ = quad(
                lambda y: nb(k, y) * s * beta**s * (beta + y) ** (-s - 1), 0.0, t, limit=200
            )
            return alive + died

        n_arr = np.asarray(n, dtype=float)
        out = np.vectorize(one, otypes=[float])(n_arr)
        return float(out) if out.ndim == 0 else out
