"""The daily run end to end on a small warehouse: every policy rule holds in `decisions`."""

from __future__ import annotations

import datetime as dt
import json
import logging

import numpy as np
import pytest

from cvm.decide.batch import compute_decisions, run_decisions
from cvm.decide.config import DecideSettings
from cvm.decide.control_groups import global_control_mask
from tests.decide.conftest import DAY, NOW, offers_fixture

SETTINGS = {
    "arbitration": {"budget": 40.0, "channel_capacity": {"sms": 15}},
    "control": {"offer_share": 0.2},
}


@pytest.fixture
def decided(decide_ws: object) -> object:
    settings = DecideSettings.model_validate(SETTINGS)
    result = run_decisions(decide_ws, day=DAY, settings=settings, offers=offers_fixture())  # type: ignore[arg-type]
    return result


def _rows(ws: object) -> list[dict[str, object]]:
    table = ws.engine.fetch_arrow("SELECT * FROM decisions ORDER BY customer_id")  # type: ignore[attr-defined]
    return table.to_pylist()


def test_policy_holds_in_written_decisions(decide_ws: object, decided: object) -> None:
    rows = _rows(decide_ws)
    assert len(rows) == decided.summary["decisions"] > 0  # type: ignore[attr-defined]
    ids = [f"c{i:04d}" for i in range(400)]
    gc = dict(
        zip(ids, global_control_mask(ids, DecideSettings().control.global_, DAY), strict=True)
    )
    for r in rows:
        i = int(str(r["customer_id"])[1:])
        assert i % 7 != 0, "consent denied on every channel"
        assert i % 5 != 0, "2 messages in the 7-day window (sent + scheduled): capped"
        assert i % 11 != 0, "redeemed 3 days ago: cool-down"
        if r["channel"] == "email":
            assert i % 10 != 0, "no e-mail address"
        if r["channel"] == "sms":
            assert i % 3 == 0, "no phone"
        assert r["global_control"] == gc[str(r["customer_id"])]
        assert r["contact"] == (not r["control"] and not r["global_control"])
        assert float(r["score"]) > 0
        expected = 0.05 if r["global_control"] else 0.95 * (0.2 if r["control"] else 0.8)
        assert r["assignment_probability"] == pytest.approx(expected)
        assert r["send_after"] >= NOW.replace(hour=0) and json.loads(str(r["levers"])) is not None
    decided_rows = [r for r in rows if not r["global_control"]]
    assert sum(float(r["cost"]) for r in decided_rows) <= 40.0 + 1e-9
    assert sum(r["channel"] == "sms" for r in decided_rows) <= 15
    assert sum(r["offer_id"] == "winback" for r in decided_rows) <= 80
    assert len({r["customer_id"] for r in rows}) == len(rows), "one offer per customer"
    assert any(r["control"] for r in rows) and any(r["global_control"] for r in rows)


def test_vip_lever_logged_and_summary(decided: object) -> None:
    summary = decided.summary  # type: ignore[attr-defined]
    vip = [r for r in decided.rows.to_pylist() if r["offer_id"] == "vip"]  # type: ignore[attr-defined]
    assert vip and all(json.loads(r["levers"]) == {"priority": 1.5} for r in vip)
    assert all(r["score"] == pytest.approx(1.5 * r["expected_profit"]) for r in vip)
    assert "budget" in summary["binding"]
    low, high = summary["value_90"]
    assert low <= summary["incremental_value"] <= high
    assert sum(summary["pairs_dropped"].values()) > 0
    assert summary["solver"]["gap"] is not None and summary["solver"]["gap"] < 0.01


def test_same_input_same_decisions(decide_ws: object) -> None:
    settings = DecideSettings.model_validate(SETTINGS)
    offers = offers_fixture()
    a = compute_decisions(decide_ws.engine, offers, settings, day=DAY, now=NOW)  # type: ignore[attr-defined]
    b = compute_decisions(decide_ws.engine, list(reversed(offers)), settings, day=DAY, now=NOW)  # type: ignore[attr-defined]
    key = ["customer_id", "offer_id", "channel", "control"]
    assert (
        a.rows.select(key).sort_by("customer_id").equals(b.rows.select(key).sort_by("customer_id"))
    )


def test_rerun_replaces_the_day(decide_ws: object, decided: object) -> None:
    settings = DecideSettings.model_validate(SETTINGS)
    run_decisions(decide_ws, day=DAY, settings=settings, offers=offers_fixture())  # type: ignore[arg-type]
    runs = decide_ws.engine.fetch_rows("SELECT count(DISTINCT run_id) FROM decisions")  # type: ignore[attr-defined]
    assert runs == [(1,)]
    assert decide_ws.engine.fetch_rows("SELECT count(*) FROM decision_runs") == [(2,)]  # type: ignore[attr-defined]


def test_future_day_uses_midnight_and_validity(decide_ws: object) -> None:
    offers = offers_fixture()
    offers[0] = offers[0].model_copy(update={"valid_to": dt.date(2025, 3, 9)})
    result = compute_decisions(decide_ws.engine, offers, DecideSettings(), day=DAY)  # type: ignore[attr-defined]
    assert result.as_of == dt.datetime(2025, 3, 10)
    assert offers[0].id not in set(np.array(result.rows.column("offer_id").to_pylist()))


def test_minimum_volumes_hard_in_the_run_and_infeasible_ones_explained(
    decide_ws: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A reachable minimum is met exactly even where it costs profit; an unreachable one is
    reported with the offer and how many customers could take it."""
    offers = offers_fixture()
    settings = DecideSettings.model_validate(SETTINGS)
    free = compute_decisions(decide_ws.engine, offers, settings, day=DAY, now=NOW)  # type: ignore[attr-defined]
    treated = free.rows.filter(~free.rows.column("global_control").to_numpy(zero_copy_only=False))
    base = int((treated.column("offer_id").to_numpy(zero_copy_only=False) == "crosssell").sum())
    want = base + 15  # more cross-sell than the unconstrained optimum chose
    forced = [o.model_copy(update={"volume": o.volume.model_copy(update={"min": want})}) if o.id == "crosssell" else o for o in offers]  # fmt: skip
    hard = compute_decisions(decide_ws.engine, forced, settings, day=DAY, now=NOW)  # type: ignore[attr-defined]
    solver = hard.summary["solver"]
    assert solver["minimums_infeasible"] == [] and solver["min_volume_shortfall"] == {}
    chosen = hard.candidates.problem.offer[hard.allocation.chosen]
    assert int((chosen == [o.id for o in hard.offers].index("crosssell")).sum()) >= want
    assert hard.allocation.objective < free.allocation.objective

    vip = [o.model_copy(update={"volume": o.volume.model_copy(update={"min": 5000})}) if o.id == "vip" else o for o in offers]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="cvm.decide.batch"):
        result = compute_decisions(decide_ws.engine, vip, settings, day=DAY, now=NOW)  # type: ignore[attr-defined]
    assert "minimum offer volumes cannot all be met" in caplog.text and "offer vip" in caplog.text
    reasons = result.summary["solver"]["minimums_infeasible"]
    assert reasons and reasons[0].startswith("offer vip: minimum 5000 but only ")
    assert reasons[0].endswith("eligible customer(s) with a positive expected profit")
    assert result.summary["solver"]["min_volume_shortfall"]["vip"] > 4900
