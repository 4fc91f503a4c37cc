"""Demo survey answers: deterministic by seed, valid for the contract, after purchases, and
related to the true churn propensity (detractors churn more than promoters)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from cvm.demo import generate_company
from cvm.demo.surveys import THEMES, company_survey_responses
from cvm.feedback.scores import score_problem


@pytest.fixture(scope="module")
def company() -> Any:
    return generate_company(1500, seed=4)


def test_deterministic_and_valid(company: Any) -> None:
    a = company_survey_responses(company, seed=1)
    b = company_survey_responses(company, seed=1)
    assert a.equals(b) and a.num_rows > 300
    assert not company_survey_responses(company, seed=2).equals(a)
    rows = a.to_pylist()
    assert len({r["response_id"] for r in rows}) == len(rows)
    assert all(score_problem(r["survey"], r["score"]) is None for r in rows)
    assert {r["touchpoint"] for r in rows} == {t for t, _, _ in THEMES.values()}
    assert 0.45 < np.mean([r["comment"] is not None for r in rows]) < 0.75
    assert max(r["responded_at"] for r in rows) <= dt.datetime(2025, 1, 1)
    # Every answer follows one of the customer's orders by 1-6 days.
    first_order: dict[str, dt.datetime] = {}
    for t in company.transactions.select(["customer_id", "occurred_at"]).to_pylist():
        at = first_order.get(t["customer_id"])
        first_order[t["customer_id"]] = min(at, t["occurred_at"]) if at else t["occurred_at"]
    assert all(r["responded_at"] > first_order[r["customer_id"]] for r in rows)


def test_detractors_churn_more(company: Any) -> None:
    truth = company.truth["customers"].to_pylist()
    dropout = {t["customer_id"]: t["dropout_p"] for t in truth}
    dead = {t["customer_id"]: not t["alive_at_end"] for t in truth}
    nps = [r for r in company_survey_responses(company, seed=1).to_pylist() if r["survey"] == "nps"]
    detractors = [r["customer_id"] for r in nps if r["score"] <= 6]
    promoters = [r["customer_id"] for r in nps if r["score"] >= 9]
    assert len(detractors) > 50 and len(promoters) > 50
    assert np.mean([dead[c] for c in detractors]) > np.mean([dead[c] for c in promoters]) + 0.15
    assert np.mean([dropout[c] for c in detractors]) > 1.5 * np.mean(
        [dropout[c] for c in promoters]
    )
    # Negative comments go with low scores.
    negatives = {t for _, bad, _ in THEMES.values() for t in bad}
    low = [r for r in nps if r["comment"] and r["score"] <= 6]
    assert low and all(r["comment"] in negatives or "days late" in r["comment"] for r in low)


def test_load_from_the_warehouse_matches_the_company(company: Any, tmp_path: Any) -> None:
    from cvm.demo import load_company_into
    from cvm.demo.surveys import load_survey_responses
    from cvm.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    try:
        load_company_into(ws.engine, company)
        written = load_survey_responses(ws.engine, seed=1)
        assert load_survey_responses(ws.engine, seed=1) == written  # replaces, never doubles
        rows = ws.engine.fetch_arrow(
            "SELECT response_id, customer_id, survey, score, _source FROM survey_responses "
            "ORDER BY response_id"
        ).to_pylist()
    finally:
        ws.close()
    assert len(rows) == written > 300 and {r["_source"] for r in rows} == {"demo"}
    # Same orders, same truth, same seed: the warehouse road draws what the in-memory one does
    # (the warehouse road ends at the last order, the in-memory one at the observation end,
    # so it may have a few more answers).
    memory = {r["response_id"]: r for r in company_survey_responses(company, seed=1).to_pylist()}
    assert all(r["response_id"] in memory for r in rows)
    assert all(memory[r["response_id"]]["score"] == r["score"] for r in rows)
    assert len(rows) >= 0.97 * len(memory)
