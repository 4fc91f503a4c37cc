"""Campaign measurement: lift against control, its uncertainty, ROI, power and feedback.

Pure numpy/scipy/pandas; no engine, state or web imports (checked by import-linter).
See docs/measurement.md for the methods, formulas and citations.
"""

from cvm.measure.bootstrap import BootstrapResult, bootstrap_mean_interval
from cvm.measure.cuped import Covariate, CupedAdjuster, CupedResult, cuped_adjust
from cvm.measure.feedback import (
    BetaPrior,
    OfferStats,
    offer_stats_from_results,
    probability_best,
    sample_response_rates,
    update_priors,
)
from cvm.measure.lift import estimate_lift
from cvm.measure.power import (
    ControlAssessment,
    SampleSize,
    assess_control,
    duration_days,
    mde_means,
    mde_proportions,
    sample_size_means,
    sample_size_proportions,
)
from cvm.measure.results import ArmLift, LiftReport, MetricLift
from cvm.measure.roi import compute_roi
from cvm.measure.significance import (
    holm_adjust,
    newcombe_interval,
    risk_ratio_interval,
    two_proportion_ztest,
    welch_from_stats,
    welch_test,
    wilson_interval,
)

__all__ = [
    "ArmLift",
    "BetaPrior",
    "BootstrapResult",
    "ControlAssessment",
    "Covariate",
    "CupedAdjuster",
    "CupedResult",
    "LiftReport",
    "MetricLift",
    "OfferStats",
    "SampleSize",
    "assess_control",
    "bootstrap_mean_interval",
    "compute_roi",
    "cuped_adjust",
    "duration_days",
    "estimate_lift",
    "holm_adjust",
    "mde_means",
    "mde_proportions",
    "newcombe_interval",
    "offer_stats_from_results",
    "probability_best",
    "risk_ratio_interval",
    "sample_response_rates",
    "sample_size_means",
    "sample_size_proportions",
    "two_proportion_ztest",
    "update_priors",
    "welch_from_stats",
    "welch_test",
    "wilson_interval",
]
