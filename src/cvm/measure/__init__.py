"""Campaign measurement: lift against control, its uncertainty, ROI, power and feedback.

Pure numpy/scipy/pandas; no engine, state or web imports (checked by import-linter).
See docs/measurement.md for the methods, formulas and citations.
"""

from cvm.measure.bootstrap import BootstrapResult, bootstrap_mean_interval
from cvm.measure.campaign_results import CampaignMeasurement, measure_campaign_frame
from cvm.measure.cuped import Covariate, CupedAdjuster, CupedResult, cuped_adjust
from cvm.measure.deciles import DecileComparison, uplift_by_decile
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
from cvm.measure.program import ProgramReport, estimate_program_lift
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
from cvm.measure.uplift_posterior import (
    UpliftEvidence,
    UpliftPosterior,
    evidence_from_frame,
    thompson_uplifts,
    uplift_posterior,
    uplift_posteriors,
)

__all__ = [
    "ArmLift",
    "BetaPrior",
    "BootstrapResult",
    "CampaignMeasurement",
    "ControlAssessment",
    "Covariate",
    "CupedAdjuster",
    "CupedResult",
    "DecileComparison",
    "LiftReport",
    "MetricLift",
    "OfferStats",
    "ProgramReport",
    "SampleSize",
    "UpliftEvidence",
    "UpliftPosterior",
    "assess_control",
    "bootstrap_mean_interval",
    "compute_roi",
    "cuped_adjust",
    "duration_days",
    "estimate_lift",
    "estimate_program_lift",
    "evidence_from_frame",
    "holm_adjust",
    "mde_means",
    "mde_proportions",
    "measure_campaign_frame",
    "newcombe_interval",
    "offer_stats_from_results",
    "probability_best",
    "risk_ratio_interval",
    "sample_response_rates",
    "sample_size_means",
    "sample_size_proportions",
    "thompson_uplifts",
    "two_proportion_ztest",
    "update_priors",
    "uplift_by_decile",
    "uplift_posterior",
    "uplift_posteriors",
    "welch_from_stats",
    "welch_test",
    "wilson_interval",
]
