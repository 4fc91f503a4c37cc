"""`summarize_acquisition`: CAC, CLV/CAC and payback per acquisition channel and signup cohort.

Reads `marketing_spend`, `customers` (channel, signup date), `transactions` (+ `products.margin`)
and `profiles.clv` through `cvm.acquisition.queries`, checks the data
(`cvm.acquisition.checks`), and applies the maths of `cvm.acquisition.economics`. The
definitions are written there and in docs/acquisition.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cvm.acquisition import economics, queries
from cvm.acquisition.checks import check_currencies, coverage_warnings
from cvm.acquisition.cohorts import Cohort, build_cohorts
from cvm.core.errors import UserInputError
from cvm.engine.base import Engine
from cvm.value.summaries import last_transaction_date
from cvm.workspace.settings import Settings


@dataclass
class AcquisitionSummary:
    """Everything `cvm acquisition summary`, the report and the API show."""

    as_of: dt.date
    currency: str
    margin_rate: float
    margin_basis: str
    horizon_months: int
    cohorts: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    totals: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    method: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "margin_rate": self.margin_rate,
            "margin_basis": self.margin_basis,
            "clv_horizon_months": self.horizon_months,
            "totals": self.totals,
            "channels": self.channels,
            "cohorts": self.cohorts,
            "warnings": self.warnings,
            "method": self.method,
        }


def summarize_acquisition(
    engine: Engine,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    margin_rate: float | None = None,
) -> AcquisitionSummary:
    """Acquisition economics as of ``as_of`` (default: the last transaction day).

    ``margin_rate`` (default: the workspace's ``value.margin``) turns revenue into margin for
    lines whose product carries no ``products.margin``.
    """
    if not engine.table_exists("marketing_spend") or queries.spend_rows(engine) == 0:
        raise UserInputError(
            "no marketing spend in the warehouse: ingest it first "
            "(cvm ingest marketing_spend FILE; columns month, acquisition_channel, amount, currency)"
        )
    rate = settings.value.margin if margin_rate is None else margin_rate
    if not 0 < rate <= 1:
        raise UserInputError(f"--margin-rate {rate} must be in (0, 1]")
    currency = settings.workspace.currency
    check_currencies(engine, currency)
    as_of = as_of or last_transaction_date(engine) or dt.date.today()
    horizon = settings.value.clv_horizon_months

    spend = queries.spend_by_cohort(engine, as_of).to_pylist()
    value = queries.value_by_cohort(engine, as_of).to_pylist()
    margin = queries.margin_by_month_of_life(engine, as_of, rate).to_pylist()
    cohorts = build_cohorts(spend, value, margin, as_of)
    has_clv = any(int(v["customers_with_clv"] or 0) > 0 for v in value)

    warnings = coverage_warnings(cohorts)
    undated = queries.undated_customers(engine)
    if undated:
        warnings.append(f"{undated:,} customers have no signup_date and belong to no cohort")
    if not has_clv:
        warnings.append(
            "profiles carry no CLV yet: predicted CLV, CLV/CAC and projected payback are empty "
            "(run cvm value first)"
        )
    cohort_rows = [_cohort_row(c, has_clv, horizon) for c in cohorts]
    channel_rows = _channel_rows(cohorts, has_clv, horizon)
    basis = _margin_basis(margin, rate)
    return AcquisitionSummary(
        as_of=as_of,
        currency=currency,
        margin_rate=rate,
        margin_basis=basis,
        horizon_months=horizon,
        cohorts=cohort_rows,
        channels=channel_rows,
        totals=_totals(cohorts, has_clv),
        warnings=warnings,
        method=_method(basis, horizon),
    )


def _cohort_row(c: Cohort, has_clv: bool, horizon: int) -> dict[str, Any]:
    cac = economics.acquisition_cost(c.spend, c.new_customers)
    per_customer = [m / c.new_customers for m in c.monthly_margin] if c.new_customers else []
    curve = economics.cumulative(per_customer)
    realised = curve[-1] if curve else None
    future = c.future_value / c.new_customers if has_clv and c.new_customers else None
    predicted = realised + future if realised is not None and future is not None else None
    paid = c.spend > 0
    payback = economics.payback_month(curve, cac) if paid else None
    projected = (
        economics.projected_payback_month(curve, cac, future, horizon) if paid and cac else None
    )
    return {
        "channel": c.channel,
        "cohort": c.month.isoformat()[:7],
        "paid": paid,
        "spend": round(c.spend, 2),
        "new_customers": c.new_customers,
        "cac": cac,
        "realised_value": realised,
        "future_value": future,
        "predicted_clv": predicted,
        "clv_cac": economics.value_to_cost(predicted, cac) if paid else None,
        "months_observed": len(curve),
        "payback_months": payback,
        "projected_payback_months": projected if payback is None else payback,
        "payback": _status(paid, c.new_customers, payback, projected),
    }


def _status(paid: bool, new: int, payback: int | None, projected: int | None) -> str:
    if not paid:
        return "no spend"
    if new == 0:
        return "no customers"
    if payback is not None:
        return f"month {payback}"
    if projected is not None:
        return f"not yet (projected month {projected})"
    return "not yet"


def _channel_rows(cohorts: list[Cohort], has_clv: bool, horizon: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for channel in sorted({c.channel for c in cohorts}):
        mine = [c for c in cohorts if c.channel == channel]
        spend = sum(c.spend for c in mine)
        new = sum(c.new_customers for c in mine)
        realised_total = sum(sum(c.monthly_margin) for c in mine)
        future_total = sum(c.future_value for c in mine)
        cac = economics.acquisition_cost(spend, new)
        realised = realised_total / new if new else None
        future = future_total / new if has_clv and new else None
        predicted = realised + future if realised is not None and future is not None else None
        paid = spend > 0
        # The pool holds only cohorts with customers; the partial current month stays out.
        pool = economics.pooled_curve(
            [(c.new_customers, c.complete_months, c.monthly_margin) for c in mine]
        )
        payback = economics.payback_month(pool.cumulative, cac) if paid else None
        projected = (
            economics.projected_payback_month(pool.cumulative, cac, future, horizon)
            if paid and cac
            else None
        )
        rows.append(
            {
                "channel": channel,
                "paid": paid,
                "cohorts": len(mine),
                "spend": round(spend, 2),
                "new_customers": new,
                "cac": cac,
                "realised_value": realised,
                "future_value": future,
                "predicted_clv": predicted,
                "clv_cac": economics.value_to_cost(predicted, cac) if paid else None,
                "payback_months": payback,
                "projected_payback_months": projected if payback is None else payback,
                "payback": _status(paid, new, payback, projected),
            }
        )
    return rows


def _totals(cohorts: list[Cohort], has_clv: bool) -> dict[str, Any]:
    spend = sum(c.spend for c in cohorts)
    new = sum(c.new_customers for c in cohorts)
    # Every cohort of a channel that spends counts as paid, even a month it spent nothing.
    paid = [c for c in cohorts if _channel_paid(cohorts, c.channel)]
    paid_spend = sum(c.spend for c in paid)
    paid_new = sum(c.new_customers for c in paid)
    paid_value = sum(sum(c.monthly_margin) + c.future_value for c in paid)
    return {
        "spend": round(spend, 2),
        "new_customers": new,
        "blended_cac": economics.acquisition_cost(spend, new),
        "paid_spend": round(paid_spend, 2),
        "paid_new_customers": paid_new,
        "paid_cac": economics.acquisition_cost(paid_spend, paid_new),
        "unpaid_new_customers": new - paid_new,
        "paid_clv_cac": (paid_value / paid_spend) if has_clv and paid_spend > 0 else None,
    }


def _channel_paid(cohorts: list[Cohort], channel: str) -> bool:
    return any(c.spend > 0 for c in cohorts if c.channel == channel)


def _margin_basis(margin: list[dict[str, Any]], rate: float) -> str:
    revenue = sum(float(r["revenue"] or 0) for r in margin)
    with_margin = sum(float(r["revenue_with_margin"] or 0) for r in margin)
    if revenue == 0 or with_margin == 0:
        return f"revenue × margin rate {rate:.0%} (no product margins)"
    share = with_margin / revenue
    if share >= 0.9995:
        return "gross margin from products.margin"
    return (
        f"gross margin from products.margin for {share:.1%} of revenue, "
        f"revenue × margin rate {rate:.0%} for the rest"
    )


def _method(basis: str, horizon: int) -> list[str]:
    return [
        "Cohort = acquisition channel × signup month (customers.signup_date); "
        "CAC = spend / new customers of the cohort.",
        f"Realised value = margin to date per acquired customer; margin = {basis}.",
        f"Predicted CLV = realised value + residual CLV (profiles.clv: expected discounted margin "
        f"over the next {horizon} months, value stage).",
        "CLV/CAC = predicted CLV / CAC; channel totals = total predicted value / total spend "
        "(the spend-weighted mean of the cohort ratios).",
        "Payback = first month of life (signup month = 1) whose cumulative margin per customer "
        "reaches CAC; channels pool their cohorts' complete months. 'not yet' when not reached; "
        f"the projection spreads the residual CLV evenly over {horizon} months.",
        "Channels without spend are unpaid: counted in blended CAC, left out of paid CAC, "
        "with no CLV/CAC ratio.",
    ]
