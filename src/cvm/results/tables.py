"""The warehouse tables measurement owns.

`campaign_results` has one row per campaign × arm × breakdown cell × metric: the numbers a
head of CRM reads. `campaign_measurements` has one row per campaign with the settings and the
warnings of its latest measurement. `program_results` holds the global-control comparison per
month. `offer_priors` holds each offer's uplift posterior (overall, segment ``*``, and per
segment), which decisioning can read as its prior. `uplift_calibration` compares the promoted
uplift model's predictions with the realised uplift by decile.
"""

from __future__ import annotations

from cvm.core.contracts import Column, TableContract
from cvm.engine.base import Engine

_LIFT = (
    Column("metric", "text", "`converted`, `visited`, `revenue`, `margin`, `delivered`, `opened`, `clicked`.", required=True),
    Column("kind", "text", "`proportion`, `mean` or `treatment_only` (never compared with control).", required=True),
    Column("treatment_value", "double", "Rate or mean per customer in the treated group."),
    Column("control_value", "double", "Rate or mean per customer in the control group."),
    Column("absolute_lift", "double", "Treated minus control."),
    Column("absolute_low", "double", "Lower confidence limit of the absolute lift."),
    Column("absolute_high", "double", "Upper confidence limit of the absolute lift."),
    Column("relative_lift", "double", "Treated / control − 1."),
    Column("relative_low", "double", "Lower limit of the relative lift."),
    Column("relative_high", "double", "Upper limit of the relative lift."),
    Column("p_value", "double", "Two-sided p-value (z-test for rates, Welch for means)."),
    Column("p_adjusted", "double", "Holm-adjusted p-value across the arms (or cells) of its family."),
    Column("incremental", "double", "Absolute lift × treated population: extra responders, revenue or margin."),
    Column("incremental_low", "double", "Lower limit of the incremental value."),
    Column("incremental_high", "double", "Upper limit of the incremental value."),
    Column("interval_method", "text", "How the interval was computed."),
)  # fmt: skip

CAMPAIGN_RESULTS = TableContract(
    name="campaign_results",
    description="Treated vs control per campaign, arm, breakdown cell and metric (intent to treat).",
    key=("campaign_id", "arm", "breakdown_column", "breakdown_value", "metric"),
    columns=(
        Column("campaign_id", "text", "Campaign.", required=True),
        Column("measured_at", "timestamp", "When the measurement ran (UTC).", required=True),
        Column("as_of", "timestamp", "Data used up to this moment.", required=True),
        Column("window_days", "integer", "Attribution window after assignment, in days."),
        Column("window_complete", "boolean", "Whether the window had ended for every customer."),
        Column("arm", "text", "Treated arm.", required=True),
        Column("control_group", "text", "The control it is compared with."),
        Column(
            "breakdown_column",
            "text",
            "`all`, `segment`, `channel`, `offer_id`, ...",
            required=True,
        ),
        Column("breakdown_value", "text", "Level of the breakdown (`all` overall).", required=True),
        Column("n_treatment", "integer", "Treated customers in the cell."),
        Column("n_control", "integer", "Control customers in the cell."),
        Column("treated_population", "double", "Population the incremental values are scaled to."),
        *_LIFT,
        Column("cuped", "boolean", "Whether the metric was CUPED-adjusted."),
        Column("variance_reduction", "double", "Share of variance CUPED removed."),
        Column("cost", "double", "Contact cost of the treated cell."),
        Column("roi", "double", "(incremental margin − cost) / cost."),
        Column("roi_low", "double", "Lower limit of the ROI."),
        Column("roi_high", "double", "Upper limit of the ROI."),
        Column("control_warning", "text", "Why the control may be too small to conclude."),
    ),
)

CAMPAIGN_MEASUREMENTS = TableContract(
    name="campaign_measurements",
    description="One row per measured campaign: settings, sizes and warnings of the latest run.",
    key=("campaign_id",),
    columns=(
        Column("campaign_id", "text", "Campaign.", required=True),
        Column("measured_at", "timestamp", "When (UTC).", required=True),
        Column("as_of", "timestamp", "Data used up to this moment."),
        Column("window_days", "integer", "Attribution window in days."),
        Column("window_complete", "boolean", "Whether the window had ended for everyone."),
        Column("assigned_from", "timestamp", "First assignment."),
        Column("assigned_to", "timestamp", "Last assignment."),
        Column("customers", "integer", "Assigned customers."),
        Column("controls", "integer", "Control customers."),
        Column("arms", "json", "Customers per arm (control included)."),
        Column("cuped", "json", "Variance reduction per CUPED-adjusted metric."),
        Column("cost_source", "text", "Where the contact cost came from."),
        Column("margin_source", "text", "Product margins, or the workspace margin rate."),
        Column("warnings", "json", "Warnings to read with the results."),
    ),
)

