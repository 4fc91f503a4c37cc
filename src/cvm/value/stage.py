"""The value stage: summaries → purchase and spend models → CLV, RFM, tiers, lifecycle → profiles.

`run_value_stage` is what `cvm value` and the loop call. It reads `transactions`, fits the
workspace's purchase model (BG/NBD by default) and Gamma-Gamma, validates the purchase model on
a calibration/holdout split, and rewrites the value columns of `profiles` (score columns that
other stages own are kept). The fitted models (JSON) and the fit report are kept with the run.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.engine.base import Engine, count_rows
from cvm.profiles.contract import PROFILES
from cvm.profiles.views import ensure_profile_tables
from cvm.value.model_choice import fit_purchase_model, fit_spend_model, purchase_model_validation
from cvm.value.rfm import compute_rfm
from cvm.value.summaries import DAYS_PER_UNIT, last_transaction_date, summarize_transactions
from cvm.value.tiers import assign_value_tiers
from cvm.workspace.settings import ValueSection

Progress = Callable[[str], None]

VALUE_COLUMNS = (
    "orders",
    "revenue",
    "first_purchase_at",
    "last_purchase_at",
    "days_since_last_purchase",
    "avg_order_value",
    "frequency",
    "recency",
    "tenure",
    "monetary_value",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_score",
    "rfm_segment",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "value_tier",
    "lifecycle_stage",
)


@dataclass
class ValueRun:
    run_id: str
    as_of: dt.date
    customers: int
    purchasers: int
    purchase_model: dict[str, Any]
    spend_model: dict[str, Any]
    validation: dict[str, Any]
    seconds: float
    total_clv: float
    report_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["as_of"] = self.as_of.isoformat()
        out["report_path"] = str(self.report_path) if self.report_path else None
        return out


def run_value_stage(
    engine: Engine,
    settings: ValueSection,
    *,
    as_of: dt.date | None = None,
    models_dir: Path | None = None,
    runs_dir: Path | None = None,
    progress: Progress | None = None,
) -> ValueRun:
    """Compute every value metric and write it onto `profiles`."""
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    as_of = as_of or last_transaction_date(engine)
    if as_of is None:
        raise UserInputError(
            "no transactions in the warehouse: ingest some first (cvm ingest transactions FILE)"
        )
    run_id = f"value-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"

    def lap(name: str, t0: float) -> float:
        timings[name] = round(time.perf_counter() - t0, 3)
        return time.perf_counter()

    t = time.perf_counter()
    step("summarising transactions")
    summary = summarize_transactions(engine, as_of, time_unit=settings.time_unit).to_pandas()
    t = lap("summaries", t)

    step(f"fitting {settings.purchase_model}")
    purchase = fit_purchase_model(summary, settings)
    t = lap("fit_purchase_model", t)
    step("fitting gamma-gamma")
    spend = fit_spend_model(summary, settings)
    t = lap("fit_spend_model", t)

    step("scoring customers")
    horizon_units = settings.clv_horizon_months * (365.25 / 12) / DAYS_PER_UNIT[settings.time_unit]
    scores = _score(summary, purchase, spend, settings, horizon_units)
    t = lap("score", t)

    step("validating on a holdout period")
    validation = purchase_model_validation(engine, as_of, settings)
    t = lap("validation", t)

    step("RFM and lifecycle")
    rfm = compute_rfm(engine, as_of).to_pandas()
    lifecycle = _lifecycle(engine, as_of)
    t = lap("rfm_lifecycle", t)

    step("writing profiles")
    frame = _profile_frame(summary, scores, rfm, lifecycle, settings)
    customers = _write_profiles(engine, frame)
    lap("write_profiles", t)

    purchase_state = purchase.to_dict() if hasattr(purchase, "to_dict") else {}
    spend_state = spend.to_dict() if spend is not None and hasattr(spend, "to_dict") else {}
    if models_dir is not None:
        folder = models_dir / "value" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{settings.purchase_model}.json").write_text(
            json.dumps(purchase_state, indent=2, default=str)
        )
        (folder / "gamma_gamma.json").write_text(json.dumps(spend_state, indent=2, default=str))
    run = ValueRun(
        run_id=run_id,
        as_of=as_of,
        customers=customers,
        purchasers=len(summary),
        purchase_model={"name": settings.purchase_model, **_fit_report(purchase)},
        spend_model={
            "name": "gamma_gamma",
            **(_fit_report(spend) if spend is not None else {"skipped": "no repeat customers"}),
        },
        validation=validation,
        seconds=round(time.perf_counter() - started, 3),
        total_clv=float(np.nansum(scores["clv"].to_numpy(dtype=float))),
        timings=timings,
    )
    if runs_dir is not None:
        run.report_path = runs_dir / f"{run_id}.json"
        run.report_path.write_text(json.dumps(run.to_dict(), indent=2, default=str))
    return run


def _fit_report(model: Any) -> dict[str, Any]:
    report: dict[str, Any] = {"params": {k: float(v) for k, v in model.params_.items()}}
    for attr in ("log_likelihood_", "standard_errors_", "confidence_intervals_", "convergence_"):
        value = getattr(model, attr, None)
        if value is not None:
            report[attr.rstrip("_")] = _jsonable(value)
    return report


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="index")
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


def _score(
    summary: pd.DataFrame, purchase: Any, spend: Any, settings: ValueSection, horizon_units: float
) -> pd.DataFrame:
    from cvm.value.model_choice import customer_lifetime_value

    data = summary[["frequency", "recency", "T", "monetary_value"]]
    out = pd.DataFrame({"customer_id": summary["customer_id"]})
    out["p_alive"] = np.asarray(purchase.probability_alive(data), dtype=float)
    out["expected_purchases"] = np.asarray(
        purchase.expected_purchases(data, horizon_units), dtype=float
    )
    if spend is not None:
        out["expected_spend"] = np.asarray(spend.expected_spend(data), dtype=float)
    else:  # no repeat buyers to fit on: fall back to the observed mean order value
        out["expected_spend"] = float(summary["monetary_value"].mean() or 0.0)
    out["clv"] = customer_lifetime_value(purchase, out["expected_spend"].to_numpy(), data, settings)
    return out


def _lifecycle(engine: Engine, as_of: dt.date) -> pd.DataFrame | None:
    try:
        from cvm.segments.lifecycle import assign_lifecycle_stage
    except ImportError:
        return None
    # The stage as of the end of the observation day.
    return assign_lifecycle_stage(
        engine, dt.datetime.combine(as_of, dt.time(23, 59, 59))
    ).to_pandas()


def _profile_frame(
    summary: pd.DataFrame,
    scores: pd.DataFrame,
    rfm: pd.DataFrame,
    lifecycle: pd.DataFrame | None,
    settings: ValueSection,
) -> pd.DataFrame:
    frame = summary.rename(columns={"T": "tenure"})[
        [
            "customer_id",
            "frequency",
            "recency",
            "tenure",
            "monetary_value",
            "first_purchase",
            "last_purchase",
        ]
    ]
    frame = frame.merge(scores, on="customer_id", how="left")
    frame = frame.merge(
        rfm[
            [
                "customer_id",
                "days_since_last_purchase",
                "orders",
                "revenue",
                "rfm_recency",
                "rfm_frequency",
                "rfm_monetary",
                "rfm_score",
                "rfm_segment",
            ]
        ],
        on="customer_id",
        how="left",
    )
    frame["first_purchase_at"] = pd.to_datetime(frame.pop("first_purchase"))
    frame["last_purchase_at"] = pd.to_datetime(frame.pop("last_purchase"))
    frame["avg_order_value"] = frame["revenue"] / frame["orders"].where(frame["orders"] > 0)
    frame["value_tier"] = assign_value_tiers(
        frame["clv"].to_numpy(dtype=float), settings.value_tiers
    )
    if lifecycle is not None:
        frame = frame.merge(
            lifecycle[["customer_id", "lifecycle_stage"]], on="customer_id", how="left"
        )
    else:
        frame["lifecycle_stage"] = None
    return frame


def _write_profiles(engine: Engine, frame: pd.DataFrame) -> int:
    """Replace the value columns of `profiles`, keeping columns other stages own."""
    ensure_profile_tables(engine)
    staged = "__value_run"
    engine.register_arrow(staged, pa.Table.from_pandas(frame, preserve_index=False))
    try:
        engine.execute(_rebuild_profiles_statement(staged))
        engine.execute("UPDATE profiles SET lifecycle_stage = 'prospect' WHERE orders IS NULL")
    finally:
        engine.unregister(staged)
    ensure_profile_tables(engine)
    return int(engine.fetch_scalar(count_rows("profiles")) or 0)  # type: ignore[call-overload]


def _rebuild_profiles_statement(staged: str) -> exp.Expression:
    """Every customer gets a profile row (those without a purchase become prospects)."""
    kept = [
        c.name
        for c in PROFILES.columns
        if c.name not in VALUE_COLUMNS and c.name not in ("customer_id", "updated_at")
    ]
    ids = exp.union(
        exp.select("customer_id").from_("customers"),
        exp.select("customer_id").from_(staged),
        distinct=True,
    )
    select = (
        exp.select(
            exp.column("customer_id", table="ids"),
            *[
                exp.cast(exp.column(c, table="v"), PROFILES.column(c).sql_type).as_(c)
                for c in VALUE_COLUMNS
            ],
            *[exp.column(c, table="old") for c in kept],
            exp.cast(exp.func("now"), "TIMESTAMP").as_("updated_at"),
        )
        .from_(ids.subquery("ids"))
        .join(exp.to_table(staged).as_("v"), on="v.customer_id = ids.customer_id", join_type="left")
        .join(
            exp.to_table("profiles").as_("old"),
            on="old.customer_id = ids.customer_id",
            join_type="left",
        )
    )
    return exp.Create(this=exp.to_table("profiles"), kind="TABLE", replace=True, expression=select)
