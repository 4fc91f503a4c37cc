"""MBG/NBD: the modified BG/NBD, in which customers may also drop out right after acquisition.

Batislam, E. P., Denizel, M. & Filiztekin, A. (2007), "Empirical validation and comparison of
models for customer base analysis", International Journal of Research in Marketing 24(3),
201-209 (BDF below), with the corrected conditional expectation of Wagner, U. & Hoppe, D.
(2008), "Erratum on the MBG/NBD model", IJRM 25(3), 225-226 (WH below).

BG/NBD lets a customer become inactive only after a repeat purchase, so anyone with x = 0 is
certainly alive; MBG/NBD adds a dropout opportunity at time 0 (after the first purchase), so
the Beta(a, b) dropout acts x + 1 times. Every expression is BG/NBD's with b+x-1 replaced by
b+x and the [x > 0] guard removed, so the likelihood, its derivatives and the stable 2F1
evaluation are shared with `BetaGeoModel` through `dropout_at_zero`.
"""

from __future__ import annotations

import pandas as pd

from cvm.value.clv.bg_nbd import BetaGeoModel
from cvm.value.clv.validation import FloatArray


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD model (BDF 2007), maximum likelihood with analytic gradient and Hessian.

    `params_` holds r, alpha (gamma purchase-rate heterogeneity) and a, b (beta dropout
    heterogeneity), in the time unit of the data.
    """

    dropout_at_zero = True

    def _terms(
        self, theta: FloatArray, c: dict[str, FloatArray], w: FloatArray, order: int
    ) -> tuple[float, FloatArray | None, FloatArray | None]:
        """Log-likelihood of BDF (2007), Appendix A (as implemented by lifetimes):

            ll = lnG(r+x) - lnG(r) + r ln(alpha) + lnG(a+b) + lnG(b+x+1) - lnG(b) - lnG(a+b+x+1)
                 + log[ (alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x) ],

        the second branch (death after the last purchase, possibly at time 0) now present for
        every x. Derivatives as in `BetaGeoModel._terms`.
        """
        return super()._terms(theta, c, w, order)

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)),
        BDF (2007), Appendix A, eq. (5)."""
        return super().probability_alive(data)

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series:
        """E[Y(t) | x, t_x, T], WH (2008) corrected form of BDF's conditional expectation:

            (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)]
            / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)),   z = t/(alpha+T+t),

        evaluated through Euler's transformation as the bounded
        (1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z) (see `BetaGeoModel.expected_purchases`).
        """
        return super().expected_purchases(data, t)

    def expected_purchases_new_customer(self, t: float | FloatArray) -> float | FloatArray:
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))], BDF (2007)
        Appendix A; equal to `expected_purchases` at x = t_x = T = 0 (P(alive) = b/(a+b))."""
        return super().expected_purchases_new_customer(t)

    def probability_of_n_purchases(self, t: float, n: int | FloatArray) -> float | FloatArray:
        """P(X(t) = n) = B(a, b+n+1)/B(a, b) NB(n; r, alpha/(alpha+t))
        + B(a+1, b+n)/B(a, b) P(NB >= n), BDF (2007) Appendix A; for n = 0 the second term
        is a/(a+b), the customers who left right after acquisition."""
        return super().probability_of_n_purchases(t, n)
