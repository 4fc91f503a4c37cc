"""The value stage end to end: CDNOW sample → profiles with the literature's parameters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cvm.report.builder import build_report
from cvm.value.stage import VALUE_COLUMNS, run_value_stage
from cvm.workspace import init_workspace
from tests.conftest import shared_file
from tests.value.cdnow import load_cdnow_sample


@pytest.fixture(scope="module")
def cdnow_workspace(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path_factory.mktemp("cdnow") / "ws")
    load_cdnow_sample(ws.engine, shared_file("CDNOW_sample.txt"))
    yield ws
    ws.close()


def test_value_stage_reproduces_published_cdnow_fits(cdnow_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = cdnow_workspace
    run = run_value_stage(
        ws.engine,
        ws.settings.value,
        as_of=dt.date(1997, 9, 30),
        models_dir=ws.models_dir,
        runs_dir=ws.runs_dir,
    )
    p = run.purchase_model["params"]
    # Fader, Hardie & Lee (2005), BG/NBD on the 2,357-customer CDNOW sample, weeks 1-39
    assert p["r"] == pytest.approx(0.243, abs=5e-4)
    assert p["alpha"] == pytest.approx(4.414, abs=5e-3)
    assert p["a"] == pytest.approx(0.793, abs=5e-4)
    assert p["b"] == pytest.approx(2.426, abs=5e-3)
    assert run.purchase_model["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    g = run.spend_model["params"]  # Fader, Hardie & Lee (2005), iso-value paper
    assert (g["p"], g["q"], g["gamma"]) == pytest.approx((6.25, 3.74, 15.44), abs=0.01)
    assert run.customers == run.purchasers == 2357
    assert (
        run.report_path is not None
        and json.loads(run.report_path.read_text())["run_id"] == run.run_id
    )
    assert (ws.models_dir / "value" / run.run_id / "bg_nbd.json").is_file()


def test_profiles_carry_every_value_column(cdnow_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = cdnow_workspace
    run_value_stage(ws.engine, ws.settings.value, as_of=dt.date(1998, 6, 30), runs_dir=ws.runs_dir)
    df = ws.engine.fetch_arrow("SELECT * FROM customer_360").to_pandas()
    assert len(df) == 2357
    for col in VALUE_COLUMNS:
        if col == "lifecycle_stage":
            continue
        assert df[col].notna().all(), col
    assert df["p_alive"].between(0, 1).all()
    assert (df["clv"] >= 0).all()
    assert set(df["value_tier"]) == {"top 1%", "top 10%", "top 50%", "bottom 50%"}
    top = df[df["value_tier"] == "top 1%"]
    assert len(top) == 24  # ceil(1% of 2,357)
    assert top["clv"].min() >= df[df["value_tier"] != "top 1%"]["clv"].max()
    # CLV follows recency and frequency: a frequent recent buyer is worth more than a one-off
    assert (
        df.loc[df["frequency"] >= 10, "clv"].mean()
        > 10 * df.loc[df["frequency"] == 0, "clv"].mean()
    )


def test_holdout_validation_is_kept_with_the_run(cdnow_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = cdnow_workspace
    run = run_value_stage(ws.engine, ws.settings.value, as_of=dt.date(1998, 6, 30))
    val = run.validation
    assert val["holdout_days"] == 136
    # BG/NBD predicts aggregate holdout purchases within 10% on CDNOW
    assert abs(val["total_error_pct"]) < 10
    assert val["correlation"] > 0.5


def test_report_renders_value_sections(cdnow_workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = cdnow_workspace
    run_value_stage(ws.engine, ws.settings.value, as_of=dt.date(1998, 6, 30), runs_dir=ws.runs_dir)
    out = build_report(ws, out=tmp_path / "r.html")
    html = out.read_text()
    for text in (
        "Key performance indicators",
        "Customer value",
        "RFM grid",
        "Cohort retention",
        "Holdout check",
        "Revenue concentration",
    ):
        assert text in html, text
    # self-contained: plotly.js is inline, nothing is fetched from a CDN when the page opens
    assert 'src="http' not in html and "<link" not in html
    assert html.count("Plotly.newPlot") >= 6
