"""A campaign's results from one row per assigned customer: the comparison a head of CRM reads.

Input: the per-customer frame built from the warehouse (`cvm.results.frames`), with the
assignment (``arm``, ``is_control``, ``assigned_at``, ``channel``, ``offer_id``), outcomes in
the attribution window (``converted``, ``revenue``, ``margin``, optionally ``visited``), the
treatment-only message metrics (``delivered``, ``opened``, ``clicked``), the pre-period
covariates (``pre_revenue``, ``pre_orders``, measured up to ``pre_period_end``), the contact
``cost`` of each treated customer and pre-assignment attributes such as ``segment``.

What it adds to `cvm.measure.lift.estimate_lift` (intent to treat, Newcombe / Welch, Holm):

* **CUPED** (Deng, Xu, Kohavi & Walker 2013, eq. 4) on the money outcomes, with covariates
  that `cvm.measure.cuped.check_pre_assignment` proves were measured before assignment;
  conversion keeps its exact binomial (Newcombe) interval.
* **Breakdowns** by a treatment attribute (channel, offer) or a pre-assignment attribute
  (segment at assignment). A cell compares the treated customers of one level with the
  control customers of the same level when the control records it (a would-be channel or
  offer, a segment); when the control has no value for it (an uncontacted control has no
  channel), the cell is compared with the arm's whole control and a warning says that this
  is fair only if the level was not chosen by customer characteristics.
  p-values are Holm-adjusted per metric across all cells of one breakdown column.
* the planned control share (from ``assignment_probability``) for the sample-ratio check, and
  a warning when the attribution window has not ended for everyone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError
from cvm.measure.comparison import MeanInterval
from cvm.measure.cuped import Covariate, CupedAdjuster, check_pre_assignment
from cvm.measure.lift import estimate_lift
from cvm.measure.power import assess_control
from cvm.measure.results import ArmLift, LiftReport, MetricLift
from cvm.measure.significance import holm_adjust

BINARY_OUTCOMES: tuple[str, ...] = ("converted", "visited")
MONEY_OUTCOMES: tuple[str, ...] = ("revenue", "margin")
TREATMENT_ONLY: tuple[str, ...] = ("delivered", "opened", "clicked")
DEFAULT_COVARIATES: tuple[Covariate, ...] = (
    Covariate("pre_revenue", measured_at="pre_period_end"),
    Covariate("pre_orders", measured_at="pre_period_end"),
)
OVERALL = "all"


@dataclass(frozen=True)
class CampaignMeasurement:
    """Everything measured for one campaign: overall and breakdown results, and the caveats."""

    campaign_id: str
    window_days: int
    window_complete: bool
    assigned_from: dt.datetime
    assigned_to: dt.datetime
    arms: dict[str, int]
    report: LiftReport
    cuped: dict[str, float] = field(default_factory=dict)  # metric -> variance reduction
    warnings: list[str] = field(default_factory=list)
    cost_known: bool = False

    @property
    def overall(self) -> list[ArmLift]:
        return self.report.arms

    @property
    def breakdowns(self) -> list[ArmLift]:
        return self.report.breakdowns

    def rows(self) -> list[dict[str, Any]]:
        """One row per arm x breakdown cell x metric (treatment-only metrics included)."""
        out: list[dict[str, Any]] = []
        for a in self.report.arms + self.report.breakdowns:
            head = {
                "campaign_id": self.campaign_id,
                "window_days": self.window_days,
                "window_complete": self.window_complete,
                "arm": a.arm,
                "control_group": a.control_group,
                "breakdown_column": a.breakdown_column or OVERALL,
                "breakdown_value": a.breakdown_value or OVERALL,
                "n_treatment": a.n_treatment,
                "n_control": a.n_control,
                "treated_population": a.treated_population,
                "cost": a.cost,
                "roi": a.roi,
                "roi_low": a.roi_low,
                "roi_high": a.roi_high,
                "control_warning": a.control_warning,
            }
            for m in a.metrics:
                row = {**head, **asdict(m)}
                row["cuped"] = m.metric in self.cuped
                row["variance_reduction"] = self.cuped.get(m.metric)
                out.append(row)
            for name, value in a.treatment_only.items():
                out.append(
                    {**head, **_treatment_only_metric(name, value), "cuped": False}
                    | {"variance_reduction": None}
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-safe nested dict (NaN becomes None)."""
        body = self.report.to_dict()
        return {
            "campaign_id": self.campaign_id,
            "window_days": self.window_days,
            "window_complete": self.window_complete,
            "assigned_from": self.assigned_from.isoformat(),
            "assigned_to": self.assigned_to.isoformat(),
            "arms": self.arms,
            "cuped": self.cuped,
            "cost_known": self.cost_known,
            "warnings": self.warnings,
            "overall": body["arms"],
            "breakdowns": body["breakdowns"],
        }


