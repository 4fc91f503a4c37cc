"""Customer lifetime value models: buy-till-you-die purchase models, spend and CLV.

Noncontractual, continuous time: `BetaGeoModel` (BG/NBD), `ParetoNBDModel` (Pareto/NBD),
`ModifiedBetaGeoModel` (MBG/NBD). Noncontractual, discrete opportunities:
`BetaGeoBetaBinomModel` (BG/BB). Contractual, discrete periods: `ShiftedBetaGeoModel` (sBG).
Spend per transaction: `GammaGammaModel`. `expected_customer_lifetime_value` combines a purchase
model with a spend model; the `simulate_*` functions draw customers from known parameters.

All models follow scikit-learn's estimator contract, fit by maximum likelihood in
log-parameter space, report standard errors, confidence intervals and a convergence report,
and save as plain JSON. Pure numpy/scipy/pandas: no engine, web or state imports.
"""

from cvm.value.clv.base import ClvModel
from cvm.value.clv.bg_bb import BetaGeoBetaBinomModel
from cvm.value.clv.bg_nbd import BetaGeoModel
from cvm.value.clv.clv import expected_customer_lifetime_value, monthly_discount_rate
from cvm.value.clv.estimation import ConvergenceReport
from cvm.value.clv.gamma_gamma import GammaGammaModel
from cvm.value.clv.mbg_nbd import ModifiedBetaGeoModel
from cvm.value.clv.pareto_nbd import ParetoNBDModel
from cvm.value.clv.shifted_beta_geo import ShiftedBetaGeoModel
from cvm.value.clv.simulate import (
    simulate_bg_bb,
    simulate_bg_nbd,
    simulate_gamma_gamma,
    simulate_mbg_nbd,
    simulate_pareto_nbd,
    simulate_shifted_beta_geo,
)

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "ClvModel",
    "ConvergenceReport",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
    "expected_customer_lifetime_value",
    "monthly_discount_rate",
    "simulate_bg_bb",
    "simulate_bg_nbd",
    "simulate_gamma_gamma",
    "simulate_mbg_nbd",
    "simulate_pareto_nbd",
    "simulate_shifted_beta_geo",
]
