"""The customer 360 tables: `profiles` (metrics and scores per customer, written by the value
and scoring stages) and the `customer_360` view (customers ⋈ profiles) that segments,
decisions, the API and the UI read.

Stages own their columns: value writes the value columns, scoring writes the score columns.
A stage that has not run yet leaves its columns NULL, so a segment on them is valid but empty.
"""

from __future__ import annotations

from cvm.core.contracts import Column, TableContract

PROFILE_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "text", "Customer.", required=True),
    # Behaviour summary (value stage)
    Column("orders", "integer", "Number of distinct purchase days (all time)."),
    Column("revenue", "decimal", "Total net revenue (all time)."),
    Column("first_purchase_at", "timestamp", "First purchase."),
    Column("last_purchase_at", "timestamp", "Most recent purchase."),
    Column(
        "days_since_last_purchase", "integer", "Days from the last purchase to the observation end."
    ),
    Column("avg_order_value", "double", "Revenue per order."),
    Column(
        "frequency", "double", "Repeat purchase periods (BG/NBD `x`), in the workspace time unit."
    ),
    Column("recency", "double", "Age at last repeat purchase (BG/NBD `t_x`), in the time unit."),
    Column("tenure", "double", "Age at the observation end (BG/NBD `T`), in the time unit."),
    Column("monetary_value", "double", "Mean spend per repeat purchase (Gamma-Gamma input)."),
    # RFM
    Column("rfm_recency", "integer", "Recency score 1-5 (5 = most recent).", minimum=1, maximum=5),
    Column("rfm_frequency", "integer", "Frequency score 1-5.", minimum=1, maximum=5),
    Column("rfm_monetary", "integer", "Monetary score 1-5.", minimum=1, maximum=5),
    Column("rfm_score", "text", "The three scores as text, e.g. `545`."),
    Column("rfm_segment", "text", "Named RFM segment (Champions, Loyal, At risk, ...)."),
    # Lifetime value
    Column(
        "p_alive",
        "double",
        "Probability the customer is still active (purchase model).",
        minimum=0,
        maximum=1,
    ),
    Column("expected_purchases", "double", "Expected purchases over the CLV horizon."),
    Column("expected_spend", "double", "Expected mean spend per purchase (Gamma-Gamma)."),
    Column("clv", "double", "Expected discounted margin over the CLV horizon."),
    Column(
        "value_tier", "text", "Value tier by CLV: `top 1%`, `top 10%`, `top 50%`, `bottom 50%`."
    ),
    Column(
        "lifecycle_stage", "text", "new, active, at risk, lapsed, churned, reactivated, prospect."
    ),
    # Scores (scoring stage)
    Column(
        "churn_propensity",
        "double",
        "Calibrated probability of churn in the next window.",
        minimum=0,
        maximum=1,
    ),
    Column("uplift", "json", "Estimated uplift per active offer, JSON object offer_id → effect."),
    Column("top_products", "json", "Recommended products, JSON array of product ids, best first."),
    Column("score_versions", "json", "Model versions behind the scores, JSON object."),
    Column("updated_at", "timestamp", "When the profile row was last computed."),
)

PROFILES = TableContract(
    name="profiles",
    description="Per-customer value metrics and model scores (one row per customer).",
    key=("customer_id",),
    columns=PROFILE_COLUMNS,
)

CUSTOMER_360_VIEW = "customer_360"
