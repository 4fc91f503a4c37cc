"""The demo records its past campaign as a company would: assignments, without the truth."""

from __future__ import annotations

from cvm.core.contracts import CANONICAL
from cvm.demo import generate_company


def test_assignments_are_the_observable_part_of_the_campaign() -> None:
    company = generate_company(n_customers=2000, seed=11)
    assignments = company.tables["campaign_assignments"].to_pandas()
    truth = company.truth["campaign"].to_pandas()
    assert list(assignments.columns) == CANONICAL["campaign_assignments"].column_names
    assert len(assignments) == len(truth) > 0
    merged = assignments.merge(truth, on=["customer_id", "campaign_id"], suffixes=("", "_truth"))
    assert (merged["arm"] == merged["arm_truth"]).all()
    assert (merged["is_control"] == (merged["arm"] == "control")).all()
    assert not set(assignments.columns) & {"true_uplift", "baseline_probability", "incremental"}
    assert assignments["assignment_probability"].between(0, 1).all()
