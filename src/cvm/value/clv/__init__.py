"""Customer lifetime value models: buy-till-you-die purchase models, spend and CLV.

All models follow scikit-learn's estimator contract, fit by maximum likelihood in
log-parameter space, report standard errors, confidence intervals and a convergence report,
and save as plain JSON. Pure numpy/scipy/pandas: no engine, web or state imports.
"""

from cvm.value.clv.base import ClvModel
from cvm.value.clv.bg_nbd import BetaGeoModel
from cvm.value.clv.estimation import ConvergenceReport
from cvm.value.clv.mbg_nbd import ModifiedBetaGeoModel

__all__ = ["BetaGeoModel", "ClvModel", "ConvergenceReport", "ModifiedBetaGeoModel"]
