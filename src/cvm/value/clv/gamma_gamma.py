"""Gamma-Gamma model of the average spend per transaction.

Colombo, R. & Jiang, W. (1999), "A stochastic RFM model", Journal of Interactive Marketing
13(3), 2-12; Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: using
iso-value curves for customer base analysis", Journal of Marketing Research 42(4), 415-430
(FHL-RFM below); formulas as numbered in Fader, P. S. & Hardie, B. G. S. (2013), "The
Gamma-Gamma model of monetary value", brucehardie.com/notes/025 (FH13 below).

A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers,
independent of the purchase process. Input per customer: `frequency` x (number of repeat
transactions, > 0 for fitting) and `monetary_value` (their mean value, > 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, polygamma

from cvm.value.clv.base import ClvModel, as_series
from cvm.value.clv.estimation import dot
from cvm.value.clv.validation import FloatArray, check, numeric_column, require_columns


class GammaGammaModel(ClvModel):
    """Gamma-Gamma spend model, maximum likelihood with analytic gradient and Hessian.

    `params_` holds p, q and gamma (lifetimes calls the last one v). On the 946 repeat
    customers of the CDNOW sample FHL-RFM report p = 6.25, q = 3.74, gamma = 15.44.
    """

    param_names = ("p", "q", "gamma")
    input_columns = ("frequency", "monetary_value")
    analytic_order = 2

    def _columns(self, data: pd.DataFrame, *, fitting: bool) -> dict[str, FloatArray]:
        name = type(self).__name__
        require_columns(data, ("frequency", "monetary_value"), name)
        x = numeric_column(data, "frequency", name)
        m = numeric_column(data, "monetary_value", name)
        check(data, x != np.round(x), "frequency", name, "frequency is a whole number")
        if fitting:
            check(
                data, x < 1, "frequency", name,
                "frequency >= 1 (fit on repeat customers only; filter frequency > 0 first)",
            )  # fmt: skip
            check(data, m <= 0, "monetary_value", name, "monetary_value > 0")
        else:
            check(data, x < 0, "frequency", name, "frequency >= 0")
            check(
                data,
                (x > 0) & (m <= 0),
                "monetary_value",
                name,
                "monetary_value > 0 when frequency > 0",
            )
        return {"frequency": x, "monetary_value": m}

    def _validate(self, data: pd.DataFrame) -> dict[str, FloatArray]:
        return self._columns(data, fitting=True)

    def _initial_params(self, columns: dict[str, FloatArray], weights: FloatArray) -> FloatArray:
        # q = 2 keeps the population mean p*gamma/(q-1) finite; gamma then matches the mean spend.
        mean = float(dot(weights, columns["monetary_value"]) / weights.sum())
        return np.array([1.0, 2.0, max(mean, 1e-6)])

    def _prepare(self, columns: dict[str, FloatArray]) -> dict[str, FloatArray]:
        # The gamma functions depend on a row only through x: evaluate them per distinct x.
        values, index = np.unique(columns["frequency"], return_inverse=True)
        return {
            **columns,
            "x_values": values,
            "x_index": index,
            "log_m": np.log(columns["monetary_value"]),
        }

    def _terms(
        self, theta: FloatArray, c: dict[str, FloatArray], w: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        """FH13 eq. (1a), the density of the mean spend m of x transactions with nu integrated out:

            ll = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(m) + px ln(x)
                 - (px+q) ln(gamma + x m).

        Sums over rows are split into per-distinct-x sums (gamma functions) and a few weighted
        sums of ln(gamma + x m) and 1/(gamma + x m), the only per-row work.
        """
        p, q, g = theta
        x, m, log_m = c["frequency"], c["monetary_value"], c["log_m"]
        ux, inv = c["x_values"], c["x_index"]
        wx_u = np.bincount(inv, weights=w, minlength=len(ux))
        w_total = float(w.sum())
        wx = w * x
        log_gxm = np.log(g + x * m)
        pu = p * ux
        ll = (
            dot(wx_u, gammaln(pu + q) - gammaln(pu) - gammaln(q) + q * np.log(g) + pu * np.log(ux))
            + p * dot(wx, log_m) - dot(w, log_m)
            - p * dot(wx, log_gxm) - q * dot(w, log_gxm)
        )  # fmt: skip
        if order == 0:
            return float(ll), None, None
        psi_u = digamma(pu + q)
        inv_gxm = 1.0 / (g + x * m)
        s_x, s_1 = dot(wx, inv_gxm), dot(w, inv_gxm)
        grad = np.array(
            [
                dot(wx_u, ux * (psi_u - digamma(pu) + np.log(ux)))
                + dot(wx, log_m)
                - dot(wx, log_gxm),
                dot(wx_u, psi_u - digamma(q) + np.log(g)) - dot(w, log_gxm),
                w_total * q / g - p * s_x - q * s_1,
            ]
        )
        if order == 1:
            return float(ll), grad, None
        tri_u = polygamma(1, pu + q)
        h_pq = dot(wx_u, ux * tri_u)
        h_qg = w_total / g - s_1
        inv2 = inv_gxm**2
        hess = np.array(
            [
                [dot(wx_u, ux**2 * (tri_u - polygamma(1, pu))), h_pq, -s_x],
                [h_pq, dot(wx_u, tri_u - polygamma(1, q)), h_qg],
                [-s_x, h_qg, -w_total * q / g**2 + p * dot(wx, inv2) + q * dot(w, inv2)],
            ]
        )
        return float(ll), grad, hess

    # ----- predictions --------------------------------------------------------------------------

    def expected_spend(self, data: pd.DataFrame) -> pd.Series:
        """E(M | p, q, gamma, m_x, x), the conditional expected mean spend, FH13 eq. (5)
        (FHL-RFM eq. 4):

            (q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * m_x,

        a weighted average of the population mean and the customer's own mean, moving towards
        the latter as x grows. Customers with x = 0 get the population mean. Infinite where
        px + q <= 1 (the gamma mixing leaves the mean spend unbounded).
        """
        p, q, g = self._fitted()
        c = self._columns(data, fitting=False)
        x, m = c["frequency"], c["monetary_value"]
        px = p * x
        denominator = px + q - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            values = (p * g + px * np.where(x > 0, m, 0.0)) / denominator
        # E(1/nu | data) is infinite when px + q <= 1 (e.g. x = 0 and q <= 1): say so.
        return as_series(np.where(denominator > 0, values, np.inf), data, "expected_spend")

    def expected_spend_new_customer(self) -> float:
        """E(M) = p gamma/(q-1), the population mean spend per transaction, FH13 eq. (3);
        infinite when q <= 1."""
        p, q, g = self._fitted()
        return p * g / (q - 1.0) if q > 1 else float("inf")
