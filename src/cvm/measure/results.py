"""Typed results of a lift analysis, with flat (DataFrame) and JSON-ready (dict) views."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

MetricKind = Literal["proportion", "mean"]


@dataclass(frozen=True)
class MetricLift:
    """Treated group vs its control on one outcome (intent to treat).

    ``incremental*`` is the absolute lift per customer times the treated population:
    incremental responders for a 0/1 outcome, incremental revenue or margin for a mean.
    ``p_adjusted`` is Holm-adjusted across the arms (or arm x level cells) of its family.
    """

    metric: str
    kind: MetricKind
    treatment_value: float
    control_value: float
    absolute_lift: float
    absolute_low: float
    absolute_high: float
    relative_lift: float
    relative_low: float
    relative_high: float
    p_value: float
    p_adjusted: float
    incremental: float
    incremental_low: float
    incremental_high: float
    interval_method: str


@dataclass(frozen=True)
class ArmLift:
    """One treated arm (or one breakdown cell of it) compared with its control."""

    arm: str
    control_group: str
    breakdown_column: str | None
    breakdown_value: str | None
    n_treatment: int
    n_control: int
    treated_population: float
    metrics: list[MetricLift]
    treatment_only: dict[str, float] = field(default_factory=dict)
    cost: float | None = None
    roi: float | None = None
    roi_low: float | None = None
    roi_high: float | None = None
    control_warning: str | None = None

    def metric(self, name: str) -> MetricLift:
        """The comparison on outcome ``name``."""
        for m in self.metrics:
            if m.metric == name:
                return m
        raise KeyError(f"no metric '{name}' in arm '{self.arm}'")


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None so the dict serialises as strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class LiftReport:
    """Per-arm results, per-breakdown results, and the warnings an analyst must read."""

    arms: list[ArmLift]
    breakdowns: list[ArmLift]
    alpha: float
    warnings: list[str]

    def arm(self, name: str) -> ArmLift:
        """Overall result of the treated arm ``name``."""
        for a in self.arms:
            if a.arm == name:
                return a
        raise KeyError(f"no treated arm '{name}'")

    def to_frame(self, include_breakdowns: bool = True) -> pd.DataFrame:
        """Long format: one row per (arm, breakdown cell, metric), arm-level fields repeated."""
        rows: list[dict[str, Any]] = []
        for a in self.arms + (self.breakdowns if include_breakdowns else []):
            head = {
                "arm": a.arm,
                "control_group": a.control_group,
                "breakdown_column": a.breakdown_column,
                "breakdown_value": a.breakdown_value,
                "n_treatment": a.n_treatment,
                "n_control": a.n_control,
                "treated_population": a.treated_population,
            }
            tail = {
                "cost": a.cost,
                "roi": a.roi,
                "roi_low": a.roi_low,
                "roi_high": a.roi_high,
                **{f"treatment_only_{k}": v for k, v in a.treatment_only.items()},
            }
            for m in a.metrics:
                rows.append({**head, **asdict(m), **tail})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (strict-JSON safe: NaN/inf become None)."""
        return dict(_json_safe(asdict(self)))
