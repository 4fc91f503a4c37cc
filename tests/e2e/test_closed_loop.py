"""The closed loop on the demo company: decide → send → measure → re-decide, and the second
round learns from the first.

Round 1 decides two offers with the same declared prior (3-4% uplift), each capped at 1,200
customers and holding out 20% as its offer control. "Send" is recorded as the decision run's
assignments (`cvm.results.assignments.sync_decisions`: contacted customers are treated, offer
holdouts are controls). The customers' responses are a SIMULATION from the demo's known
response model, read here in the test only: the baseline probability of buying in the 14
days is the demo's BG/NBD truth (alive × (1 − e^(−2λ))), the bundle's true uplift is twice the
demo's planted win-back uplift (largest for lapsing, mid-value customers) and the voucher does
nothing. The measure stage (`cvm.results.stage.measure_stage`) then measures the campaign,
updates `offer_priors`, retrains the uplift model on it and checks its calibration; round 2
decides with the learned priors (`offers_with_priors`) and must move the volume to the bundle.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cvm.decide.offers import offers_in_document, parse_offers
from cvm.segments.definition import read_document

pytestmark = pytest.mark.slow

DAY1 = dt.date(2025, 1, 2)  # the demo's data end on 2025-01-01
MEASURED = DAY1 + dt.timedelta(days=31)  # after the uplift model's 30-day window
DAY2 = MEASURED + dt.timedelta(days=1)
OFFERS = """
offers:
  - id: bundle
    name: Bundle
    outcome: purchase
    channels: {email: 0.25}
    value: {kind: fixed, amount: 10}
    uplift: {prior: 0.04, prior_strength: 20}
    control_share: 0.2
    volume: {max: 1200}
  - id: voucher
    name: Voucher
    outcome: purchase
    channels: {email: 0.25}
    value: {kind: fixed, amount: 10}
    uplift: {prior: 0.04, prior_strength: 20}
    control_share: 0.2
    volume: {max: 1200}
"""


def _simulate_responses(ws: object, decisions: pd.DataFrame, seed: int) -> dict[str, float]:
    """SIMULATION of the customers' purchases in the 14 days after the send (see above)."""
    from cvm.demo.campaign import true_uplift
    from cvm.demo.config import DemoConfig

    engine = ws.engine  # type: ignore[attr-defined]
    truth = engine.fetch_arrow(
        "SELECT customer_id, lambda_weekly, alive_at_end FROM truth_customers"
    ).to_pandas()
    history = engine.fetch_arrow(
        "SELECT customer_id, max(occurred_at) AS last_at, CAST(sum(amount) AS DOUBLE) AS spend "
        "FROM transactions WHERE NOT coalesce(is_return, FALSE) GROUP BY 1"
    ).to_pandas()
    df = truth.merge(history, on="customer_id", how="left")
    start = pd.Timestamp(DAY1)
    recency = ((start - df["last_at"]).dt.total_seconds() / 86400).fillna(9999).to_numpy()
    p0 = np.where(df["alive_at_end"], -np.expm1(-df["lambda_weekly"] * 2.0), 0.0)
    planted = true_uplift(recency, df["spend"].fillna(0).to_numpy(), p0, DemoConfig())
    sent = decisions[decisions["contact"]].set_index("customer_id")["offer_id"]
    offer = df["customer_id"].map(sent)
    tau = np.where(offer == "bundle", np.minimum(2 * planted, 1 - p0), 0.0)
    rng = np.random.default_rng(seed)
    buys = rng.random(len(df)) < p0 + tau
    when = decisions.set_index("customer_id")["send_after"]
    at = df["customer_id"].map(when).fillna(start) + pd.Timedelta(days=3)
    rows = df.loc[buys, "customer_id"]
    engine.write_arrow(
        "transactions",
        pa.table(
            {
                "transaction_id": [f"SIM-{c}" for c in rows],
                "line_id": ["1"] * len(rows),
                "customer_id": rows.to_list(),
                "occurred_at": pa.array(at[buys].to_list(), pa.timestamp("us")),
                "amount": [50.0] * len(rows),
                "is_return": [False] * len(rows),
                "_source": ["closed-loop simulation"] * len(rows),
            }
        ),
    )
    treated = offer.notna().to_numpy()
    return {
        "bundle": float(tau[(offer == "bundle").to_numpy()].mean()),
        "voucher": 0.0,
        "treated": float(treated.mean()),
    }


