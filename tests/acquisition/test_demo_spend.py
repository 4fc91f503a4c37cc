"""The demo's marketing spend: the true CAC per channel is recovered by `cvm.acquisition`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from cvm.acquisition import summarize_acquisition
from cvm.demo import Company, generate_company, load_company_into
from cvm.demo.spend import (
    NOISE_SIGMA,
    TRUE_CAC,
    TRUTH_TABLE,
    load_marketing_spend,
    marketing_spend_table,
)
from cvm.workspace import Workspace, init_workspace


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(1500, seed=3)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory, company: Company) -> Iterator[Workspace]:
    ws = init_workspace(Path(tmp_path_factory.mktemp("demo_spend")) / "ws")
    load_company_into(ws.engine, company)
    yield ws
    ws.close()


def _recovered(ws: Workspace) -> dict[str, dict[str, object]]:
    summary = summarize_acquisition(ws.engine, ws.settings)
    return {row["channel"]: row for row in summary.channels}


def test_noise_free_spend_gives_back_the_true_cac_to_the_cent(demo_ws: Workspace) -> None:
    load_marketing_spend(demo_ws.engine, seed=1, sigma=0.0)
    channels = _recovered(demo_ws)
    for channel, cac in TRUE_CAC.items():
        row = channels[channel]
        if cac > 0:
            assert row["paid"] and row["cac"] == pytest.approx(cac, abs=0.01), channel
        else:
            assert not row["paid"] and row["payback"] == "no spend", channel


def test_noisy_spend_recovers_the_true_cac_within_its_sampling_error(demo_ws: Workspace) -> None:
    load_marketing_spend(demo_ws.engine, seed=7)
    summary = summarize_acquisition(demo_ws.engine, demo_ws.settings)
    channels = {row["channel"]: row for row in summary.channels}
    for channel, cac in TRUE_CAC.items():
        if cac == 0:
            continue
        sizes = [
            int(c["new_customers"])
            for c in summary.cohorts
            if c["channel"] == channel and c["new_customers"]
        ]
        # Pooled CAC = CAC × Σ nₘ εₘ / Σ nₘ with mean-one noise of sd ≈ σ: its sd is
        # σ √(Σ nₘ²) / Σ nₘ. Four of those is a tolerance an honest draw rarely breaks.
        sd = NOISE_SIGMA * math.sqrt(sum(n * n for n in sizes)) / sum(sizes)
        assert channels[channel]["cac"] == pytest.approx(cac, rel=4 * sd), channel
    truth = demo_ws.engine.fetch_arrow(f"SELECT * FROM {TRUTH_TABLE}").to_pylist()  # noqa: S608
    assert {r["acquisition_channel"]: r["true_cac"] for r in truth} == TRUE_CAC
    assert int(demo_ws.engine.fetch_scalar("SELECT count(*) FROM marketing_spend") or 0) > 0  # type: ignore[call-overload]


def test_spend_is_deterministic_by_seed() -> None:
    new = pa.table(
        {
            "channel": ["search", "search", "organic", "social"],
            "month": pa.array([pa.scalar(d, pa.date32()).as_py() for d in (0, 31, 0, 0)]),
            "new_customers": [10, 20, 5, 4],
        }
    )
    first = marketing_spend_table(new, seed=5)
    assert first.equals(marketing_spend_table(new, seed=5))
    assert not first.equals(marketing_spend_table(new, seed=6))
    assert first.column("acquisition_channel").to_pylist() == ["search", "search", "social"]
    exact = marketing_spend_table(new, seed=5, sigma=0.0)
    assert [float(a) for a in exact.column("amount").to_pylist()] == [350.0, 700.0, 200.0]


def test_realised_value_per_channel_matches_an_independent_pandas_sum(
    demo_ws: Workspace, company: Company
) -> None:
    """The SQL's margin per acquired customer, recomputed from the generated tables."""
    load_marketing_spend(demo_ws.engine, seed=7)
    summary = summarize_acquisition(demo_ws.engine, demo_ws.settings)
    customers = company.customers.to_pandas()[["customer_id", "acquisition_channel"]]
    lines = company.transactions.to_pandas().merge(
        company.products.to_pandas()[["product_id", "margin"]], on="product_id", how="left"
    )
    assert lines["margin"].notna().all()  # the demo's products all carry a margin
    lines["line_margin"] = lines["amount"].astype(float) * lines["margin"]
    margin = (
        lines.merge(customers, on="customer_id").groupby("acquisition_channel")["line_margin"].sum()
    )
    new = customers.groupby("acquisition_channel").size()
    assert summary.margin_basis == "gross margin from products.margin"
    for row in summary.channels:
        expected = margin.get(row["channel"], 0.0) / new[row["channel"]]
        assert row["realised_value"] == pytest.approx(expected, rel=1e-9), row["channel"]


@pytest.mark.slow  # fits the value stage on the demo
def test_clv_cac_after_the_value_stage(demo_ws: Workspace) -> None:
    from cvm.value.stage import run_value_stage

    load_marketing_spend(demo_ws.engine, seed=7)
    run_value_stage(demo_ws.engine, demo_ws.settings.value)
    summary = summarize_acquisition(demo_ws.engine, demo_ws.settings)
    channels = {row["channel"]: row for row in summary.channels}
    for row in channels.values():
        assert row["predicted_clv"] > row["realised_value"] > 0, row["channel"]
    assert summary.totals["paid_clv_cac"] is not None
    # The demo tilts referral towards loyal buyers and social towards flighty ones, and social
    # costs five times as much: its customers are worth less and pay back later.
    assert channels["referral"]["predicted_clv"] > channels["social"]["predicted_clv"]
    assert channels["referral"]["clv_cac"] > 3 * channels["social"]["clv_cac"]
    assert channels["referral"]["payback_months"] < channels["social"]["payback_months"]
