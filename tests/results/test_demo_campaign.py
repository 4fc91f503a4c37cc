"""The demo company's planted past campaign, measured the way any campaign is: the measured
lift must cover the planted truth (`truth_campaign`, read here in the test only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm.results.campaigns import MeasureRequest, measure_campaign
from cvm.results.costs import ContactCosts

CAMPAIGN = "CMP-WINBACK-01"
WINDOW = 30  # the demo's planted outcome window (cvm.demo.config.CampaignParams.window_days)
AS_OF = dt.datetime(2025, 6, 1)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from cvm.demo import generate_company, load_company_into
    from cvm.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("demo") / "ws")
    load_company_into(ws.engine, generate_company(20_000, seed=7))
    try:
        yield ws
    finally:
        ws.close()


def _truth(ws: object) -> pd.DataFrame:
    return ws.engine.fetch_arrow("SELECT * FROM truth_campaign").to_pandas()  # type: ignore[attr-defined]


def test_measured_lift_covers_the_planted_uplift(demo_ws: object) -> None:
    m, frame = measure_campaign(
        demo_ws.engine,  # type: ignore[attr-defined]
        CAMPAIGN,
        MeasureRequest(window_days=WINDOW, as_of=AS_OF, costs=ContactCosts(per_contact=0.05)),
    )
    truth = _truth(demo_ws)
    assert len(frame) == len(truth)
    conv = m.overall[0].metric("converted")
    planted_treated = truth.loc[truth.arm == "treatment", "true_uplift"].mean()
    planted_all = truth["true_uplift"].mean()
    assert conv.absolute_low < planted_treated < conv.absolute_high
    assert conv.absolute_low < planted_all < conv.absolute_high
    assert conv.p_adjusted < 0.01 and m.window_complete
    # treatment-only metrics come from the campaign's own message events, never compared
    arm = m.overall[0]
    assert arm.treatment_only["delivered"] == pytest.approx(1.0)
    assert 0.2 < arm.treatment_only["opened"] < 0.6
    assert arm.roi is not None and arm.cost == pytest.approx(0.05 * arm.n_treatment)
    print(
        f"planted {planted_treated:.4f} (treated) / {planted_all:.4f} (audience); measured "
        f"{conv.absolute_lift:.4f} ({conv.absolute_low:.4f}, {conv.absolute_high:.4f})"
    )


def test_segment_cells_cover_their_planted_uplift(demo_ws: object) -> None:
    m, frame = measure_campaign(
        demo_ws.engine,  # type: ignore[attr-defined]
        CAMPAIGN,
        MeasureRequest(window_days=WINDOW, as_of=AS_OF, by=("segment",), cuped=True),
    )
    truth = _truth(demo_ws).merge(frame[["customer_id", "segment"]], on="customer_id")
    planted = truth.groupby("segment")["true_uplift"].mean()
    cells = [c for c in m.breakdowns if c.n_treatment >= 100]
    covered = [
        c.metric("converted").absolute_low
        <= planted[c.breakdown_value]
        <= c.metric("converted").absolute_high
        for c in cells
    ]
    assert len(cells) >= 4 and sum(covered) >= len(cells) - 1  # 95% intervals, one may miss
    # the planted uplift peaks for lapsing customers: measured ranks lapsed/at risk above active
    lift = {c.breakdown_value: c.metric("converted").absolute_lift for c in cells}
    assert max(lift["lapsed"], lift["at risk"]) > lift["active"]
    assert m.cuped["revenue"] > 0.02  # pre-period spend predicts spend in the window


def test_lifecycle_segment_at_assignment_matches_the_segments_rules(demo_ws: object) -> None:
    from cvm.results.frames import campaign_frame
    from cvm.segments.lifecycle import assign_lifecycle_stage

    engine = demo_ws.engine  # type: ignore[attr-defined]
    moment = dt.datetime(2024, 6, 1, 0, 0, 0)
    ids = [
        r[0] for r in engine.fetch_rows("SELECT customer_id FROM customers ORDER BY 1 LIMIT 3000")
    ]
    engine.execute(
        "INSERT INTO campaign_assignments (campaign_id, customer_id, arm, is_control, assigned_at) "
        "SELECT 'LIFECYCLE-CHECK', customer_id, CASE WHEN hash(customer_id) % 2 = 0 THEN 'control' "
        "ELSE 'treatment' END, hash(customer_id) % 2 = 0, TIMESTAMP '2024-06-01 00:00:00' "
        "FROM customers WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY 1 LIMIT 3000)"
    )
    try:
        frame = campaign_frame(
            engine, "LIFECYCLE-CHECK", window_days=7, as_of=AS_OF, margin_rate=0.3
        ).set_index("customer_id")
        stages = assign_lifecycle_stage(engine, moment).to_pandas().set_index("customer_id")
        joined = frame.join(stages, how="inner")
        assert len(joined) == len(ids)
        assert (joined["segment"] == joined["lifecycle_stage"]).all()
        assert joined["segment"].nunique() >= 4
        # pre-period covariates count purchases strictly before the assignment
        assert np.all(frame["pre_revenue"] >= 0)
    finally:
        engine.execute("DELETE FROM campaign_assignments WHERE campaign_id = 'LIFECYCLE-CHECK'")


def test_cuped_refuses_a_profile_computed_after_assignment(demo_ws: object) -> None:
    import pyarrow as pa

    from cvm.core.errors import UserInputError

    engine = demo_ws.engine  # type: ignore[attr-defined]
    ids = [r[0] for r in engine.fetch_rows("SELECT customer_id FROM campaign_assignments")]
    request = MeasureRequest(
        window_days=WINDOW, as_of=AS_OF, cuped=True, covariates=("profile.clv",)
    )
    for updated, refused in ((dt.datetime(2025, 1, 1), True), (dt.datetime(2024, 9, 1), False)):
        engine.execute("DELETE FROM profiles")
        engine.write_arrow(
            "profiles",
            pa.table(
                {
                    "customer_id": ids,
                    "clv": np.arange(len(ids), dtype=float),
                    "updated_at": pa.array([updated] * len(ids), pa.timestamp("us")),
                }
            ),
        )
        if refused:
            with pytest.raises(UserInputError, match="profile.clv' was measured after"):
                measure_campaign(engine, CAMPAIGN, request)
        else:
            m, _ = measure_campaign(engine, CAMPAIGN, request)
            assert "revenue" in m.cuped
    engine.execute("DELETE FROM profiles")


def test_cli_json_of_the_demo_campaign(demo_ws: object, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from cvm.cli.app import app

    root = demo_ws.root  # type: ignore[attr-defined]
    demo_ws.close()  # type: ignore[attr-defined]  # the CLI opens the warehouse itself
    (root / "measure.toml").write_text(f"[campaigns.{CAMPAIGN}]\nwindow_days = {WINDOW}\n")
    result = CliRunner().invoke(
        app, ["measure", "campaign", CAMPAIGN, "--by", "segment", "--as-of", "2025-06-01",
              "--json", "--workspace", str(root)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["window_days"] == WINDOW and out["cost_source"] == "unknown"
    assert any("no contact cost" in w for w in out["warnings"])
    assert {c["breakdown_column"] for c in out["breakdowns"]} == {"segment"}
