"""Expected customer lifetime value: discounted expected purchases times expected spend.

The formula follows lifetimes' `customer_lifetime_value` (itself the discrete-time version of
Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves", section 5, where CLV is
expected margin discounted over future time). For customer i, with a purchase model that
predicts the expected number of purchases E_i(t) in the next t model time units:

    CLV_i = margin * s_i * sum_{k=1..K} [E_i(k D) - E_i((k-1) D)] / (1 + d)^(k m / 12)

* s_i: expected spend per purchase (a fitted `GammaGammaModel`'s conditional expectation,
  or any per-customer series or constant);
* each step is one month (m = 1, D = model time units per month, K = horizon in months) when
  the model's time unit is a month or shorter, otherwise one model period (D = 1, m = its
  length in months, K = horizon / m), so discrete-period models are asked only whole periods;
* d is the ANNUAL discount rate, compounded monthly: a cash flow k months out is divided by
  (1 + d)^(k/12), i.e. by (1 + d_month)^k with d_month = (1 + d)^(1/12) - 1. We take the rate
  per year because that is how finance quotes it (cost of capital); lifetimes takes a monthly
  rate instead, and `monthly_discount_rate` converts.

Purchases within a month are discounted at the month's end, as in lifetimes. The months use
the calendar conversion of `cvm.value.summaries`: 365.25/12 days, (365.25/12)/7 weeks.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError
from cvm.value.clv.gamma_gamma import GammaGammaModel

DAYS_PER_MONTH = 365.25 / 12

# Model time units per month, by name (and lifetimes-style one-letter code).
UNITS_PER_MONTH: dict[str, float] = {
    "hour": 24 * DAYS_PER_MONTH,
    "day": DAYS_PER_MONTH,
    "week": DAYS_PER_MONTH / 7,
    "month": 1.0,
    "quarter": 1 / 3,
    "year": 1 / 12,
}
_CODES = {"H": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


class PurchaseModel(Protocol):
    """Anything that predicts conditional expected purchases in the next t time units."""

    def expected_purchases(self, data: pd.DataFrame, t: float) -> pd.Series: ...


def monthly_discount_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to `annual_rate` under monthly compounding."""
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def units_per_month(time_unit: str | float) -> float:
    """Model time units per month for a unit name ('day', 'week', ..., or 'D', 'W', ...) or a
    positive number given directly (e.g. 4.345 for lifetimes' weeks)."""
    if isinstance(time_unit, str):
        name = _CODES.get(time_unit, time_unit.lower())
        if name not in UNITS_PER_MONTH:
            raise UserInputError(
                f"time_unit {time_unit!r} is not one of {sorted(UNITS_PER_MONTH)} (or a number of units per month)."
            )
        return UNITS_PER_MONTH[name]
    value = float(time_unit)
    if not (np.isfinite(value) and value > 0):
        raise UserInputError(
            f"time_unit must be a positive number of units per month, got {time_unit!r}."
        )
    return value


def _spend(
    spend: GammaGammaModel | pd.Series | np.ndarray | float, data: pd.DataFrame
) -> np.ndarray:
    if isinstance(spend, GammaGammaModel):
        values = spend.expected_spend(data).to_numpy()
    elif isinstance(spend, pd.Series):
        aligned = spend if spend.index.equals(data.index) else spend.reindex(data.index)
        values = aligned.to_numpy(dtype=np.float64, na_value=np.nan)
    elif np.ndim(spend) == 0:
        values = np.full(len(data), float(spend))  # type: ignore[arg-type]
    else:
        values = np.asarray(spend, dtype=np.float64)
        if values.shape != (len(data),):
            raise UserInputError(f"spend has {values.size} values for {len(data)} customers.")
    if not np.all(np.isfinite(values)):
        raise UserInputError("spend is missing or not finite for some customers (check its index).")
    return values


def _distinct_rows(model: PurchaseModel, data: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct inputs of the purchase model and each customer's row among them: expected
    purchases depend on a customer only through these columns, and are evaluated K times."""
    columns = list(getattr(model, "input_columns", ()))
    if not columns or any(c not in data.columns for c in columns):
        return data, np.arange(len(data))
    codes, _ = pd.factorize(pd.MultiIndex.from_frame(data[columns]))
    first = np.empty(codes.max(initial=-1) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return data.iloc[first][columns].reset_index(drop=True), codes


def expected_customer_lifetime_value(
    purchase_model: PurchaseModel,
    spend: GammaGammaModel | pd.Series | np.ndarray | float,
    data: pd.DataFrame,
    *,
    time_unit: str | float,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
) -> pd.Series:
    """Discounted expected margin of each customer over the next `horizon_months` (module doc).

    Parameters
    ----------
    purchase_model:
        A fitted purchase model (BG/NBD, Pareto/NBD, MBG/NBD, BG/BB, sBG, ...).
    spend:
        A fitted `GammaGammaModel` (then `data` needs `monetary_value` too), or expected spend
        per purchase per customer (Series aligned on `data.index`, array, or one number).
    data:
        The customers: the columns the purchase model predicts from.
    time_unit:
        The time unit of the purchase model's data: 'hour', 'day', 'week', 'month', 'quarter',
        'year' (or 'H', 'D', 'W', 'M', 'Q', 'Y'), or the number of units per month. Required:
        a wrong unit silently scales CLV, so there is no default.
    horizon_months:
        How far ahead to count purchases, in months.
    annual_discount_rate:
        Discount rate per year (0.10 = 10 %), compounded monthly.
    margin:
        Share of spend that is margin (1.0 = value in revenue terms).
    """
    if not (isinstance(horizon_months, int | np.integer) and horizon_months >= 1):
        raise UserInputError(f"horizon_months must be a whole number >= 1, got {horizon_months!r}.")
    if not (np.isfinite(annual_discount_rate) and annual_discount_rate > -1):
        raise UserInputError(f"annual_discount_rate must be > -1, got {annual_discount_rate!r}.")
    if not np.isfinite(margin):
        raise UserInputError(f"margin must be a finite number, got {margin!r}.")
    per_month = units_per_month(time_unit)
    if per_month >= 1:
        steps, step_units, step_months = horizon_months, per_month, 1.0
    else:
        step_months = 1.0 / per_month
        steps = int(round(horizon_months * per_month))
        if steps < 1 or abs(steps * step_months - horizon_months) > 1e-9 * horizon_months:
            raise UserInputError(
                f"horizon of {horizon_months} months is not a whole number of model periods "
                f"of {step_months:g} months."
            )
        step_units = 1.0
    values = _spend(spend, data) * margin
    distinct, rows = _distinct_rows(purchase_model, data)
    total = np.zeros(len(distinct))
    previous = np.zeros(len(distinct))
    for k in range(1, steps + 1):
        cumulative = np.asarray(
            purchase_model.expected_purchases(distinct, k * step_units), dtype=np.float64
        )
        total += (cumulative - previous) / (1.0 + annual_discount_rate) ** (k * step_months / 12.0)
        previous = cumulative
    return pd.Series(values * total[rows], index=data.index, name="clv")
