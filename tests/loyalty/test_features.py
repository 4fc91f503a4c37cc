"""Loyalty model features as of a cutoff: nothing after the cutoff moves them."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cvm.loyalty.features import FEATURE_DEFAULTS, loyalty_features, with_loyalty_features
from cvm.loyalty.programme import load_programme
from cvm.loyalty.stage import run_loyalty_stage
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.workspace import Workspace
from tests.loyalty.conftest import add_lines

CUTOFF = dt.datetime(2024, 3, 1)


def features(ws: Workspace) -> pd.DataFrame:
    programme = load_programme(ws.root)
    assert programme is not None
    return loyalty_features(ws.engine, programme, CUTOFF).set_index("customer_id").sort_index()


def test_features_as_of_the_cutoff_ignore_the_future(shop: Workspace) -> None:
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    ledger = LoyaltyLedger(shop.state)
    ledger.post([Posting("redeem:early", "a", "redeem", -100, dt.datetime(2024, 2, 20))])
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    first = features(shop)
    a = first.loc["a"]
    # earned before the cutoff: T1 300 + T2 (300 + 300 gold); T3 (March) is after it
    assert a["loyalty_points_balance"] == 900 - 100
    assert a["loyalty_points_earned_365d"] == 900
    assert (a["loyalty_redemptions_365d"], a["loyalty_days_since_redeemed"]) == (1, 10)
    assert a["loyalty_tier_rank"] == 1 and first.loc["b", "loyalty_tier_rank"] == 0
    assert a["loyalty_tenure_days"] == 60
    # the future: more orders, a redemption and its reversal, a new member
    add_lines(shop.engine, [("T9", "b", "2024-03-05 10:00", 900, "books", "web")])
    ledger.post([Posting("redeem:late", "a", "redeem", -50, dt.datetime(2024, 3, 20))])
    ledger.reverse("redeem:early", dt.datetime(2024, 3, 21), "refund")
    ledger.enroll("c", dt.datetime(2024, 3, 2))
    run_loyalty_stage(shop, dt.datetime(2024, 5, 1))
    pd.testing.assert_frame_equal(features(shop), first)


def test_non_members_take_the_defaults(shop: Workspace) -> None:
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    frame = pd.DataFrame({"customer_id": ["a", "c"], "orders": [3, 1]})
    merged = with_loyalty_features(frame, features(shop).reset_index()).set_index("customer_id")
    assert merged.loc["a", "loyalty_member"] == 1.0
    assert merged.loc["c"].drop("orders").to_dict() == FEATURE_DEFAULTS


def test_model_features_carry_the_programme_once_the_stage_ran(shop: Workspace) -> None:
    """`cvm.predict.features` adds the loyalty columns when the warehouse holds a programme
    (tier order stored by the stage), and a spec saved before loyalty existed keeps its
    columns, so old models still score."""
    from cvm.predict.features import FeatureSpec, build_features, choose_spec

    before = choose_spec(shop.engine, CUTOFF)
    assert before.loyalty_tiers is None
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    spec = choose_spec(shop.engine, CUTOFF)
    programme = load_programme(shop.root)
    assert programme is not None and programme.tiers is not None
    assert spec.loyalty_tiers == [lv.name for lv in programme.tiers.levels]
    frame = build_features(shop.engine, CUTOFF, spec)
    expected = features(shop)
    assert frame.loc["a", "loyalty_tier_rank"] == expected.loc["a", "loyalty_tier_rank"]
    assert frame.loc["a", "loyalty_points_balance"] == expected.loc["a", "loyalty_points_balance"]
    old = FeatureSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "loyalty_tiers"})
    assert not any(c.startswith("loyalty_") for c in build_features(shop.engine, CUTOFF, old))
