"""BG/NBD: the beta-geometric / negative binomial distribution model of repeat buying.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting your customers' the easy way:
an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284 (FHL below).

While active, a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each repeat
purchase they become inactive with probability p ~ Beta(a, b). Input per customer: `frequency`
x (repeat purchases), `recency` t_x (time of the last purchase since the first) and `T` (time
since the first purchase), in any one time unit; parameters come out in that unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1, polygamma

from cvm.value.clv.base import ClvModel, as_series
from cvm.value.clv.estimation import dot
from cvm.value.clv.validation import FloatArray, frequency_recency_T


def unique_frequencies(columns: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Add the distinct frequencies and each row's index into them.

    Terms that depend on a row only through x (the gamma functions) are evaluated once per
    distinct x and weighted by the number of customers with that x.
    """
    values, index = np.unique(columns["frequency"], return_inverse=True)
    return {**columns, "x_values": values, "x_index": index}


def symmetric(k: int, entries: dict[tuple[int, int], float]) -> FloatArray:
    """A k x k symmetric matrix from its upper-triangle entries."""
    h = np.zeros((k, k))
    for (i, j), value in entries.items():
        h[i, j] = h[j, i] = value
    return h


class BetaGeoModel(ClvModel):
    """BG/NBD model (FHL 2005), fitted by maximum likelihood with analytic derivatives.

    `params_` holds r, alpha (gamma purchase-rate heterogeneity) and a, b (beta dropout
    heterogeneity). Fitted on the CDNOW sample (weeks) it reproduces FHL's r = 0.243,
    alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    """

    param_names = ("r", "alpha", "a", "b")
    input_columns = ("frequency", "recency", "T")
    time_params = ("alpha",)
    time_columns = ("recency", "T")
    analytic_order = 2
    # MBG/NBD differs only in letting customers drop out at time 0 as well (see mbg_nbd.py):
    # shift 1 turns b+x-1 into b+x, lnG(b+x) into lnG(b+x+1) and drops the [x > 0] guard.
    dropout_at_zero: bool = False

    def _validate(self, data: pd.DataFrame) -> dict[str, FloatArray]:
        return frequency_recency_T(data, type(self).__name__)

    def _prepare(self, columns: dict[str, FloatArray]) -> dict[str, FloatArray]:
        return unique_frequencies(columns)

    def _initial_params(self, columns: dict[str, FloatArray], weights: FloatArray) -> FloatArray:
        # Mean repeat-purchase rate sets the gamma mean r/alpha; a = b = 1 is a flat prior on p.
        rate = max(dot(weights, columns["frequency"]), 1.0) / max(dot(weights, columns["T"]), 1e-9)
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _terms(
        self, theta: FloatArray, c: dict[str, FloatArray], w: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        """Weighted sums of the log-likelihood, its gradient and Hessian in (r, alpha, a, b).

        FHL eq. (6) in the log form of Fader, Hardie & Lee (2005b), "Implementing the BG/NBD
        model for customer base analysis in Excel", eq. (1)-(2):
            ll = A1 + A2 + log(exp(A3) + [x > 0] exp(A4)),
            A1 = lnG(r+x) - lnG(r) + r ln(alpha),
            A2 = lnG(a+b) + lnG(b+x) - lnG(b) - lnG(a+b+x),
            A3 = -(r+x) ln(alpha+T),   A4 = ln(a) - ln(b+x-1) - (r+x) ln(alpha+t_x).
        We write log(e^A3 + e^A4) = A3 + softplus(d), d = A4 - A3; the gradient uses the
        weight w4 = expit(d) of the second branch and the Hessian of the two-branch log-sum-exp
        is w3*H3 + w4*H4 + w3*w4*(g3 - g4)(g3 - g4)^T.
        """
        r, alpha, a, b = theta
        x, tx, T = c["frequency"], c["recency"], c["T"]
        ux, inv = c["x_values"], c["x_index"]
        k = float(self.dropout_at_zero)
        wx = np.bincount(inv, weights=w, minlength=len(ux))
        rx = r + x
        log_T, log_t = np.log(alpha + T), np.log(alpha + tx)
        bx1_u = b + np.maximum(ux, 1.0 - k) + k - 1.0
        c_u = np.where((ux > 0) | self.dropout_at_zero, np.log(a) - np.log(bx1_u), -np.inf)
        d = c_u[inv] + rx * (log_T - log_t)
        ll_x = (
            gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
            + gammaln(a + b) + gammaln(b + ux + k) - gammaln(b) - gammaln(a + b + ux + k)
        )  # fmt: skip
        ll = float(dot(wx, ll_x) + dot(w, np.logaddexp(0.0, d) - rx * log_T))
        if order == 0:
            return ll, None, None
        w4 = expit(d)
        ww4 = w * w4
        inv_T, inv_t = 1.0 / (alpha + T), 1.0 / (alpha + tx)
        bx1 = bx1_u[inv]
        dg_r, dg_alpha = log_t - log_T, rx * (inv_t - inv_T)
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + ux + k)
        grad = np.array(
            [
                dot(wx, digamma(r + ux) - digamma(r) + np.log(alpha))
                - dot(w, log_T)
                - dot(ww4, dg_r),
                w.sum() * r / alpha - dot(w, rx * inv_T) - dot(ww4, dg_alpha),
                dot(wx, psi_ab - psi_abx) + ww4.sum() / a,
                dot(wx, psi_ab + digamma(b + ux + k) - digamma(b) - psi_abx) - dot(ww4, 1.0 / bx1),
            ]
        )
        if order == 1:
            return ll, grad, None
        p = ww4 * (1.0 - w4)  # w * w3 * w4
        # sum p (g3 - g4)(g3 - g4)^T; the a-component of g3 - g4 is the constant -1/a.
        dg = (dg_r, dg_alpha, np.full_like(x, -1.0 / a), 1.0 / bx1)
        h = np.zeros((4, 4))
        for i, j in ((0, 0), (0, 1), (1, 1), (0, 3), (1, 3), (3, 3)):
            h[i, j] = h[j, i] = float(np.einsum("i,i,i->", p, dg[i], dg[j]))
        p_sums = (dot(p, dg_r), dot(p, dg_alpha), -float(p.sum()) / a, dot(p, dg[3]))
        for j in range(4):
            h[2, j] = h[j, 2] = -p_sums[j] / a
        tri_ab, tri_abx = polygamma(1, a + b), polygamma(1, a + b + ux + k)
        h += symmetric(
            4,
            {
                (0, 0): dot(wx, polygamma(1, r + ux) - polygamma(1, r)),
                (0, 1): w.sum() / alpha - dot(w - ww4, inv_T) - dot(ww4, inv_t),
                (1, 1): -w.sum() * r / alpha**2
                + dot(w - ww4, rx * inv_T**2)
                + dot(ww4, rx * inv_t**2),
                (2, 2): dot(wx, tri_ab - tri_abx) - ww4.sum() / a**2,
                (2, 3): dot(wx, tri_ab - tri_abx),
                (3, 3): dot(wx, tri_ab + polygamma(1, b + ux + k) - polygamma(1, b) - tri_abx)
                + dot(ww4, 1.0 / bx1**2),
            },
        )
        return ll, grad, h

    # ----- predictions --------------------------------------------------------------------------

    def _log_odds_dead(self, x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        """log[a/(b+x-1)] + (r+x) log[(alpha+T)/(alpha+t_x)], -inf when x = 0 (BG/NBD)."""
        r, alpha, a, b = self._fitted()
        k = float(self.dropout_at_zero)
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = (
                np.log(a) - np.log(b + x + k - 1.0) + (r + x) * np.log((alpha + T) / (alpha + tx))
            )
        return np.where((x > 0) | self.dropout_at_zero, odds, -np.inf)

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at T | x, t_x, T): Fader, Hardie & Lee (2008), "Computing P(alive) using
        the BG/NBD model", eq. (2): 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))."""
        c = self._validate(data)
        odds = self._log_odds_dead(c["frequency"], c["recency"], c["T"])
        return as_series(expit(-odds), data, "probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t time units, FHL eq. (10).

            (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
            / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),   z = t/(alpha+T+t).

        The denominator is 1/P(alive). For large x the 2F1 grows like (1-z)^(a-1-r-x); Euler's
        transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z) (Abramowitz & Stegun
        15.3.3) cancels it exactly against the power in front, giving the bounded form
        (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z) that we evaluate.
        """
        c = self._validate(data)
        x, T = c["frequency"], c["T"]
        alive = expit(-self._log_odds_dead(x, c["recency"], T))
        values = alive * self._bracket(x, T, np.asarray(t, dtype=float))
        return as_series(values, data, "expected_purchases")

    def _bracket(self, x: FloatArray, T: FloatArray, t: FloatArray) -> FloatArray:
        """E[Y(t) | x, t_x, T] / P(alive), in the Euler-transformed form."""
        r, alpha, a, b = self._fitted()
        k = float(self.dropout_at_zero)
        z = t / (alpha + T + t)
        c = a + b + x + k - 1.0
        tail = (1.0 - z) ** (a - 1.0) * hyp2f1(a + b + k - 1.0 - r, a - 1.0, c, z)
        return c / (a - 1.0) * (1.0 - tail)

    def expected_purchases_new_customer(self, t: float | FloatArray) -> float | FloatArray:
        """E[X(t)] for a customer just acquired, FHL eq. (9):
        (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]; this is
        `expected_purchases` at x = t_x = T = 0, so we evaluate the same stable form."""
        t_arr = np.asarray(t, dtype=float)
        zero = np.zeros_like(t_arr)
        out = expit(-self._log_odds_dead(zero, zero, zero)) * self._bracket(zero, zero, t_arr)
        return float(out) if out.ndim == 0 else out

    def probability_of_n_purchases(self, t: float, n: int | FloatArray) -> float | FloatArray:
        """P(X(t) = n) for a customer just acquired, FHL eq. (8):

            B(a, b+n)/B(a, b) * NB(n; r, alpha/(alpha+t))
            + [n > 0] B(a+1, b+n-1)/B(a, b) * P(NB >= n),

        where NB is the negative binomial pmf Gamma(r+n)/(Gamma(r) n!) (alpha/(alpha+t))^r
        (t/(alpha+t))^n; FHL's 1 - sum_{j<n} NB(j) is its survival function, evaluated as the
        regularized incomplete beta I_{t/(alpha+t)}(n, r) (no cancellation).
        """
        r, alpha, a, b = self._fitted()
        k = float(self.dropout_at_zero)
        n_arr = np.asarray(n, dtype=float)
        q = t / (alpha + t)
        log_nb = (
            gammaln(r + n_arr) - gammaln(r) - gammaln(n_arr + 1)
            + r * np.log1p(-q) + n_arr * np.log(q)
        )  # fmt: skip
        first = np.exp(betaln(a, b + n_arr + k) - betaln(a, b) + log_nb)
        with np.errstate(invalid="ignore", divide="ignore"):
            survival = np.where(n_arr > 0, betainc(np.maximum(n_arr, 1), r, q), 1.0)
            second = np.exp(betaln(a + 1, b + n_arr + k - 1) - betaln(a, b)) * survival
        out = first + np.where((n_arr > 0) | self.dropout_at_zero, second, 0.0)
        return float(out) if out.ndim == 0 else out
