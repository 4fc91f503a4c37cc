"""Built-in segments, installed in every workspace and editable like any other.

- ``lifecycle_<stage>``: the stages of `cvm.segments.lifecycle` as rule trees over purchases;
- ``value_top_1pct``, ``value_top_10pct``, ``value_middle``, ``value_low``: CLV tiers by rank
  (exclusive: the top 10% tier is the next 9% after the top 1%; ``middle`` runs to the top 50%;
  ``low`` is the rest of the customers that have a CLV);
- ``rfm_<name>``: one per named RFM segment written by the value stage in
  ``profiles.rfm_segment``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cvm.engine.base import Engine
from cvm.segments.definition import SegmentDefinition
from cvm.segments.lifecycle import LifecycleRules

if TYPE_CHECKING:
    from cvm.segments.store import SegmentStore

RFM_SEGMENT_NAMES: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "Can't lose",
    "At risk",
    "Lost",
    "Hibernating",
)
"""The names the value stage writes (`cvm.value.rfm.DEFAULT_RFM_RULES`; a test keeps them equal)."""

DEFAULT_VALUE_TIERS: tuple[float, float, float] = (0.01, 0.10, 0.50)


def _last(op: str, days: int) -> dict[str, Any]:
    return {"kind": "purchase_time", "which": "last", "op": op, "days_ago": days}


def _bought(op: str, count: int, **window: int) -> dict[str, Any]:
    return {"kind": "purchase", "measure": "count", "op": op, "value": count, "window": window}


def _not(node: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "not", "condition": node}


def _all(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "all", "conditions": list(nodes)}


def lifecycle_segments(rules: LifecycleRules) -> list[dict[str, Any]]:
    """The lifecycle stages as definitions, in dependency order (``active`` refers to two)."""
    r = rules
    gap_end = r.active_days + r.reactivation_gap_days
    stages: list[tuple[str, str, dict[str, Any]]] = [
        ("prospect", "No purchase yet.", {"kind": "purchase", "op": "eq", "value": 0}),
        (
            "new",
            f"First purchase within the last {r.new_days} days.",
            {"kind": "purchase_time", "which": "first", "op": "after", "days_ago": r.new_days},
        ),
        (
            "reactivated",
            f"Bought in the last {r.active_days} days after {r.reactivation_gap_days} days "
            "without a purchase, and had bought before that.",
            _all(
                _bought("gte", 1, days=r.active_days),
                _bought("eq", 0, min_days_ago=r.active_days, max_days_ago=gap_end),
                _bought("gte", 1, min_days_ago=gap_end),
            ),
        ),
        (
            "active",
            f"Last purchase within the last {r.active_days} days (not new, not reactivated).",
            _all(
                _last("after", r.active_days),
                _not({"kind": "segment", "name": "lifecycle_new"}),
                _not({"kind": "segment", "name": "lifecycle_reactivated"}),
            ),
        ),
        (
            "at_risk",
            f"Last purchase {r.active_days}-{r.lapsed_days} days ago.",
            _all(_last("before", r.active_days), _last("after", r.lapsed_days)),
        ),
        (
            "lapsed",
            f"Last purchase {r.lapsed_days}-{r.churned_days} days ago.",
            _all(_last("before", r.lapsed_days), _last("after", r.churned_days)),
        ),
        (
            "churned",
            f"Last purchase more than {r.churned_days} days ago.",
            _last("before", r.churned_days),
        ),
    ]
    return [
        {
            "name": f"lifecycle_{name}",
            "description": f"Lifecycle stage '{name.replace('_', ' ')}': {text}",
            "tags": ["builtin", "lifecycle"],
            "rule": rule,
        }
        for name, text, rule in stages
    ]


def value_tier_segments(tiers: Sequence[float] = DEFAULT_VALUE_TIERS) -> list[dict[str, Any]]:
    top, high, middle = tiers

    def ranked(share: float) -> dict[str, Any]:
        return {"kind": "top", "field": "clv", "share": share}

    def pct(share: float) -> str:
        return f"{share * 100:g}%"

    items = [
        ("value_top_1pct", f"Top {pct(top)} of customers by CLV.", ranked(top)),
        (
            "value_top_10pct",
            f"Top {pct(high)} by CLV, below the top {pct(top)}.",
            _all(ranked(high), _not(ranked(top))),
        ),
        (
            "value_middle",
            f"Top {pct(middle)} by CLV, below the top {pct(high)}.",
            _all(ranked(middle), _not(ranked(high))),
        ),
        (
            "value_low",
            f"Customers with a CLV outside the top {pct(middle)}.",
            _all({"kind": "profile", "field": "clv", "op": "is_set"}, _not(ranked(middle))),
        ),
    ]
    return [
        {"name": n, "description": d, "tags": ["builtin", "value"], "rule": r} for n, d, r in items
    ]


def rfm_segments(names: Sequence[str] = RFM_SEGMENT_NAMES) -> list[dict[str, Any]]:
    def slug(name: str) -> str:
        return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_")

    return [
        {
            "name": f"rfm_{slug(name)}",
            "description": f"RFM segment '{name}' (profiles.rfm_segment).",
            "tags": ["builtin", "rfm"],
            "rule": {"kind": "profile", "field": "rfm_segment", "op": "eq", "value": name},
        }
        for name in names
    ]


def builtin_definitions(
    lifecycle: LifecycleRules | None = None, value_tiers: Sequence[float] = DEFAULT_VALUE_TIERS
) -> list[SegmentDefinition]:
    raw = lifecycle_segments(lifecycle or LifecycleRules()) + value_tier_segments(value_tiers)
    return [SegmentDefinition.model_validate(d) for d in raw + rfm_segments()]


def install_builtin_segments(
    engine: Engine,
    *,
    store: SegmentStore | None = None,
    lifecycle: LifecycleRules | None = None,
    value_tiers: Sequence[float] = DEFAULT_VALUE_TIERS,
    overwrite: bool = False,
) -> list[str]:
    """Save the built-ins; existing names are kept unless ``overwrite``. Returns names saved."""
    from cvm.segments.store import SegmentStore

    store = store or SegmentStore(engine)
    wanted = [
        d
        for d in builtin_definitions(lifecycle, value_tiers)
        if overwrite or not store.exists(d.name)
    ]
    store.save_many(wanted, replace=True, builtin=True)
    return [d.name for d in wanted]
