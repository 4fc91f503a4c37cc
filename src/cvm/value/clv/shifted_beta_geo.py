"""sBG: the shifted-beta-geometric model of contract renewals (contractual, discrete time).

Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention", Journal of
Interactive Marketing 21(1), 76-90 (FH07 below); Fader, P. S. & Hardie, B. G. S. (2010),
"Customer-base valuation in a contractual setting: the perils of ignoring heterogeneity",
Marketing Science 29(1), 85-93 (FH10 below).

At the end of each period an active customer cancels with probability theta ~ Beta(alpha, beta).
Input: one row per customer (optionally with `weights`), with `T` = the period in which
observation ends (the acquisition period counts as 1) and `recency` = the last period in which
the customer was a customer: the period in which they churned, or T if still active. A customer
with recency < T contributes P(lifetime = recency); one with recency = T has survived T-1
renewal opportunities and contributes S(T-1). Fit each acquisition cohort separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, hyp2f1, polygamma

from cvm.value.clv.base import ClvModel, as_series
from cvm.value.clv.estimation import dot
from cvm.value.clv.validation import FloatArray, check, numeric_column, require_columns


class ShiftedBetaGeoModel(ClvModel):
    """sBG model (FH07), maximum likelihood with analytic gradient and Hessian.

    `params_` holds alpha and beta of the Beta distribution of churn probabilities. On FH07's
    data: regular cohort alpha = 0.704, beta = 1.182; high-end alpha = 0.668, beta = 3.806.
    """

    param_names = ("alpha", "beta")
    input_columns = ("recency", "T")
    analytic_order = 2

    def _validate(self, data: pd.DataFrame) -> dict[str, FloatArray]:
        name = type(self).__name__
        require_columns(data, ("recency", "T"), name)
        recency, T = numeric_column(data, "recency", name), numeric_column(data, "T", name)
        check(data, recency != np.round(recency), "recency", name, "recency is a whole period")
        check(data, T != np.round(T), "T", name, "T is a whole period")
        check(data, recency < 1, "recency", name, "recency >= 1 (acquisition is period 1)")
        check(data, recency > T, "recency", name, "recency <= T")
        return {"recency": recency, "T": T}

    def _initial_params(self, columns: dict[str, FloatArray], weights: FloatArray) -> FloatArray:
        return np.ones(2)

    @staticmethod
    def _shifts(c: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
        """(u, v) with ll = ln B(alpha+u, beta+v) - ln B(alpha, beta) for each row."""
        churned = c["recency"] < c["T"]
        u = churned.astype(np.float64)
        v = np.where(churned, c["recency"] - 1.0, c["T"] - 1.0)
        return u, v

    def _terms(
        self, theta: FloatArray, c: dict[str, FloatArray], w: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        """FH07 eq. (B3): LL = sum_churned ln P(T = t) + sum_active ln S(t_end), with
        P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta) (eq. 3) and
        S(t) = B(alpha, beta+t)/B(alpha, beta) (eq. 4), t_end = T-1 renewals survived."""
        alpha, beta = theta
        u, v = self._shifts(c)
        ll = float(dot(w, betaln(alpha + u, beta + v) - betaln(alpha, beta)))
        if order == 0:
            return ll, None, None
        psi_all = digamma(alpha + beta + u + v)
        grad = np.array(
            [
                dot(w, digamma(alpha + u) - psi_all)
                - w.sum() * (digamma(alpha) - digamma(alpha + beta)),
                dot(w, digamma(beta + v) - psi_all)
                - w.sum() * (digamma(beta) - digamma(alpha + beta)),
            ]
        )
        if order == 1:
            return ll, grad, None
        tri_all, tri_ab = polygamma(1, alpha + beta + u + v), polygamma(1, alpha + beta)
        cross = -(dot(w, tri_all)) + w.sum() * tri_ab
        hess = np.array(
            [
                [
                    dot(w, polygamma(1, alpha + u) - tri_all)
                    - w.sum() * (polygamma(1, alpha) - tri_ab),
                    cross,
                ],
                [
                    cross,
                    dot(w, polygamma(1, beta + v) - tri_all)
                    - w.sum() * (polygamma(1, beta) - tri_ab),
                ],
            ]
        )
        return ll, grad, hess

    # ----- predictions --------------------------------------------------------------------------

    def survival(self, t: float | FloatArray) -> float | FloatArray:
        """S(t) = B(alpha, beta+t)/B(alpha, beta): share of a cohort still active after t
        renewal opportunities, FH07 eq. (4)."""
        alpha, beta = self._fitted()
        out = np.exp(betaln(alpha, beta + np.asarray(t, dtype=float)) - betaln(alpha, beta))
        return float(out) if np.ndim(out) == 0 else out

    def retention_rate(self, t: float | FloatArray) -> float | FloatArray:
        """r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1), FH07 eq. (6): retention rises with
        t as the customers prone to churn leave the cohort."""
        alpha, beta = self._fitted()
        t_arr = np.asarray(t, dtype=float)
        out = (beta + t_arr - 1.0) / (alpha + beta + t_arr - 1.0)
        return float(out) if out.ndim == 0 else out

    def probability_of_churn(self, t: float | FloatArray) -> float | FloatArray:
        """P(lifetime = t) = B(alpha+1, beta+t-1)/B(alpha, beta): churn at the end of period t,
        FH07 eq. (3)."""
        alpha, beta = self._fitted()
        t_arr = np.asarray(t, dtype=float)
        out = np.exp(betaln(alpha + 1.0, beta + t_arr - 1.0) - betaln(alpha, beta))
        return float(out) if out.ndim == 0 else out

    def probability_alive(self, data: pd.DataFrame, periods_ahead: int = 1) -> pd.Series:
        """P(still a customer in period T + periods_ahead | history): 0 after churn, else
        S(T-1+m)/S(T-1) (FH07 eq. 4, conditioned on survival to period T)."""
        alpha, beta = self._fitted()
        c = self._validate(data)
        active = c["recency"] >= c["T"]
        start = c["T"] - 1.0
        ratio = np.exp(betaln(alpha, beta + start + periods_ahead) - betaln(alpha, beta + start))
        return as_series(np.where(active, ratio, 0.0), data, "probability_alive")

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """Expected renewals (payments) in the next t whole periods: sum_{k=1..t} S(T-1+k)/S(T-1)
        for active customers (FH07 eq. 4), 0 for churned ones."""
        alpha, beta = self._fitted()
        c = self._validate(data)
        active = c["recency"] >= c["T"]
        start = c["T"] - 1.0
        k = np.arange(1, int(np.floor(t)) + 1, dtype=float)
        ratios = np.exp(
            betaln(alpha, beta + start[:, None] + k[None, :]) - betaln(alpha, beta + start[:, None])
        )
        return as_series(np.where(active, ratios.sum(axis=1), 0.0), data, "expected_purchases")

    def expected_purchases_new_customer(self, t: float | FloatArray) -> float | FloatArray:
        """Expected renewals in the first t periods after acquisition: sum_{k=1..t} S(k)."""
        t_arr = np.asarray(t, dtype=float)
        horizon = int(np.floor(np.max(t_arr))) if t_arr.size else 0
        cumulative = np.concatenate([[0.0], np.cumsum(self.survival(np.arange(1, horizon + 1)))])
        out = cumulative[np.floor(t_arr).astype(int)]
        return float(out) if out.ndim == 0 else out

    def discounted_expected_residual_lifetime(
        self, data: pd.DataFrame, discount_rate: float
    ) -> pd.Series:
        """DERL, FH10 eq. (6), for a customer active in period T (T-1 renewals made):

            DERL = B(alpha, beta+T)/B(alpha, beta+T-1) * 2F1(1, beta+T; alpha+beta+T; 1/(1+d)),

        the expected number of future payments, the next one (period T+1) undiscounted and
        each later one discounted by a further 1/(1+d) per period; 0 after churn. Multiply by
        the payment per period for the residual value of the customer.
        """
        alpha, beta = self._fitted()
        c = self._validate(data)
        active = c["recency"] >= c["T"]
        n = c["T"]
        ratio = np.exp(betaln(alpha, beta + n) - betaln(alpha, beta + n - 1.0))
        derl = ratio * hyp2f1(1.0, beta + n, alpha + beta + n, 1.0 / (1.0 + discount_rate))
        return as_series(np.where(active, derl, 0.0), data, "discounted_expected_residual_lifetime")