def _contacts(decisions: pd.DataFrame) -> dict[str, int]:
    sent = decisions[decisions["contact"]]
    return {o: int((sent["offer_id"] == o).sum()) for o in ("bundle", "voucher")}


def test_second_round_learns_from_the_first(tmp_path: Path) -> None:
    from cvm.decide.batch import run_decisions
    from cvm.decide.offer_store import load_offers, save_offers
    from cvm.demo import generate_company, load_company_into
    from cvm.report.builder import build_report
    from cvm.results.assignments import decision_campaign_id, sync_decisions
    from cvm.results.feedback_loop import load_offer_priors, models_by_campaign, offers_with_priors
    from cvm.results.stage import measure_stage
    from cvm.workspace import init_workspace

    root = tmp_path / "ws"
    ws = init_workspace(root)
    (root / "decide.toml").write_text('[policy]\nquiet_hours = {start = "00:00", end = "00:01"}\n')
    (root / "measure.toml").write_text('window_days = 14\nby = ["segment"]\n')
    try:
        load_company_into(ws.engine, generate_company(6000, seed=3))
        save_offers(ws.engine, parse_offers(offers_in_document(read_document(OFFERS))), "test")

        # 1. decide: equal priors, so both offers are tried up to their caps
        first = run_decisions(ws, day=DAY1).rows.to_pandas()
        round1 = _contacts(first)
        assert round1["bundle"] > 800 and round1["voucher"] > 800

        # 2. send (recorded from the decision run) and the customers' SIMULATED responses
        assert sync_decisions(ws.engine, DAY1) == {
            decision_campaign_id(DAY1): int((~first["global_control"]).sum())
        }
        truth = _simulate_responses(ws, first, seed=17)

        # 3. measure: campaign results, program, offer priors, uplift model, calibration
        summary = measure_stage(ws, MEASURED, lambda _m: None)
        cid = decision_campaign_id(DAY1)
        assert summary["campaigns"]["campaigns"][cid]["complete"] is True
        assert "months" in summary["program"]
        priors = load_offer_priors(ws.engine).set_index(["offer_id", "segment"])
        bundle, voucher = priors.loc[("bundle", "*")], priors.loc[("voucher", "*")]
        assert bundle["uplift_mean"] > voucher["uplift_mean"] + 0.02
        assert abs(bundle["realised_uplift"] - truth["bundle"]) < 3 * np.hypot(
            bundle["uplift_sd"], 0.01
        )
        assert abs(voucher["realised_uplift"]) < 0.05
        assert summary["feedback"]["uplift_models"][cid].startswith("uplift-")
        assert cid in models_by_campaign(ws.models_dir)  # the uplift model learned from it
        assert cid in summary["feedback"]["calibrated"]

        # 4. re-decide with what was learned
        learned = offers_with_priors(load_offers(ws.engine), load_offer_priors(ws.engine))
        second = run_decisions(ws, day=DAY2, offers=learned).rows.to_pandas()
        round2 = _contacts(second)
        share1 = round1["bundle"] / sum(round1.values())
        share2 = round2["bundle"] / max(sum(round2.values()), 1)
        assert share2 > share1 + 0.3 and round2["voucher"] < 0.2 * round1["voucher"]
        print(
            f"round 1 contacts {round1}, round 2 {round2}; posterior uplift bundle "
            f"{bundle['uplift_mean']:.4f} ± {bundle['uplift_sd']:.4f} (simulated truth "
            f"{truth['bundle']:.4f}), voucher {voucher['uplift_mean']:.4f} ± "
            f"{voucher['uplift_sd']:.4f} (truth 0)"
        )

        # 5. the report tells the story
        html = build_report(ws).read_text(encoding="utf-8")
        assert f"Campaign {cid}" in html and "Offer priors updated" in html
    finally:
        ws.close()
