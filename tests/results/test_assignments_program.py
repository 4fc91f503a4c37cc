"""Recording cvm's own launches and decision runs as assignments (intent to treat, first run
wins, idempotent), costs from offers, the program comparison against a planted global-control
effect, and offer priors from a campaign with offers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cvm.campaigns.tables import CAMPAIGN_AUDIENCE
from cvm.decide.config import GlobalControl
from cvm.decide.control_groups import global_control_mask
from cvm.decide.tables import ensure_decide_tables
from cvm.results.assignments import sync_campaign_audiences, sync_decisions

T0 = dt.datetime(2025, 3, 1, 9)


def _assignments(ws: object, campaign: str) -> pd.DataFrame:
    return ws.engine.fetch_arrow(  # type: ignore[attr-defined]
        f"SELECT * FROM campaign_assignments WHERE campaign_id = '{campaign}' ORDER BY customer_id"  # noqa: S608
    ).to_pandas()


def test_launch_audiences_become_intent_to_treat_assignments(workspace: object) -> None:
    engine = workspace.engine  # type: ignore[attr-defined]
    engine.ensure_table(CAMPAIGN_AUDIENCE)
    rows = [  # customer, run, arm, channel, status, minutes after T0
        ("a", "r1", "treatment", "email", "queued", 0),
        ("b", "r1", "treatment", None, "excluded", 0),  # no consent: still treated (ITT)
        ("c", "r1", "control", None, "held_out", 0),
        ("d", "r1", "global_control", None, "held_out", 0),  # measured by the program
        ("a", "r2", "treatment", "sms", "queued", 60),  # a later run does not move `a`
        ("e", "r2", "control", None, "held_out", 60),
    ]
    engine.write_arrow(
        "campaign_audience",
        pa.Table.from_pylist(
            [
                {"campaign_id": "spring", "run_id": r, "customer_id": c, "arm": arm,
                 "channel": ch, "status": st, "recorded_at": T0 + dt.timedelta(minutes=m)}
                for c, r, arm, ch, st, m in rows
            ]
        ),
    )  # fmt: skip
    defs = {"spring": {"offer": "voucher", "control_share": 0.2}}
    assert sync_campaign_audiences(engine, defs) == {"spring": 4}
    got = _assignments(workspace, "spring")
    assert list(got.customer_id) == ["a", "b", "c", "e"]
    a = got.iloc[0]
    assert a.arm == "treatment" and a.channel == "email" and a.assigned_at == T0
    assert a.offer_id == "voucher" and a.assignment_probability == pytest.approx(0.8)
    assert got.loc[got.customer_id == "c", "is_control"].item()
    assert got.loc[got.customer_id == "c", "assignment_probability"].item() == pytest.approx(0.2)
    assert sync_campaign_audiences(engine, defs) == {}  # idempotent
    assert (got["_source"] == "cvm.campaigns").all()


def test_decision_runs_become_offer_arms_with_their_own_holdouts(workspace: object) -> None:
    engine = workspace.engine  # type: ignore[attr-defined]
    ensure_decide_tables(engine)
    day = dt.date(2025, 3, 10)
    stale = [("x0", "A", False, False)]
    latest = [
        ("c1", "A", False, False), ("c2", "A", True, False), ("c3", "B", False, False),
        ("c4", "B", True, False), ("c5", "A", False, True),
    ]  # fmt: skip
    for run, at, rows in (("old", T0, stale), ("new", T0 + dt.timedelta(hours=1), latest)):
        engine.write_arrow(
            "decision_runs",
            pa.Table.from_pylist([{"run_id": run, "decision_date": day, "created_at": at}]),
        )
        engine.write_arrow(
            "decisions",
            pa.Table.from_pylist(
                [
                    {"run_id": run, "decision_date": day, "customer_id": c, "offer_id": o,
                     "channel": "email", "control": ctl, "global_control": g,
                     "contact": not (ctl or g), "assignment_probability": 0.1 if ctl else 0.85,
                     "send_after": T0 + dt.timedelta(hours=12)}
                    for c, o, ctl, g in rows
                ]
            ),
        )  # fmt: skip
    assert sync_decisions(engine, day) == {"decide-2025-03-10": 4}
    got = _assignments(workspace, "decide-2025-03-10")
    assert list(got.customer_id) == ["c1", "c2", "c3", "c4"]
    assert list(got.arm) == ["A", "A", "B", "B"] and list(got.is_control) == [0, 1, 0, 1]
    assert (got.assigned_at == T0 + dt.timedelta(hours=12)).all()
    assert sync_decisions(engine, day) == {}


def test_costs_from_offer_definitions() -> None:
    from cvm.results.costs import ContactCosts

    frame = pd.DataFrame(
        {
            "is_control": [False, False, False, True],
            "channel": ["email", "sms", None, None],
            "offer_id": ["A", "A", "A", "A"],
        }
    )
    out, warnings = ContactCosts(by_offer_channel={("A", "email"): 0.01}).apply(frame)
    assert list(out["cost"]) == [0.01, 0.0, 0.0, 0.0]
    assert warnings == ["contact cost unknown for 1 treated customer(s): counted as 0"]
    out, _ = ContactCosts(per_contact=0.5).apply(frame)
    assert list(out["cost"]) == [0.5, 0.5, 0.5, 0.0]


def test_program_recovers_a_planted_effect_of_marketing(workspace: object) -> None:
    from cvm.results.program_results import measure_program, store_program

    engine = workspace.engine  # type: ignore[attr-defined]
    control = GlobalControl(salt="gc-test", share=0.10)
    n = 20_000
    ids = [f"c{i:05d}" for i in range(n)]
    in_gc = global_control_mask(ids, control, dt.date(2025, 1, 1))
    engine.write_arrow(
        "customers",
        pa.table({"customer_id": ids, "signup_date": pa.array([dt.datetime(2024, 1, 1)] * n)}),
    )
    rng = np.random.default_rng(11)
    lines = []
    for k, month in enumerate([1, 2, 3, 4]):
        rate = 0.10 + np.where((k >= 2) & ~in_gc, 0.03, 0.0)  # marketing works from March
        buyers = np.flatnonzero(rng.random(n) < rate)
        lines += [
            {"transaction_id": f"t{month}-{i}", "line_id": "1", "customer_id": ids[i],
             "occurred_at": dt.datetime(2025, month, 10), "amount": 50.0}
            for i in buyers
        ]  # fmt: skip
    engine.write_arrow("transactions", pa.Table.from_pylist(lines))
    report = measure_program(engine, control, as_of=dt.datetime(2025, 5, 1), months=4)
    months = {m.breakdown_value: m for m in report.months}
    assert list(months) == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert months["2025-01"].n_control == int(in_gc.sum())  # SQL hash = Python hash
    for name, truth in (("2025-01", 0.0), ("2025-02", 0.0), ("2025-03", 0.03), ("2025-04", 0.03)):
        conv = months[name].metric("converted")
        assert conv.absolute_low < truth < conv.absolute_high
        rev = months[name].metric("revenue")
        assert rev.absolute_low < 50 * truth < rev.absolute_high
    assert not report.warnings
    assert store_program(engine, report) == 5 * 3
    with pytest.raises(Exception, match="no global control"):
        measure_program(engine, GlobalControl(share=0.0), as_of=dt.datetime(2025, 5, 1))


def test_offer_priors_from_a_campaign_with_offers(workspace: object) -> None:
    from cvm.decide.offers import parse_offer
    from cvm.results.feedback_loop import load_offer_priors, offers_with_priors, update_offer_priors

    engine = workspace.engine  # type: ignore[attr-defined]
    rng = np.random.default_rng(5)
    n = 6000
    offer = rng.choice(["good", "poor"], size=n)
    control = rng.random(n) < 0.3
    p = 0.05 + np.where(control, 0.0, np.where(offer == "good", 0.06, 0.0))
    buys = rng.random(n) < p
    ids = [f"k{i}" for i in range(n)]
    engine.write_arrow("customers", pa.table({"customer_id": ids}))
    engine.write_arrow(
        "campaign_assignments",
        pa.table(
            {
                "campaign_id": ["c1"] * n, "customer_id": ids, "arm": offer,
                "is_control": control, "assigned_at": pa.array([T0] * n, pa.timestamp("us")),
                "channel": ["email"] * n, "offer_id": offer,
            }
        ),
    )  # fmt: skip
    engine.write_arrow(
        "transactions",
        pa.Table.from_pylist(
            [
                {"transaction_id": f"t{i}", "line_id": "1", "customer_id": ids[i],
                 "occurred_at": T0 + dt.timedelta(days=2), "amount": 20.0}
                for i in np.flatnonzero(buys)
            ]
        ),
    )  # fmt: skip
    declared = [
        parse_offer({"id": o, "name": o, "outcome": "purchase", "channels": {"email": 0.01},
                     "value": {"kind": "fixed", "amount": 10}, "uplift": {"prior": 0.02}}, o)
        for o in ("good", "poor")
    ]  # fmt: skip
    posts = update_offer_priors(
        engine, declared, as_of=T0 + dt.timedelta(days=30), window_for=lambda _c: 14
    )
    overall = {p.offer: p for p in posts if p.segment == "*"}
    assert overall["good"].mean > 0.04 and abs(overall["poor"].mean) < 0.02
    assert overall["good"].n_treated + overall["good"].n_control < n  # own holdouts per offer
    stored = load_offer_priors(engine)
    assert set(stored.segment) == {"*", "prospect"}
    updated = {o.id: o for o in offers_with_priors(declared, stored)}
    assert updated["good"].uplift.prior == pytest.approx(overall["good"].mean)
    assert updated["good"].uplift.prior_strength > declared[0].uplift.prior_strength
    drawn = offers_with_priors(declared, stored, mode="thompson", seed=1)
    assert drawn[0].uplift.prior != updated["good"].uplift.prior
