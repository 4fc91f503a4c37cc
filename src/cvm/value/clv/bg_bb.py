"""BG/BB: the beta-geometric / beta-binomial model for discrete transaction opportunities.

Fader, P. S., Hardie, B. G. S. & Shang, J. (2010), "Customer-base analysis in a discrete-time
noncontractual setting", Marketing Science 29(6), 1086-1108 (FHS below).

At each of n transaction opportunities (e.g. yearly donation drives) an active customer
transacts with probability p ~ Beta(alpha, beta); before each opportunity they become inactive
for good with probability theta ~ Beta(gamma, delta). Input per customer: `frequency` x (repeat
transactions), `recency` t_x (opportunity of the last transaction, 0 if none) and `T` = n (the
number of opportunities observed), all whole numbers, as in FHS's donation data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln

from cvm.value.clv.base import ClvModel, as_series
from cvm.value.clv.estimation import dot
from cvm.value.clv.validation import FloatArray, frequency_recency_T


def _log_binom(n: float | FloatArray, k: float | FloatArray) -> FloatArray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


class BetaGeoBetaBinomModel(ClvModel):
    """BG/BB model (FHS 2010), maximum likelihood with an analytic gradient.

    `params_` holds alpha, beta (transaction probability heterogeneity) and gamma, delta
    (dropout probability heterogeneity). On the FHS donation data: alpha = 1.204,
    beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33225.6.
    """

    param_names = ("alpha", "beta", "gamma", "delta")
    input_columns = ("frequency", "recency", "T")
    analytic_order = 1

    def _validate(self, data: pd.DataFrame) -> dict[str, FloatArray]:
        return frequency_recency_T(data, type(self).__name__, discrete=True)

    def _initial_params(self, columns: dict[str, FloatArray], weights: FloatArray) -> FloatArray:
        return np.ones(4)

    @staticmethod
    def _log_terms(
        theta: FloatArray, x: FloatArray, tx: FloatArray, n: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """The terms of FHS eq. (5), in logs, one column each, and the opportunity m of each.

        Column 0 is alive through all n opportunities: B(alpha+x, beta+n-x)/B(alpha, beta) *
        B(gamma, delta+n)/B(gamma, delta). Column 1+i (i = 0..n-t_x-1) is alive through
        m = t_x+i opportunities and gone at the next: B(alpha+x, beta+m-x)/B(alpha, beta) *
        B(gamma+1, delta+m)/B(gamma, delta). Absent columns hold -inf.
        """
        alpha, beta, gamma, delta = theta
        width = int(np.max(n - tx)) if len(n) else 0
        m = tx[:, None] + np.arange(width)[None, :]
        m = np.concatenate([n[:, None], m], axis=1)
        valid = np.ones_like(m, dtype=bool)
        valid[:, 1:] = m[:, 1:] < n[:, None]
        m = np.where(valid, m, n[:, None])  # harmless values where masked
        common = betaln(alpha + x[:, None], beta + m - x[:, None]) - betaln(alpha, beta)
        g_shift = np.zeros_like(m)
        g_shift[:, 1:] = 1.0
        log_t = common + betaln(gamma + g_shift, delta + m) - betaln(gamma, delta)
        return np.where(valid, log_t, -np.inf), m

    def _terms(
        self, theta: FloatArray, c: dict[str, FloatArray], w: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        """FHS eq. (5): ln L = logsumexp of `_log_terms`. The gradient is the softmax-weighted
        sum of each term's gradient, built from d lnB(u, v)/du = psi(u) - psi(u+v)."""
        alpha, beta, gamma, delta = theta
        x, tx, n = c["frequency"], c["recency"], c["T"]
        log_t, m = self._log_terms(theta, x, tx, n)
        top = np.max(log_t, axis=1)
        ll_rows = top + np.log(np.sum(np.exp(log_t - top[:, None]), axis=1))
        ll = float(dot(w, ll_rows))
        if order == 0:
            return ll, None, None
        share = np.exp(log_t - ll_rows[:, None])  # softmax weights per row, 0 where masked
        g_shift = np.zeros_like(m)
        g_shift[:, 1:] = 1.0
        xx = x[:, None]
        d_alpha = (
            digamma(alpha + xx) - digamma(alpha + beta + m) - digamma(alpha) + digamma(alpha + beta)
        )
        d_beta = (
            digamma(beta + m - xx)
            - digamma(alpha + beta + m)
            - digamma(beta)
            + digamma(alpha + beta)
        )
        d_gamma = (
            digamma(gamma + g_shift) - digamma(gamma + delta + g_shift + m)
            - digamma(gamma) + digamma(gamma + delta)
        )  # fmt: skip
        d_delta = (
            digamma(delta + m) - digamma(gamma + delta + g_shift + m)
            - digamma(delta) + digamma(gamma + delta)
        )  # fmt: skip
        grad = np.array(
            [dot(w, np.sum(share * d, axis=1)) for d in (d_alpha, d_beta, d_gamma, d_delta)]
        )
        return ll, grad, None

    # ----- predictions --------------------------------------------------------------------------

    def _row_log_likelihood(self, c: dict[str, FloatArray]) -> FloatArray:
        log_t, _ = self._log_terms(np.array(self._fitted()), c["frequency"], c["recency"], c["T"])
        top = np.max(log_t, axis=1)
        return top + np.log(np.sum(np.exp(log_t - top[:, None]), axis=1))

    def probability_alive(self, data: pd.DataFrame, periods_ahead: int = 1) -> pd.Series:
        """P(alive at opportunity n + periods_ahead | x, t_x, n), FHS eq. (11) (periods_ahead = 1):

        B(alpha+x, beta+n-x)/B(alpha, beta) * B(gamma, delta+n+m)/B(gamma, delta) / L.
        """
        alpha, beta, gamma, delta = self._fitted()
        c = self._validate(data)
        x, n = c["frequency"], c["T"]
        log_p = (
            betaln(alpha + x, beta + n - x) - betaln(alpha, beta)
            + betaln(gamma, delta + n + periods_ahead) - betaln(gamma, delta)
            - self._row_log_likelihood(c)
        )  # fmt: skip
        return as_series(np.exp(log_p), data, "probability_alive")

    def _gamma_ratio_gap(self, start: FloatArray, horizon: FloatArray) -> FloatArray:
        """delta/(gamma-1) * G(gamma+delta)/G(1+delta)
        * [G(1+delta+s)/G(gamma+delta+s) - G(1+delta+s+h)/G(gamma+delta+s+h)],
        the expected number of opportunities alive in (s, s+h] per unit of p (FHS eq. 7, 13)."""
        _, _, gamma, delta = self._fitted()
        g = gamma if abs(gamma - 1.0) > 1e-9 else 1.0 + 1e-9  # removable singularity at 1
        head = np.log(delta) + gammaln(g + delta) - gammaln(1 + delta)
        g1 = gammaln(1 + delta + start) - gammaln(g + delta + start)
        g2 = gammaln(1 + delta + start + horizon) - gammaln(g + delta + start + horizon)
        return np.exp(head + g1) * -np.expm1(g2 - g1) / (g - 1.0)

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """E[X(n, n+t) | x, t_x, n]: expected transactions in the next t opportunities, FHS eq. (13):

        1/L * B(alpha+x+1, beta+n-x)/B(alpha, beta) * delta/(gamma-1) * G(gamma+delta)/G(1+delta)
        * [G(1+delta+n)/G(gamma+delta+n) - G(1+delta+n+t)/G(gamma+delta+n+t)].
        """
        alpha, beta, _, _ = self._fitted()
        c = self._validate(data)
        x, n = c["frequency"], c["T"]
        log_p = (
            betaln(alpha + x + 1, beta + n - x) - betaln(alpha, beta) - self._row_log_likelihood(c)
        )
        values = np.exp(log_p) * self._gamma_ratio_gap(n, np.asarray(t, dtype=float))
        return as_series(values, data, "expected_purchases")

    def expected_purchases_new_customer(self, t: float | FloatArray) -> float | FloatArray:
        """E[X(t)] over the first t opportunities, FHS eq. (7):
        alpha/(alpha+beta) * delta/(gamma-1) * [1 - G(gamma+delta)/G(gamma+delta+t) * G(1+delta+t)/G(1+delta)]."""
        alpha, beta, _, _ = self._fitted()
        t_arr = np.asarray(t, dtype=float)
        out = alpha / (alpha + beta) * self._gamma_ratio_gap(np.zeros_like(t_arr), t_arr)
        return float(out) if out.ndim == 0 else out

    def probability_of_n_purchases(self, t: int, n: int | FloatArray) -> float | FloatArray:
        """P(X(t) = n) over the first t opportunities, FHS eq. (6):

        C(t, n) B(alpha+n, beta+t-n)/B(alpha, beta) B(gamma, delta+t)/B(gamma, delta)
        + sum_{i=n}^{t-1} C(i, n) B(alpha+n, beta+i-n)/B(alpha, beta) B(gamma+1, delta+i)/B(gamma, delta).
        """
        alpha, beta, gamma, delta = self._fitted()
        n_arr = np.atleast_1d(np.asarray(n, dtype=float))
        out = np.zeros(n_arr.shape)
        for k, nk in enumerate(n_arr):
            if nk < 0 or nk > t or nk != np.round(nk):
                continue
            log_first = (
                _log_binom(t, nk) + betaln(alpha + nk, beta + t - nk) - betaln(alpha, beta)
                + betaln(gamma, delta + t) - betaln(gamma, delta)
            )  # fmt: skip
            i = np.arange(nk, t)
            log_rest = (
                _log_binom(i, nk) + betaln(alpha + nk, beta + i - nk) - betaln(alpha, beta)
                + betaln(gamma + 1, delta + i) - betaln(gamma, delta)
            )  # fmt: skip
            out[k] = np.exp(log_first) + np.exp(log_rest).sum()
        return float(out[0]) if np.ndim(n) == 0 else out
