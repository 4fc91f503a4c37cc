"""The control-group report: the global group in force, and whether control and treatment look
alike before the campaign (standardised mean differences, `cvm.decide.control_groups`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlglot.expressions as exp

from cvm.decide.config import load_decide_settings
from cvm.decide.control_groups import BALANCE_FEATURES, balance_table, global_control_sql
from cvm.decide.tables import DECISIONS
from cvm.engine.sql import literal
from cvm.profiles.contract import CUSTOMER_360_VIEW

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace


def _features(alias: str) -> list[exp.Expr]:
    return [exp.cast(exp.column(f, table=alias), "DOUBLE").as_(f) for f in BALANCE_FEATURES]


def control_report(ws: Workspace, day: dt.date) -> dict[str, Any]:
    settings = load_decide_settings(ws.root)
    gc = settings.control.global_
    engine = ws.engine
    member = global_control_sql(exp.column("customer_id", table="c"), gc, day, engine.dialect)
    base = exp.select(exp.paren(member).as_("global_control"), *_features("c")).from_(
        exp.to_table(CUSTOMER_360_VIEW).as_("c")
    )
    population = engine.fetch_arrow(base).to_pandas()
    threshold = settings.control.balance_threshold
    report: dict[str, Any] = {
        "global": {
            "salt_in_force": gc.effective_salt(day),
            "share": gc.share,
            "drawn_on": gc.drawn_on,
            "next_redraw": gc.next_redraw(day),
            "customers": len(population),
            "in_global_control": int(population["global_control"].sum()) if len(population) else 0,
        },
        "balance": [],
    }
    rows: list[dict[str, Any]] = []
    if len(population) > 1:
        table = balance_table(population, "global_control", threshold=threshold)
        table["group"] = "global control vs rest"
        rows += table.to_dict("records")
    if engine.table_exists(DECISIONS.name):
        decided = (
            exp.select(
                exp.column("offer_id", table="d"), exp.column("control", table="d"), *_features("c")
            )
            .from_(exp.to_table(DECISIONS.name).as_("d"))
            .join(
                exp.to_table(CUSTOMER_360_VIEW).as_("c"),
                on=exp.column("customer_id", table="c").eq(exp.column("customer_id", table="d")),
            )
            .where(
                exp.and_(
                    exp.column("decision_date", table="d").eq(literal(day)),
                    exp.not_(exp.column("global_control", table="d")),
                )
            )
        )
        frame = engine.fetch_arrow(decided).to_pandas()
        if len(frame):
            table = balance_table(frame, "control", threshold=threshold, by="offer_id")
            table["group"] = "offer " + table["group"].astype(str) + ": control vs treated"
            rows += table.to_dict("records")
    report["balance"] = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows
    ]
    return report


def flagged(report: dict[str, Any]) -> pd.DataFrame:
    """The imbalanced (group, feature) rows of a report."""
    frame = pd.DataFrame(report["balance"])
    return frame[frame["flag"]] if len(frame) else frame
