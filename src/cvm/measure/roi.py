"""Incremental value and return on investment of a campaign arm.

Definitions (intent to treat: every customer assigned to the arm counts, contacted or not)::

    incremental X   = (mean X | treated - mean X | control) * N_treated
    cost            = total cost of contacting the treated group, scaled to N_treated
    ROI             = (incremental margin - cost) / cost

``N_treated`` is the treated population the result is scaled to: by default the treated
customers in the data, or the full campaign audience when the data are a sample of it.
ROI uses *margin*, not revenue: revenue that would have been earned anyway, or that costs
as much to fulfil as it brings in, is not a return. ROI = 0 means the campaign paid for
itself exactly; -1 means the whole cost was lost.

Cost is treated as known (not estimated), so the ROI interval is the incremental-margin
interval under the same affine map: ``((low - cost) / cost, (high - cost) / cost)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoiResult:
    """ROI point estimate and interval; None where cost is zero (ROI is undefined)."""

    incremental_margin: float
    cost: float
    roi: float | None
    roi_low: float | None
    roi_high: float | None


def scale_to_population(
    per_customer: float, low: float, high: float, population: float
) -> tuple[float, float, float]:
    """Per-customer lift and its interval times the treated population."""
    return per_customer * population, low * population, high * population


def compute_roi(
    incremental_margin: float, margin_low: float, margin_high: float, cost: float
) -> RoiResult:
    """ROI = (incremental margin - cost) / cost, with the interval mapped from the margin's."""
    if cost < 0:
        raise ValueError(f"campaign cost cannot be negative, got {cost}")
    if cost == 0:
        return RoiResult(incremental_margin, cost, None, None, None)
    return RoiResult(
        incremental_margin=incremental_margin,
        cost=cost,
        roi=(incremental_margin - cost) / cost,
        roi_low=(margin_low - cost) / cost,
        roi_high=(margin_high - cost) / cost,
    )
