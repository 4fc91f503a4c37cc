"""The Hillstrom (2008) e-mail experiment through the path a user's campaign takes: `cvm measure
import-hillstrom` into a workspace, then `cvm measure campaign`, compared with the published
figures and with a plain pandas computation from the CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from cvm.cli.app import app
from tests.conftest import shared_file

runner = CliRunner()
ARMS = {"Mens E-Mail": "Mens E-Mail", "Womens E-Mail": "Womens E-Mail"}
PUBLISHED = {  # MineThatData: visit, conversion (%), spend per customer ($)
    "Mens E-Mail": (18.28, 1.25, 1.42),
    "Womens E-Mail": (15.14, 0.88, 1.08),
    "No E-Mail": (10.62, 0.57, 0.65),
}


def _cvm(root: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(root)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, pd.DataFrame, Path]:
    csv = shared_file("hillstrom.csv")
    root = tmp_path_factory.mktemp("hillstrom") / "ws"
    from cvm.workspace import init_workspace

    init_workspace(root).close()
    counts = json.loads(_cvm(root, "measure", "import-hillstrom", str(csv), "--json"))
    assert counts["rows_read"] == counts["rows_accepted"] == counts["customers"] == 64_000
    out = _cvm(
        root, "measure", "campaign", "HILLSTROM-2008", "--window-days", "14",
        "--cost-per-contact", "0.10", "--by", "trait.zip_code", "--json",
    )  # fmt: skip
    return json.loads(out), pd.read_csv(csv), root


def _arm(result: dict, name: str) -> dict:
    return next(a for a in result["overall"] if a["arm"] == name)


def _metric(arm: dict, name: str) -> dict:
    return next(m for m in arm["metrics"] if m["metric"] == name)


def test_group_figures_equal_the_published_ones_and_pandas(measured) -> None:  # type: ignore[no-untyped-def]
    result, csv, _ = measured
    by = csv.groupby("segment")[["visit", "conversion", "spend"]].mean()
    assert result["arms"] == {"Mens E-Mail": 21_307, "Womens E-Mail": 21_387, "control": 21_306}
    for arm in ARMS:
        a = _arm(result, arm)
        assert a["control_group"] == "control" and a["n_control"] == 21_306
        visit, conv, spend = (_metric(a, m) for m in ("visited", "converted", "revenue"))
        assert visit["treatment_value"] == pytest.approx(by.loc[arm, "visit"], abs=1e-12)
        assert conv["treatment_value"] == pytest.approx(by.loc[arm, "conversion"], abs=1e-12)
        assert spend["treatment_value"] == pytest.approx(by.loc[arm, "spend"], abs=1e-9)
        assert visit["control_value"] == pytest.approx(by.loc["No E-Mail", "visit"], abs=1e-12)
        assert spend["control_value"] == pytest.approx(by.loc["No E-Mail", "spend"], abs=1e-9)
        pv, pc, ps = PUBLISHED[arm]
        assert round(100 * visit["treatment_value"], 2) == pv
        assert round(100 * conv["treatment_value"], 2) == pc
        assert round(spend["treatment_value"], 2) == ps
        cv, cc, cs = PUBLISHED["No E-Mail"]
        assert round(100 * visit["control_value"], 2) == cv
        assert round(100 * conv["control_value"], 2) == cc
        assert round(spend["control_value"], 2) == cs


def test_lifts_and_their_tests_match_an_independent_computation(measured) -> None:  # type: ignore[no-untyped-def]
    result, csv, _ = measured
    ctl = csv[csv.segment == "No E-Mail"]
    for arm in ARMS:
        trt = csv[csv.segment == arm]
        a = _arm(result, arm)
        visit = _metric(a, "visited")
        assert visit["absolute_lift"] == pytest.approx(trt.visit.mean() - ctl.visit.mean())
        assert visit["p_adjusted"] < 0.001
        # pooled two-proportion z-test, computed here from the counts
        x1, n1, x2, n2 = trt.visit.sum(), len(trt), ctl.visit.sum(), len(ctl)
        pooled = (x1 + x2) / (n1 + n2)
        z = (x1 / n1 - x2 / n2) / (pooled * (1 - pooled) * (1 / n1 + 1 / n2)) ** 0.5
        assert visit["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6)
        spend = _metric(a, "revenue")
        welch = stats.ttest_ind(trt.spend, ctl.spend, equal_var=False)
        assert spend["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
        ci = welch.confidence_interval()
        assert (spend["absolute_low"], spend["absolute_high"]) == pytest.approx((ci.low, ci.high))
        assert _metric(a, "converted")["p_adjusted"] < 0.001
    mens = _arm(result, "Mens E-Mail")
    # ROI with margin = spend x the workspace margin (30%) and 0.10 per e-mail (docs example)
    assert mens["roi"] == pytest.approx(1.31, abs=0.01)
    assert _arm(result, "Womens E-Mail")["roi"] == pytest.approx(0.27, abs=0.01)


def test_breakdown_and_stored_results(measured) -> None:  # type: ignore[no-untyped-def]
    result, csv, root = measured
    cells = [c for c in result["breakdowns"] if c["breakdown_column"] == "trait.zip_code"]
    assert {c["breakdown_value"] for c in cells} == {"Rural", "Surburban", "Urban"}
    rural = next(c for c in cells if c["arm"] == "Mens E-Mail" and c["breakdown_value"] == "Rural")
    part = csv[csv.zip_code == "Rural"]
    assert rural["n_treatment"] == int((part.segment == "Mens E-Mail").sum())
    assert rural["n_control"] == int((part.segment == "No E-Mail").sum())
    listed = json.loads(_cvm(root, "measure", "list", "--json"))
    assert listed[0]["campaign_id"] == "HILLSTROM-2008" and listed[0]["significant"] is True
    from cvm.results.campaigns import stored_results
    from cvm.workspace import open_workspace

    with open_workspace(root) as ws:
        rows = stored_results(ws.engine, "HILLSTROM-2008")
    overall = rows[rows.breakdown_column == "all"]
    assert set(overall.metric) == {"converted", "visited", "revenue", "margin"}
    assert len(overall) == 8 and (overall.window_complete).all()


def test_bad_rows_are_quarantined_and_counts_reconcile(tmp_path: Path) -> None:
    from cvm.results.hillstrom import import_hillstrom
    from cvm.workspace import init_workspace

    csv = tmp_path / "h.csv"
    head = "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\n"
    good = "10,2) $100 - $200,142.44,1,0,Urban,0,Phone,Womens E-Mail,1,1,30.5\n"
    csv.write_text(
        head + good * 3
        + "6,3) $200 - $350,329.08,1,1,Rural,1,Web,Nope E-Mail,0,0,0\n"
        + "6,3) $200 - $350,329.08,2,1,Rural,1,Web,No E-Mail,0,0,0\n"
    )  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    try:
        counts = import_hillstrom(ws.engine, csv)
        assert counts["rows_read"] == 5 and counts["rows_accepted"] == 3
        reasons = ws.engine.fetch_rows(
            "SELECT row_number, column_name FROM quarantine ORDER BY row_number"
        )
        assert reasons == [(5, "segment"), (6, "mens")]
        run = ws.engine.fetch_rows(
            "SELECT rows_read, rows_accepted, rows_quarantined FROM ingest_runs"
        )
        assert run == [(5, 3, 2)]
    finally:
        ws.close()