PROGRAM_RESULTS = TableContract(
    name="program_results",
    description="All marketing vs the global control group, per month and over the period.",
    key=("period", "metric"),
    columns=(
        Column("period", "text", "Month (`YYYY-MM`) or `all`.", required=True),
        Column("measured_at", "timestamp", "When (UTC).", required=True),
        Column("n_marketing", "integer", "Customers exposed to marketing."),
        Column("n_control", "integer", "Customers in the global control group."),
        *_LIFT,
    ),
)

OFFER_PRIORS = TableContract(
    name="offer_priors",
    description=(
        "Each offer's uplift posterior from realised campaign results (segment `*` = all "
        "customers): decisioning's prior for the next run."
    ),
    key=("offer_id", "segment"),
    columns=(
        Column("offer_id", "text", "Offer.", required=True),
        Column("segment", "text", "Lifecycle stage at assignment, or `*` for all.", required=True),
        Column("prior_uplift", "double", "The offer's declared prior uplift."),
        Column("prior_sd", "double", "sd of the declared prior."),
        Column("treated_successes", "integer", "Treated responders in the evidence."),
        Column("treated_trials", "integer", "Treated customers in the evidence."),
        Column("control_successes", "integer", "Control responders in the evidence."),
        Column("control_trials", "integer", "Control customers in the evidence."),
        Column("treated_alpha", "double", "Beta posterior of the treated response rate: alpha."),
        Column("treated_beta", "double", "... and beta."),
        Column("control_alpha", "double", "Beta posterior of the control response rate: alpha."),
        Column("control_beta", "double", "... and beta."),
        Column("realised_uplift", "double", "Uplift of the evidence alone."),
        Column("uplift_mean", "double", "Posterior mean uplift (prior and evidence)."),
        Column("uplift_sd", "double", "Posterior sd of the uplift."),
        Column(
            "prior_strength",
            "double",
            "Posterior expressed as decide's prior strength (customers).",
        ),
        Column("campaigns", "json", "Campaigns the evidence comes from."),
        Column("updated_at", "timestamp", "When (UTC).", required=True),
    ),
)

UPLIFT_CALIBRATION = TableContract(
    name="uplift_calibration",
    description=(
        "Predicted vs realised uplift by decile of the uplift model's prediction, per campaign."
    ),
    key=("campaign_id", "decile"),
    columns=(
        Column("campaign_id", "text", "Campaign whose customers were scored.", required=True),
        Column("decile", "integer", "1 = highest predicted uplift.", required=True),
        Column("model_version", "text", "Uplift model version that predicted."),
        Column("model_campaign", "text", "Campaign the model was trained on."),
        Column("in_sample", "boolean", "True when the model was trained on this campaign."),
        Column("customers", "integer", "Customers in the decile."),
        Column("treated", "integer", "Treated customers in the decile."),
        Column("control", "integer", "Control customers in the decile."),
        Column("predicted", "double", "Mean predicted uplift."),
        Column("realised", "double", "Treated minus control conversion rate."),
        Column("realised_low", "double", "Lower Newcombe limit."),
        Column("realised_high", "double", "Upper Newcombe limit."),
        Column(
            "rank_correlation",
            "double",
            "Spearman correlation of predicted and realised across deciles.",
        ),
        Column("measured_at", "timestamp", "When (UTC).", required=True),
    ),
)

RESULT_TABLES = (
    CAMPAIGN_RESULTS,
    CAMPAIGN_MEASUREMENTS,
    PROGRAM_RESULTS,
    OFFER_PRIORS,
    UPLIFT_CALIBRATION,
)


def ensure_result_tables(engine: Engine) -> None:
    for contract in RESULT_TABLES:
        engine.ensure_table(contract)