def _treatment_only_metric(name: str, value: float) -> dict[str, Any]:
    nan = math.nan
    return {
        "metric": name,
        "kind": "treatment_only",
        "treatment_value": value,
        "control_value": nan,
        "absolute_lift": nan,
        "absolute_low": nan,
        "absolute_high": nan,
        "relative_lift": nan,
        "relative_low": nan,
        "relative_high": nan,
        "p_value": nan,
        "p_adjusted": nan,
        "incremental": nan,
        "incremental_low": nan,
        "incremental_high": nan,
        "interval_method": "not compared: no counterpart in an uncontacted control",
    }


def _planned_control_share(df: pd.DataFrame) -> float | None:
    """Control share the assignment policy intended, from ``assignment_probability``.

    Shared control: P(control) / (P(control) + sum over arms of P(arm)). Own holdouts: the
    per-arm share, used only when it is the same for every arm.
    """
    if "assignment_probability" not in df or df["assignment_probability"].isna().any():
        return None
    prob = df.groupby(["arm", "is_control"])["assignment_probability"].mean()
    ctl_arms = {a for a, c in prob.index if c}
    treated = {a: p for (a, c), p in prob.items() if not c}
    if not treated or not ctl_arms:
        return None
    if ctl_arms & set(treated):  # own holdout per arm
        shares = {a: prob[(a, True)] / (prob[(a, True)] + p) for a, p in treated.items()}
        values = list(shares.values())
        return float(values[0]) if np.allclose(values, values[0]) else None
    p_ctl = float(np.mean([prob[(a, True)] for a in ctl_arms]))
    total = p_ctl + float(sum(treated.values()))
    return p_ctl / total if total > 0 else None


