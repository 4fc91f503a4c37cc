"""The CVM report with measured results: one self-contained HTML file whose executive summary
leads with the business and what marketing added; rendered in a real Chromium (screenshot,
no console errors) and printed to PDF by `cvm report --pdf`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cvm.core.errors import UserInputError

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"
)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
AS_OF = dt.datetime(2025, 6, 1)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A demo workspace with its campaign and the program measured, plus a calibration check
    (from a simulated campaign: the section renders whatever the measure stage stored)."""
    from cvm.decide.config import GlobalControl
    from cvm.demo import generate_company, load_company_into
    from cvm.measure.deciles import uplift_by_decile
    from cvm.report.builder import build_report
    from cvm.results.campaigns import MeasureRequest, measure_campaign, store_measurement
    from cvm.results.costs import ContactCosts
    from cvm.results.feedback_loop import CalibrationCheck, store_calibration
    from cvm.results.program_results import measure_program, store_program
    from cvm.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("report") / "ws")
    try:
        load_company_into(ws.engine, generate_company(4000, seed=5))
        request = MeasureRequest(
            window_days=30, as_of=AS_OF, by=("segment",), costs=ContactCosts(per_contact=0.05)
        )
        m, _ = measure_campaign(ws.engine, "CMP-WINBACK-01", request)
        store_measurement(ws.engine, m, as_of=AS_OF, cost_source="test", margin_source="test")
        program = measure_program(
            ws.engine, GlobalControl(share=0.1), as_of=dt.datetime(2025, 1, 1), months=6
        )
        store_program(ws.engine, program)
        rng = np.random.default_rng(0)
        tau = rng.uniform(0, 0.1, 4000)
        treated = rng.random(4000) < 0.5
        y = rng.random(4000) < 0.05 + treated * tau
        comparison = uplift_by_decile(tau, treated, y)
        store_calibration(
            ws.engine, CalibrationCheck("SIM", "uplift-test", "SIM", True, comparison)
        )
        yield build_report(ws)
    finally:
        ws.close()


def test_report_is_self_contained_and_leads_with_results(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    for section in ('id="campaigns"', 'id="program"', 'id="kpis"'):
        assert section in html
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)
    summary = html.split('id="summary"', 1)[1].split("</section>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", summary, flags=re.S)
    assert items[0].startswith("Revenue in")  # how the business did
    assert items[1].startswith("Campaign CMP-WINBACK-01 (30-day window)")  # what it added
    assert "95% CI" in items[1] and "ROI" in items[1]
    assert any("global control" in i for i in items) and any("uplift model" in i for i in items)
    assert len(items) <= 8  # one page


@NO_CHROMIUM
@pytest.mark.browser
def test_report_renders_in_a_real_browser(report: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.resolve().as_uri())
            page.wait_for_selector("#campaigns .js-plotly-plot .main-svg")
            charts = page.locator("#campaigns .js-plotly-plot, #program .js-plotly-plot")
            assert charts.count() >= 4  # forest, segments, deciles, program
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 200
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            page.locator("#campaigns").screenshot(path=str(tmp_path / "campaigns.png"))
        finally:
            browser.close()
    assert errors == []
    image = Image.open(shot).convert("L")
    assert image.size[0] == 1280 and image.size[1] > 3000
    assert ImageStat.Stat(image).stddev[0] > 20  # not a blank page
    print(f"screenshots in {tmp_path}")


@NO_CHROMIUM
@pytest.mark.browser
def test_cvm_report_pdf(report: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cvm.cli.app import app

    root = report.parent.parent
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["report", "--pdf", "--out", str(out), "--workspace", str(root)]
    )
    assert result.exit_code == 0, result.output
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 3 and len(pdf) > 50_000


def test_missing_chromium_is_a_clear_error(tmp_path: Path) -> None:
    from cvm.report.pdf import find_chromium, render_pdf

    with pytest.raises(UserInputError, match="apt-get install chromium"):
        find_chromium([str(tmp_path / "nope"), None])
    html = tmp_path / "r.html"
    html.write_text("<html></html>")
    with pytest.raises(UserInputError, match="could not print"):
        render_pdf(html, chromium=Path("/bin/false"))
