"""The loop's feedback reaches decisions: once measurement has written an offer's uplift
posterior (`offer_priors`), the next `cvm decide run` values that offer with it."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cvm.cli.app import app
from cvm.decide.realtime import open_decider
from cvm.measure.uplift_posterior import ALL, UpliftEvidence, uplift_posterior
from cvm.results.feedback_loop import store_offer_priors
from cvm.workspace import open_workspace
from tests.decide.conftest import OFFERS_YAML

runner = CliRunner()
DAY = "2025-03-10"


def _cvm(root: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(root)])
    assert result.exit_code == 0, result.output
    return result.output


def _decisions(root: Path, run_id: str) -> pd.DataFrame:
    with open_workspace(root) as ws:
        table = ws.engine.fetch_arrow(
            "SELECT * FROM decisions WHERE run_id = ?", [run_id]
        ).to_pandas()
    return table


def test_next_run_uses_the_measured_posterior(
    decide_ws: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root: Path = decide_ws.root  # type: ignore[attr-defined]
    offers = tmp_path / "offers.yaml"
    offers.write_text(OFFERS_YAML)
    decide_ws.close()  # type: ignore[attr-defined]  # the CLI opens the warehouse itself
    _cvm(root, "offers", "load", str(offers))
    before = json.loads(_cvm(root, "decide", "run", "--date", DAY, "--json"))
    assert before["offer_posteriors"] == {}
    first = _decisions(root, before["run_id"])
    cross1 = first[first["offer_id"] == "crosssell"]
    assert len(cross1) > 0 and np.allclose(cross1["uplift"], 0.04)  # the declared prior

    # a measured campaign: 12% of 2,000 treated bought vs 4% of 2,000 controls
    evidence = UpliftEvidence("crosssell", ALL, 240, 2000, 80, 2000)
    posterior = uplift_posterior(evidence, prior_uplift=0.04, prior_strength=20.0)
    assert 0.07 < posterior.mean < 0.09
    with open_workspace(root) as ws:
        store_offer_priors(ws.engine, [posterior], {"crosssell": ["camp-1"]})

    with caplog.at_level(logging.INFO, logger="cvm.decide.batch"):
        after = json.loads(_cvm(root, "decide", "run", "--date", DAY, "--json"))
    assert after["offer_posteriors"] == {
        "crosssell": {"prior": 0.04, "posterior": pytest.approx(posterior.mean)}
    }
    assert "offer crosssell: uplift prior 0.0400 replaced by the measured posterior" in caplog.text
    second = _decisions(root, after["run_id"])
    cross2 = second[second["offer_id"] == "crosssell"]
    assert np.allclose(cross2["uplift"], posterior.mean)
    # expected profit = uplift × value − cost, so it rises with the posterior
    for rows, u in ((cross1, 0.04), (cross2, posterior.mean)):
        assert np.allclose(rows["expected_profit"], u * rows["value"] - rows["cost"])
    both = cross1.merge(cross2, on=["customer_id", "channel"], suffixes=("_1", "_2"))
    assert len(both) > 0
    assert (both["expected_profit_2"] > both["expected_profit_1"]).all()
    # the better offer now wins more customers; offers without evidence are untouched
    assert len(cross2) > len(cross1)
    vip = second[second["offer_id"] == "vip"]
    assert np.allclose(vip["uplift"], 0.05)
    assert dt.date.fromisoformat(after["date"]) == dt.date(2025, 3, 10)
    # the real-time decider starts from the same posterior
    with open_workspace(root) as ws:
        decider = open_decider(ws)
        try:
            priors = {o.id: o.uplift.prior for o in decider.offers}
        finally:
            decider.close()
    assert priors == {"crosssell": pytest.approx(posterior.mean), "vip": 0.05, "winback": 0.01}
