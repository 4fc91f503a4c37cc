"""Lifecycle stages: the SQL assignment, the built-in rule trees and a hand computation agree;
migrations add up; value tiers partition the customers with a CLV; RFM names match the value
stage."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from cvm.segments.builtin import RFM_SEGMENT_NAMES, builtin_definitions
from cvm.segments.compile import compile_segment
from cvm.segments.lifecycle import (
    STAGES,
    LifecycleRules,
    assign_lifecycle_stage,
    months_before,
    stage_migration,
)
from tests.segments.conftest import Loaded
from tests.segments.data import AS_OF


def stages_by_hand(loaded: Loaded, as_of: dt.datetime, r: LifecycleRules) -> dict[str, str]:
    """The documented rules, customer by customer, in plain Python."""
    tx = loaded.data.transactions
    tx = tx[(tx["occurred_at"] <= as_of) & ~tx["is_return"].map(lambda v: v is True)]
    days = {c: sorted(g) for c, g in tx.groupby("customer_id")["occurred_at"]}
    out = {}
    for cid in loaded.data.customers["customer_id"]:
        times = days.get(cid, [])
        ago = [(as_of - t) / pd.Timedelta(days=1) for t in times]
        if not times:
            stage = "prospect"
        elif max(ago) < r.new_days:
            stage = "new"
        elif (
            any(a < r.active_days for a in ago)
            and not any(r.active_days <= a < r.active_days + r.reactivation_gap_days for a in ago)
            and any(a >= r.active_days + r.reactivation_gap_days for a in ago)
        ):
            stage = "reactivated"
        elif min(ago) < r.active_days:
            stage = "active"
        elif min(ago) < r.lapsed_days:
            stage = "at risk"
        elif min(ago) < r.churned_days:
            stage = "lapsed"
        else:
            stage = "churned"
        out[cid] = stage
    return out


@pytest.mark.parametrize(
    "rules",
    [
        LifecycleRules(),
        LifecycleRules(
            new_days=60,
            active_days=120,
            lapsed_days=200,
            churned_days=300,
            reactivation_gap_days=60,
        ),
    ],
)
@pytest.mark.parametrize("as_of", [AS_OF, AS_OF - dt.timedelta(days=200)])
def test_sql_stage_equals_hand_computation(
    loaded: Loaded, rules: LifecycleRules, as_of: dt.datetime
) -> None:
    got = {
        r["customer_id"]: r["lifecycle_stage"]
        for r in assign_lifecycle_stage(loaded.ws.engine, as_of, rules).to_pylist()
    }
    want = stages_by_hand(loaded, as_of, rules)
    assert got == want
    assert len(set(got.values())) >= 5  # the data exercises most stages


@pytest.mark.parametrize("as_of", [AS_OF, AS_OF - dt.timedelta(days=200)])
def test_builtin_lifecycle_segments_equal_sql_stages(loaded: Loaded, as_of: dt.datetime) -> None:
    stages = {
        r["customer_id"]: r["lifecycle_stage"]
        for r in assign_lifecycle_stage(loaded.ws.engine, as_of).to_pylist()
    }
    store = loaded.store
    seen: dict[str, str] = {}
    for stage in STAGES:
        name = "lifecycle_" + stage.replace(" ", "_")
        members = {
            r[0]
            for r in loaded.ws.engine.fetch_rows(
                compile_segment(store.resolve(name), store.context(as_of))
            )
        }
        assert members == {c for c, s in stages.items() if s == stage}, stage
        for m in members:
            assert m not in seen, f"{m} in {seen.get(m)} and {stage}"
            seen[m] = stage
    assert len(seen) == len(stages)  # the stages partition the customers


def test_migration_matrix_is_complete_and_adds_up(loaded: Loaded) -> None:
    flows = stage_migration(loaded.ws.engine, AS_OF, months=1).to_pandas()
    assert len(flows) == len(STAGES) ** 2
    assert flows["customers"].sum() == len(loaded.data.customers)
    before = assign_lifecycle_stage(loaded.ws.engine, months_before(AS_OF, 1)).to_pandas()
    after = assign_lifecycle_stage(loaded.ws.engine, AS_OF).to_pandas()
    pairs = before.merge(after, on="customer_id", suffixes=("_from", "_to"))
    counts = pairs.groupby(["lifecycle_stage_from", "lifecycle_stage_to"]).size()
    for (f, t), n in counts.items():
        row = flows[(flows["from_stage"] == f) & (flows["to_stage"] == t)]
        assert int(row["customers"].iloc[0]) == n
    # new customers of a month ago cannot be prospects now
    assert (
        int(
            flows[(flows["from_stage"] == "new") & (flows["to_stage"] == "prospect")][
                "customers"
            ].iloc[0]
        )
        == 0
    )


def test_months_before_clamps_to_month_end() -> None:
    assert months_before(dt.datetime(2024, 3, 31, 5), 1) == dt.datetime(2024, 2, 29, 5)
    assert months_before(dt.datetime(2024, 1, 15), 1) == dt.datetime(2023, 12, 15)
    assert months_before(dt.datetime(2024, 1, 15), 13) == dt.datetime(2022, 12, 15)


def test_rules_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="active_days < lapsed_days"):
        LifecycleRules(active_days=200, lapsed_days=180)


def test_value_tiers_partition_customers_with_clv(loaded: Loaded) -> None:
    store = loaded.store
    tiers = ["value_top_1pct", "value_top_10pct", "value_middle", "value_low"]
    members = {
        t: {
            r[0]
            for r in loaded.ws.engine.fetch_rows(
                compile_segment(store.resolve(t), store.context(AS_OF))
            )
        }
        for t in tiers
    }
    clv = loaded.data.profiles.set_index("customer_id")["clv"].dropna()
    assert set().union(*members.values()) == set(clv.index)
    assert sum(len(m) for m in members.values()) == len(clv)
    n = len(clv)
    assert len(members["value_top_1pct"]) == pytest.approx(0.01 * n, abs=2)
    assert len(members["value_top_1pct"] | members["value_top_10pct"]) == pytest.approx(
        0.10 * n, abs=3
    )
    assert min(clv[list(members["value_top_1pct"])]) >= max(clv[list(members["value_top_10pct"])])


def test_rfm_names_match_value_stage() -> None:
    rfm = pytest.importorskip("cvm.value.rfm")
    assert tuple(r.name for r in rfm.DEFAULT_RFM_RULES) == RFM_SEGMENT_NAMES


def test_builtins_are_installed_and_editable(loaded: Loaded) -> None:
    names = {d.name for d in builtin_definitions()}
    assert names <= set(loaded.store.names())
    stored = loaded.store.get("lifecycle_new")
    assert stored.builtin
    edited = stored.definition.model_copy(update={"description": "edited"})
    loaded.store.save(edited, replace=True)
    assert loaded.store.get("lifecycle_new").definition.description == "edited"
    assert loaded.store.get("lifecycle_new").builtin
    from cvm.segments.builtin import install_builtin_segments

    assert install_builtin_segments(loaded.ws.engine, store=loaded.store) == []
    assert "lifecycle_new" in install_builtin_segments(
        loaded.ws.engine, store=loaded.store, overwrite=True
    )
    assert loaded.store.get("lifecycle_new").definition.description != "edited"
