"""Program-level incremental value: all marketing against the global control group, per month.

The global control (`cvm.decide.control_groups`) is a random, hash-drawn share of customers
that marketing never contacts. Everyone else is exposed to the whole program (every campaign
and decision, contacted or not), so "everyone else minus global control" is the intent-to-
treat effect of the program as a whole (Kohavi, Tang & Xu 2020, "Trustworthy Online Controlled
Experiments", ch. 20 on holdouts). Per month the comparison uses the customers who existed at
the start of the month; conversion (any purchase that month) gets Newcombe's interval, revenue
per customer Welch's, both through `cvm.measure.lift.estimate_lift`.

The overall figure aggregates each customer over the whole period (revenue summed, conversion
= any purchase) instead of pooling customer-months, because a customer's months are
correlated and pooling them would understate the uncertainty. Customers whose group changed
during the period (a scheduled redraw of the global control) are left out of the overall
figure, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError
from cvm.measure.lift import estimate_lift
from cvm.measure.results import ArmLift

MARKETING = "marketing"
GLOBAL_CONTROL = "global control"


@dataclass(frozen=True)
class ProgramReport:
    """Per-month comparisons (breakdown ``month``) and the whole-period comparison."""

    months: list[ArmLift]
    overall: ArmLift | None
    control_share: float
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per month (and ``all``) and metric."""
        rows: list[dict[str, Any]] = []
        cells = [*self.months, *([self.overall] if self.overall else [])]
        for a in cells:
            for m in a.metrics:
                rows.append(
                    {
                        "period": a.breakdown_value or "all",
                        "n_marketing": a.n_treatment,
                        "n_control": a.n_control,
                        **m.__dict__,
                    }
                )
        return pd.DataFrame(rows)


def _compare(df: pd.DataFrame, money: list[str], alpha: float) -> ArmLift | None:
    groups = np.where(df["global_control"].astype(bool), GLOBAL_CONTROL, MARKETING)
    if len(set(groups)) < 2:
        return None
    data = df.assign(group=groups)
    report = estimate_lift(
        data,
        arm="group",
        control_arm=GLOBAL_CONTROL,
        converted="converted",
        revenue="revenue",
        margin="margin" if "margin" in money else None,
        alpha=alpha,
    )
    return report.arms[0]


def estimate_program_lift(frame: pd.DataFrame, *, alpha: float = 0.05) -> ProgramReport:
    """Marketing vs global control per month and over the period (see the module docstring).

    ``frame`` has one row per customer and month: ``customer_id``, ``month`` (text or date),
    ``global_control`` (bool), ``converted`` (0/1), ``revenue`` and optionally ``margin``.
    """
    needed = ["customer_id", "month", "global_control", "converted", "revenue"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise UserInputError(f"program frame lacks column(s) {', '.join(missing)}")
    if frame.empty:
        raise UserInputError("no customers to compare: the warehouse has no customers yet")
    money = [c for c in ("margin",) if c in frame.columns]
    warnings: list[str] = []
    months: list[ArmLift] = []
    for month, part in frame.groupby(frame["month"].astype(str), sort=True):
        cell = _compare(part, money, alpha)
        if cell is None:
            warnings.append(f"{month}: no customers in one of the groups, not compared")
            continue
        months.append(replace(cell, breakdown_column="month", breakdown_value=str(month)))
    per_customer = frame.groupby("customer_id").agg(
        global_control=("global_control", "max"),
        switched=("global_control", lambda s: s.nunique() > 1),
        converted=("converted", "max"),
        revenue=("revenue", "sum"),
        **({"margin": ("margin", "sum")} if money else {}),
    )
    switched = int(per_customer["switched"].sum())
    if switched:
        warnings.append(
            f"{switched:,} customer(s) changed group during the period (global control "
            "redrawn) and are left out of the whole-period comparison"
        )
    steady = per_customer[~per_customer["switched"]].reset_index()
    overall = _compare(steady, money, alpha) if len(steady) else None
    share = float(frame["global_control"].astype(bool).mean())
    if overall is not None and overall.control_warning:
        warnings.append(f"whole period: {overall.control_warning}")
    return ProgramReport(months=months, overall=overall, control_share=share, warnings=warnings)
