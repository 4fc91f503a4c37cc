"""The demo's marketing spend: the true CAC per channel is recovered by `cvm.acquisition`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from cvm.acquisition import summarize_acquisition
from cvm.demo import generate_company, load_company_into
from cvm.demo.spend import (
    NOISE_SIGMA,
    TRUE_CAC,
    TRUTH_TABLE,
    load_marketing_spend,
    marketing_spend_table,
)
from cvm.workspace import Workspace, init_workspace


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = init_workspace(Path(tmp_path_factory.mktemp("demo_spend")) / "ws")
    load_company_into(ws.engine, generate_company(1500, seed=3))
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