def _apply_cuped(
    df: pd.DataFrame, metrics: Sequence[str], covariates: Sequence[Covariate]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Replace each money outcome by its CUPED-adjusted value; return the variance reductions."""
    check_pre_assignment(df, covariates, "assigned_at")
    names = [c.column for c in covariates]
    x = df[names].to_numpy(dtype=np.float64)
    usable = [i for i in range(x.shape[1]) if np.nanstd(x[:, i]) > 0]
    if not usable:
        raise UserInputError(
            "CUPED needs a pre-period covariate that varies between customers; "
            f"{', '.join(names)} are constant (no purchase history before assignment?)"
        )
    x = x[:, usable]
    groups = (df["arm"].astype(str) + np.where(df["is_control"], "|control", "")).to_numpy()
    out = df.copy()
    reduction: dict[str, float] = {}
    for metric in metrics:
        y = df[metric].to_numpy(dtype=np.float64)
        model = CupedAdjuster(pooling="within").fit(y, x, groups)
        adjusted = model.transform(y, x)
        before = pd.Series(y).groupby(groups).var(ddof=1)
        after = pd.Series(adjusted).groupby(groups).var(ddof=1)
        n = pd.Series(y).groupby(groups).size()
        reduction[metric] = float(1.0 - ((n - 1) * after).sum() / ((n - 1) * before).sum())
        out[metric] = adjusted
    return out, reduction


def _mark_cuped(arm: ArmLift, metrics: Sequence[str]) -> ArmLift:
    changed = [
        replace(m, interval_method=f"cuped + {m.interval_method}") if m.metric in metrics else m
        for m in arm.metrics
    ]
    return replace(arm, metrics=changed)


def _holm_cells(cells: list[ArmLift]) -> list[ArmLift]:
    """Holm adjustment per metric across all cells of one breakdown column."""
    if not cells:
        return cells
    names = {m.metric for c in cells for m in c.metrics}
    adjusted: dict[tuple[int, str], float] = {}
    for name in names:
        where = [(i, c.metric(name)) for i, c in enumerate(cells) if _has(c, name)]
        p = holm_adjust([m.p_value for _, m in where])
        adjusted.update({(i, name): float(v) for (i, _), v in zip(where, p, strict=True)})
    return [
        replace(c, metrics=[replace(m, p_adjusted=adjusted[(i, m.metric)]) for m in c.metrics])
        for i, c in enumerate(cells)
    ]


def _has(cell: ArmLift, name: str) -> bool:
    return any(m.metric == name for m in cell.metrics)


def _levels(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "<NA>" if pd.isna(v) or v == "" else str(v))


def _present(df: pd.DataFrame, names: Sequence[str], *, any_nonzero: bool) -> list[str]:
    cols = [c for c in names if c in df.columns]
    if any_nonzero:
        cols = [c for c in cols if bool((df[c].fillna(0) != 0).any())]
    return cols


def _control_pools(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Control rows each treated arm is compared with: its own holdout, else all controls."""
    ctl = df["is_control"].astype(bool)
    labels = df["arm"].astype(str)
    arms = sorted(set(labels[~ctl]))
    own = {a: ctl & (labels == a) for a in arms}
    if all(own[a].any() for a in arms):
        return own
    return {a: ctl for a in arms}


def _breakdown(
    data: pd.DataFrame, column: str, options: dict[str, Any], warnings: list[str]
) -> list[ArmLift]:
    ctl = data["is_control"].astype(bool)
    labels = data["arm"].astype(str)
    levels = _levels(data[column])
    cells: list[ArmLift] = []
    for arm, pool in _control_pools(data).items():
        treated = ~ctl & (labels == arm)
        pool_known = bool(data.loc[pool, column].notna().any())
        if not pool_known:
            warnings.append(
                f"arm {arm}: the control has no '{column}' (it was not contacted), so each "
                f"{column} is compared with the whole control; that is fair only if the "
                f"{column} was not chosen by customer characteristics"
            )
        for level in sorted(set(levels[treated])):
            t_cell = treated & (levels == level)
            c_cell = pool & (levels == level) if pool_known else pool
            if not c_cell.any():
                warnings.append(
                    f"{column}={level} in arm {arm}: no control customers, not compared"
                )
                continue
            sub = data[(t_cell | c_cell).to_numpy()]
            result = estimate_lift(sub, arm="arm", is_control="is_control", **options)
            cells.append(replace(result.arms[0], breakdown_column=column, breakdown_value=level))
    return _holm_cells(cells)


def measure_campaign_frame(
    df: pd.DataFrame,
    *,
    campaign_id: str,
    window_days: int,
    as_of: dt.datetime,
    by: Sequence[str] = (),
    cuped: bool = False,
    covariates: Sequence[Covariate] = DEFAULT_COVARIATES,
    alpha: float = 0.05,
    mean_interval: MeanInterval = "welch",
    seed: int | None = None,
) -> CampaignMeasurement:
    """Measure one campaign from its per-customer frame (see the module docstring).

    ``as_of`` is the moment the data run to: customers whose window ends later are measured
    on a partial window, with a warning. ``by`` names breakdown columns of the frame.
    """
    required = ["customer_id", "arm", "is_control", "assigned_at", "converted", "revenue"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserInputError(f"campaign frame lacks column(s) {', '.join(missing)}")
    if df.empty:
        raise UserInputError(f"campaign {campaign_id!r} has no assigned customers")
    unknown = [c for c in by if c not in df.columns]
    if unknown:
        raise UserInputError(f"cannot break down by {', '.join(unknown)}: not in the data")
    data = df.copy()
    data["is_control"] = data["is_control"].fillna(data["arm"] == "control").astype(bool)
    if not data["is_control"].any():
        raise UserInputError(
            f"campaign {campaign_id!r} has no control group: its incremental effect cannot be "
            "measured (give the next campaign a control share)"
        )
    if data["is_control"].all():
        raise UserInputError(f"campaign {campaign_id!r} has only control customers")
    assigned = pd.to_datetime(data["assigned_at"])
    first, last = assigned.min().to_pydatetime(), assigned.max().to_pydatetime()
    complete = as_of >= last + dt.timedelta(days=window_days)
    warnings: list[str] = []
    if not complete:
        ended = float((assigned + pd.Timedelta(days=window_days) <= pd.Timestamp(as_of)).mean())
        warnings.append(
            f"the {window_days}-day attribution window has not ended for every customer (data "
            f"to {as_of:%Y-%m-%d %H:%M}; complete for {ended:.0%}): an interim reading"
        )
    binary = ["converted", *_present(data, BINARY_OUTCOMES[1:], any_nonzero=True)]
    money = [c for c in MONEY_OUTCOMES if c in data.columns]
    only = _present(data, TREATMENT_ONLY, any_nonzero=True)
    for col in [*binary, *money, *only]:
        data[col] = data[col].fillna(0)
    cost_known = "cost" in data.columns and bool(data["cost"].notna().any())
    if cost_known:
        data["cost"] = data["cost"].fillna(0.0).astype(float)
    reductions: dict[str, float] = {}
    if cuped:
        data, reductions = _apply_cuped(data, money, covariates)
    options: dict[str, Any] = {
        "converted": binary,
        "revenue": "revenue",
        "margin": "margin" if "margin" in money else None,
        "cost": "cost" if cost_known else None,
        "treatment_only": only,
        "alpha": alpha,
        "mean_interval": mean_interval,
        "seed": seed,
    }
    overall = estimate_lift(
        data,
        arm="arm",
        is_control="is_control",
        expected_control_share=_planned_control_share(data),
        **options,
    )
    warnings += _soften_power_warnings(overall, alpha)
    cells = [cell for column in by for cell in _breakdown(data, column, options, warnings)]
    if not cost_known:
        warnings.append("no contact cost known: ROI not computed (pass a cost per contact)")
    marked = [_mark_cuped(a, list(reductions)) for a in overall.arms]
    cells = [_mark_cuped(c, list(reductions)) for c in cells]
    counts = data.groupby(np.where(data["is_control"], "control", data["arm"].astype(str))).size()
    return CampaignMeasurement(
        campaign_id=campaign_id,
        window_days=window_days,
        window_complete=complete,
        assigned_from=first,
        assigned_to=last,
        arms={str(k): int(v) for k, v in counts.items()},
        report=LiftReport(arms=marked, breakdowns=cells, alpha=alpha, warnings=warnings),
        cuped=reductions,
        warnings=warnings,
        cost_known=cost_known,
    )


def _soften_power_warnings(report: LiftReport, alpha: float) -> list[str]:
    """A control too small for typical lifts still confirms a large one: say so plainly."""
    out = list(report.warnings)
    for a in report.arms:
        conv = metric_of(a, "converted")
        if not a.control_warning or conv is None or not conv.p_adjusted < alpha:
            continue
        old = f"arm {a.arm}: {a.control_warning}"
        if old in out and 0 < conv.control_value < 1:
            check = assess_control(a.n_treatment, a.n_control, conv.control_value, alpha=alpha)
            out[out.index(old)] = (
                f"arm {a.arm}: the control can only detect conversion lifts of "
                f"{check.mde_relative:.0%} or more; the measured lift ({conv.relative_lift:+.0%}) "
                "was large enough, but smaller effects in breakdowns may go unseen"
            )
    return out


def metric_of(arm: ArmLift, name: str) -> MetricLift | None:
    """The arm's comparison on ``name``, or None when it was not measured."""
    return next((m for m in arm.metrics if m.metric == name), None)
