"""Intent-to-treat lift of each treated arm over its control, from one row per customer.

Every customer assigned to an arm counts in that arm, whether or not the message reached
them (intent to treat): dropping undelivered or unopened customers from the treated side
would compare a self-selected subset with a random control and inflate the lift.

Control design, one of:

* ``control_arm="No E-Mail"``: one arm is the shared control of all other arms;
* ``is_control="holdout"``: a 0/1 column. When every treated arm has control rows of its own
  (a holdout per campaign or offer), each arm is compared with its own holdout; when the
  control rows form arms of their own, they are one shared control.

p-values are Holm-adjusted (Holm 1979) across the treated arms for each outcome; in a
breakdown, across all arm x level cells of that breakdown column. Outcomes that have no
meaning for an uncontacted control (opens, clicks) go in ``treatment_only``: they are
reported for the treated group and are never compared with control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from cvm.core.errors import UserInputError
from cvm.measure.bootstrap import Method
from cvm.measure.comparison import CompareSettings, MeanInterval, compare_groups
from cvm.measure.results import ArmLift, LiftReport
from cvm.measure.significance import holm_adjust

_MARGIN = "margin"


def _require(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UserInputError(f"column(s) {', '.join(map(repr, missing))} not in the data")


def _check_binary(df: pd.DataFrame, col: str) -> None:
    values = df[col]
    bad = values.isna() | ~values.isin([0, 1, True, False])
    if bad.any():
        first = df.index[bad.to_numpy()][0]
        raise UserInputError(
            f"column '{col}' must be 0/1 with no missing values; {int(bad.sum())} row(s) are "
            f"not, first at row {first} (value {values.loc[first]!r})"
        )


def _check_numeric(df: pd.DataFrame, col: str) -> None:
    if not pd.api.types.is_numeric_dtype(df[col]):
        raise UserInputError(f"column '{col}' must be numeric, found {df[col].dtype}")
    bad = ~np.isfinite(df[col].to_numpy(dtype=np.float64))
    if bad.any():
        raise UserInputError(
            f"column '{col}' has {int(bad.sum())} missing or infinite value(s), first at row "
            f"{df.index[bad][0]}; fill them (0 for no purchase) before measuring"
        )


Pair = tuple[str, pd.Series, pd.Series, str]


def _pairs(
    df: pd.DataFrame, arm: str, control_arm: str | None, is_control: str | None
) -> tuple[list[Pair], bool]:
    """(treated arm, treated mask, control mask, control label) per treated arm, and whether
    the control is shared by all arms."""
    labels = df[arm].astype(str)
    if control_arm is not None:
        ctl = labels == control_arm
        if not ctl.any():
            raise UserInputError(f"control arm '{control_arm}' does not occur in column '{arm}'")
        return [(a, labels == a, ctl, control_arm) for a in sorted(set(labels[~ctl]))], True
    assert is_control is not None
    _check_binary(df, is_control)
    ctl = df[is_control].astype(bool)
    treated_arms = sorted(set(labels[~ctl]))
    own = {a: ctl & (labels == a) for a in treated_arms}
    with_own = [a for a in treated_arms if own[a].any()]
    if len(with_own) == len(treated_arms):
        return [(a, ~ctl & (labels == a), own[a], f"{a} (holdout)") for a in treated_arms], False
    if not with_own:
        shared = ", ".join(sorted(set(labels[ctl])))
        return [(a, ~ctl & (labels == a), ctl, shared) for a in treated_arms], True
    lacking = ", ".join(a for a in treated_arms if a not in with_own)
    raise UserInputError(
        f"arm(s) {lacking} have no control rows while other arms have their own holdout; "
        "give every arm a holdout or use one shared control arm"
    )


def _srm_warning(n_treat: int, n_control: int, share: float, what: str) -> str | None:
    """Sample ratio mismatch: chi-square test of the split against the planned share."""
    total = n_treat + n_control
    expected = [total * (1 - share), total * share]
    p = float(stats.chisquare([n_treat, n_control], expected).pvalue)
    if p < 0.001:
        return (
            f"sample ratio mismatch for {what}: control share {n_control / total:.4f} vs "
            f"planned {share:.4f} (chi-square p = {p:.2g}); assignment or logging is broken "
            "and the lift is not trustworthy"
        )
    return None


def _holm(results: list[ArmLift]) -> list[ArmLift]:
    """Holm-adjust each metric across ``results`` (one family per metric)."""
    if not results:
        return results
    names = [m.metric for m in results[0].metrics]
    adjusted = {n: holm_adjust([r.metric(n).p_value for r in results]) for n in names}
    return [
        replace(
            r,
            metrics=[replace(m, p_adjusted=float(adjusted[m.metric][i])) for m in r.metrics],
        )
        for i, r in enumerate(results)
    ]


def estimate_lift(
    df: pd.DataFrame,
    *,
    arm: str = "arm",
    control_arm: str | None = None,
    is_control: str | None = None,
    customer_id: str = "customer_id",
    converted: str | Sequence[str] = "converted",
    revenue: str | None = "revenue",
    margin: str | None = None,
    margin_rate: float | None = None,
    cost: str | None = None,
    cost_per_contact: float | None = None,
    breakdown_by: Sequence[str] = (),
    treatment_only: Sequence[str] = (),
    treated_population: Mapping[str, float] | None = None,
    mean_interval: MeanInterval = "welch",
    bootstrap_method: Method = "bca",
    n_resamples: int = 2000,
    seed: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    expected_control_share: float | None = None,
) -> LiftReport:
    """Lift of every treated arm over its control, overall and per breakdown level.

    ``converted`` names one or more 0/1 outcomes; ``revenue`` and ``margin`` are per-customer
    amounts (``margin_rate`` derives margin as revenue x rate). ``cost`` is a column of cost
    per customer (0 for those not contacted) or ``cost_per_contact`` one amount per treated
    customer. ``treated_population`` maps an arm to the audience size the incremental figures
    are scaled to (default: its treated customers in ``df``). ``mean_interval="bootstrap"``
    needs ``seed``. ``expected_control_share`` enables the sample-ratio-mismatch check.
    """
    binary = (converted,) if isinstance(converted, str) else tuple(converted)
    if (control_arm is None) == (is_control is None):
        raise UserInputError("give exactly one of control_arm or is_control")
    if margin is not None and margin_rate is not None:
        raise UserInputError("give margin (a column) or margin_rate, not both")
    if cost is not None and cost_per_contact is not None:
        raise UserInputError("give cost (a column) or cost_per_contact, not both")
    if mean_interval == "bootstrap" and seed is None:
        raise UserInputError("a bootstrap interval needs an explicit seed")
    compared = [*binary, *([revenue] if revenue else []), *([margin] if margin else [])]
    overlap = set(treatment_only) & set(compared)
    if overlap:
        raise UserInputError(
            f"{', '.join(sorted(overlap))} cannot be both compared and treatment-only"
        )
    needed = [arm, customer_id, *compared, *treatment_only, *breakdown_by]
    needed += [c for c in (is_control, cost) if c is not None]
    _require(df, needed)
    if df[arm].isna().any():
        raise UserInputError(f"column '{arm}' has {int(df[arm].isna().sum())} missing arm(s)")
    dup = df[customer_id].duplicated()
    if dup.any():
        raise UserInputError(
            f"column '{customer_id}' has {int(dup.sum())} duplicate customer(s), first "
            f"{df.loc[dup, customer_id].iloc[0]!r}; the input must be one row per customer"
        )
    for col in binary:
        _check_binary(df, col)
    for col in [c for c in (revenue, margin, cost) if c is not None]:
        _check_numeric(df, col)
    if margin_rate is not None and revenue is None:
        raise UserInputError("margin_rate needs a revenue column")

    data = df
    means = [c for c in (revenue, margin) if c is not None]
    margin_name = margin
    if margin_rate is not None and revenue is not None:
        data = df.assign(**{_MARGIN: df[revenue] * margin_rate})
        means.append(_MARGIN)
        margin_name = _MARGIN
    settings = CompareSettings(
        binary=binary,
        means=tuple(means),
        margin=margin_name,
        treatment_only=tuple(treatment_only),
        cost=cost,
        cost_per_contact=cost_per_contact,
        alpha=alpha,
        mean_interval=mean_interval,
        bootstrap_method=bootstrap_method,
        n_resamples=n_resamples,
        seed=seed,
        power=power,
    )
    warnings: list[str] = []
    arms: list[ArmLift] = []
    cells: dict[str, list[ArmLift]] = {b: [] for b in breakdown_by}
    pairs, shared = _pairs(data, arm, control_arm, is_control)
    if not pairs:
        raise UserInputError(f"no treated customers: every row of '{arm}' is control")
    unknown = set(treated_population or {}) - {p[0] for p in pairs}
    if unknown:
        raise UserInputError(
            f"treated_population names arm(s) {', '.join(sorted(unknown))} that are not "
            f"treated arms in column '{arm}'"
        )
    for name, t_mask, c_mask, c_label in pairs:
        treated, control = data[t_mask.to_numpy()], data[c_mask.to_numpy()]
        for col in treatment_only:  # may be empty for control, must be known for the treated
            _check_numeric(treated, col)
        population = float((treated_population or {}).get(name, len(treated)))
        arms.append(
            compare_groups(
                treated,
                control,
                arm=name,
                control_group=c_label,
                population=population,
                settings=settings,
            )
        )
        warnings += _treatment_only_leaks(control, treatment_only, name)
        for col in breakdown_by:
            t_lvl, c_lvl = _levels(treated[col]), _levels(control[col])
            for level in sorted(set(t_lvl) | set(c_lvl)):
                t_cell, c_cell = treated[t_lvl == level], control[c_lvl == level]
                if t_cell.empty or c_cell.empty:
                    warnings.append(
                        f"{col}={level} in arm {name}: no "
                        f"{'treated' if t_cell.empty else 'control'} customers, not compared"
                    )
                    continue
                cells[col].append(
                    compare_groups(
                        t_cell,
                        c_cell,
                        arm=name,
                        control_group=c_label,
                        population=population * len(t_cell) / len(treated),
                        settings=settings,
                        breakdown_column=col,
                        breakdown_value=level,
                    )
                )
    if expected_control_share is not None:
        warnings += _srm_checks(pairs, expected_control_share, shared=shared)
    warnings += [f"arm {a.arm}: {a.control_warning}" for a in arms if a.control_warning]
    breakdowns = [r for col in breakdown_by for r in _holm(cells[col])]
    return LiftReport(arms=_holm(arms), breakdowns=breakdowns, alpha=alpha, warnings=warnings)


def _levels(values: pd.Series) -> pd.Series:
    """Breakdown levels as text, missing values as their own visible level."""
    return values.map(lambda v: "<NA>" if pd.isna(v) else str(v))


def _treatment_only_leaks(control: pd.DataFrame, columns: Sequence[str], arm: str) -> list[str]:
    """A no-contact control should have no opens or clicks; if it has, contact leaked."""
    out = []
    for col in columns:
        touched = int((control[col].fillna(0) != 0).sum())
        if touched:
            out.append(
                f"arm {arm}: {touched} control customer(s) have non-zero '{col}'; the control "
                "may have been contacted, which biases the lift towards zero"
            )
    return out


def _srm_checks(pairs: list[Pair], share: float, *, shared: bool) -> list[str]:
    """Planned control share vs observed: the whole campaign (shared control) or per arm."""
    if not 0 < share < 1:
        raise UserInputError(f"expected control share must be in (0, 1), got {share}")
    if shared:
        n_control = int(pairs[0][2].sum())
        n_treat = int(sum(int(p[1].sum()) for p in pairs))
        warning = _srm_warning(n_treat, n_control, share, "the whole campaign")
        return [warning] if warning else []
    out = []
    for name, t_mask, c_mask, _ in pairs:
        w = _srm_warning(int(t_mask.sum()), int(c_mask.sum()), share, f"arm {name}")
        if w:
            out.append(w)
    return out
