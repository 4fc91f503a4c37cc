"""`cvm offers …` and `cvm decide …` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cvm.cli.app import app
from tests.decide.conftest import OFFERS_YAML

runner = CliRunner()


def _cvm(ws: object, *args: str) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(ws.root)])  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    return result.output


def test_offers_and_decide_commands(decide_ws: object, tmp_path: Path) -> None:
    offers = tmp_path / "offers.yaml"
    offers.write_text(OFFERS_YAML)
    assert json.loads(_cvm(decide_ws, "offers", "load", str(offers), "--json"))["created"] == 3
    listed = json.loads(_cvm(decide_ws, "offers", "list", "--json"))
    assert [o["id"] for o in listed] == ["crosssell", "vip", "winback"]
    assert "kind: fixed" in _cvm(decide_ws, "offers", "show", "vip")
    decide_ws.close()  # type: ignore[attr-defined]  # the CLI opens the warehouse itself
    summary = json.loads(_cvm(decide_ws, "decide", "run", "--date", "2025-03-10", "--json"))
    assert summary["decisions"] > 0 and summary["date"] == "2025-03-10"
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("name: wide\narbitration: {budget: 100}\n")
    b.write_text(
        "name: narrow\narbitration: {budget: 5}\npolicy: {caps: [{channels: all, max: 1, days: 7}]}\n"
    )
    out = json.loads(
        _cvm(
            decide_ws,
            "decide",
            "simulate",
            str(a),
            "--compare",
            str(b),
            "--date",
            "2025-03-10",
            "--json",
        )
    )
    spend = next(r for r in out["comparison"] if r["metric"] == "spend")
    assert spend["narrow"] <= 5 < spend["wide"]
    nba = json.loads(_cvm(decide_ws, "decide", "next", "c0001", "--channel", "web", "--json"))
    assert nba["customer_id"] == "c0001"
    controls = json.loads(_cvm(decide_ws, "decide", "controls", "--date", "2025-03-10", "--json"))
    assert controls["global"]["customers"] == 400 and controls["balance"]


def test_bad_offer_file_is_one_clear_error(decide_ws: object, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nname: X\noutcome: purchase\nchannels: {fax: 1}\nvalue: {kind: fixed, amount: 1}\n"
    )
    result = runner.invoke(app, ["offers", "load", str(bad), "--workspace", str(decide_ws.root)])  # type: ignore[attr-defined]
    assert result.exit_code != 0
