"""Load Kevin Hillstrom's MineThatData e-mail experiment (2008) into the canonical tables.

64,000 customers who bought in the last twelve months were randomised into a Mens e-mail, a
Womens e-mail and no e-mail; visits, conversions and spend were tracked for two weeks.
The file becomes what a company's own data would be, so its results come out of the same
code path as any campaign (`cvm measure campaign HILLSTROM-2008 --window-days 14`):

* `customers`: ``hillstrom-00001`` … (1-based row number); the pre-period features recency
  (months since last purchase), history_segment, history ($ last year), mens, womens,
  zip_code, newbie and channel as ``traits``;
* `campaign_assignments`: campaign ``HILLSTROM-2008``, assigned 2008-03-01 00:00 UTC, arm
  ``Mens E-Mail`` / ``Womens E-Mail`` (channel ``email``, offers ``hillstrom-mens`` /
  ``hillstrom-womens``) or ``control`` for No E-Mail, each with probability 1/3;
* `transactions`: one line per conversion, amount = spend, on day 7 of the window (the file
  gives no purchase time; any moment inside the two weeks gives the same results);
* `events`: one ``page_view`` (type ``page``) per visit, on day 6 of the window.

Rows that break the file's rules (unknown segment, a 0/1 flag that is not, negative or
missing spend) go to `quarantine` with the reason; `ingest_runs` records read = accepted +
quarantined. Re-importing replaces the earlier import.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.engine.base import Engine
from cvm.engine.sql import bind, literal
from cvm.engine.warehouse import INGEST_RUNS, QUARANTINE, ensure_warehouse

CAMPAIGN_ID = "HILLSTROM-2008"
ASSIGNED_AT = dt.datetime(2008, 3, 1)
WINDOW_DAYS = 14
PREFIX = "hillstrom-"
ARMS = {
    "Mens E-Mail": ("Mens E-Mail", "hillstrom-mens"),
    "Womens E-Mail": ("Womens E-Mail", "hillstrom-womens"),
    "No E-Mail": ("control", None),
}
COLUMNS = (
    "recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
    "channel", "segment", "visit", "conversion", "spend",
)  # fmt: skip
TRAITS = (
    "recency",
    "history_segment",
    "history",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "channel",
)


def _problems(df: pd.DataFrame) -> pd.DataFrame:
    """(row index, column, reason) of every rule a row breaks."""
    found: list[tuple[int, str, str]] = []

    def flag(mask: pd.Series, column: str, reason: str) -> None:
        found.extend((int(i), column, reason) for i in df.index[mask.to_numpy()])

    flag(~df["segment"].isin(list(ARMS)), "segment", f"segment must be one of {', '.join(ARMS)}")
    for col in ("visit", "conversion", "mens", "womens", "newbie"):
        values = pd.to_numeric(df[col], errors="coerce")
        flag(~values.isin([0, 1]), col, f"{col} must be 0 or 1")
    for col in ("spend", "history", "recency"):
        values = pd.to_numeric(df[col], errors="coerce")
        flag(values.isna() | (values < 0), col, f"{col} must be a number >= 0")
    conv = pd.to_numeric(df["conversion"], errors="coerce")
    spend = pd.to_numeric(df["spend"], errors="coerce")
    flag((conv == 0) & (spend > 0), "spend", "spend without a conversion")
    return pd.DataFrame(found, columns=["index", "column_name", "reason"])


def read_hillstrom(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accepted rows (with ``row_number``, 1-based data line) and the quarantined ones."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise UserInputError(f"{path}: cannot read it as CSV ({err})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserInputError(
            f"{path}: not the Hillstrom file, column(s) {', '.join(missing)} missing"
        )
    df["row_number"] = np.arange(len(df)) + 2  # the header is line 1
    bad = _problems(df)
    rejected = df.loc[sorted(set(bad["index"]))]
    accepted = df.drop(index=rejected.index)
    raw = pd.DataFrame(
        {
            "row_number": rejected["row_number"],
            "raw": [",".join(r) for r in rejected[list(COLUMNS)].itertuples(index=False)],
        },
        index=rejected.index,
    )
    quarantine = bad.merge(raw, left_on="index", right_index=True)
    return accepted, quarantine.drop(columns="index")


def _tables(df: pd.DataFrame, lineage: dict[str, Any]) -> dict[str, pa.Table]:
    ids = [f"{PREFIX}{n - 1:05d}" for n in df["row_number"]]
    traits = df[list(TRAITS)].copy()
    for col in ("recency", "mens", "womens", "newbie"):
        traits[col] = traits[col].astype(int)
    traits["history"] = traits["history"].astype(float)
    arms = [ARMS[s][0] for s in df["segment"]]
    offers = [ARMS[s][1] for s in df["segment"]]
    channels = [None if ARMS[s][1] is None else "email" for s in df["segment"]]
    control = df["segment"] == "No E-Mail"
    conv = df["conversion"].astype(int) == 1
    visit = df["visit"].astype(int) == 1
    n = len(df)
    lin = {k: [v] * n for k, v in lineage.items()}
    customers = pa.table(
        {
            "customer_id": ids,
            "traits": [json.dumps(r) for r in traits.to_dict("records")],
            **lin,
        }
    )
    assignments = pa.table(
        {
            "campaign_id": [CAMPAIGN_ID] * n,
            "customer_id": ids,
            "arm": arms,
            "is_control": control.tolist(),
            "assigned_at": pa.array([ASSIGNED_AT] * n, pa.timestamp("us")),
            "assignment_probability": [1.0 / 3.0] * n,
            "channel": pa.array(channels, pa.string()),
            "offer_id": pa.array(offers, pa.string()),
            **lin,
        }
    )
    buyers = [i for i, c in zip(ids, conv, strict=True) if c]
    k = len(buyers)
    transactions = pa.table(
        {
            "transaction_id": buyers,
            "line_id": ["1"] * k,
            "customer_id": buyers,
            "occurred_at": pa.array([ASSIGNED_AT + dt.timedelta(days=7)] * k, pa.timestamp("us")),
            "amount": df.loc[conv.to_numpy(), "spend"].astype(float).round(2).tolist(),
            "currency": ["USD"] * k,
            "quantity": [1.0] * k,
            "channel": ["web"] * k,
            "is_return": [False] * k,
            **{key: v[:k] for key, v in lin.items()},
        }
    )
    visitors = [i for i, v in zip(ids, visit, strict=True) if v]
    v = len(visitors)
    events = pa.table(
        {
            "event_id": [f"{i}-visit" for i in visitors],
            "customer_id": visitors,
            "user_id": visitors,
            "type": ["page"] * v,
            "name": ["page_view"] * v,
            "occurred_at": pa.array([ASSIGNED_AT + dt.timedelta(days=6)] * v, pa.timestamp("us")),
            "channel": ["web"] * v,
            "properties": [json.dumps({"source": "hillstrom"})] * v,
            **{key: val[:v] for key, val in lin.items()},
        }
    )
    return {
        "customers": customers,
        "campaign_assignments": assignments,
        "transactions": transactions,
        "events": events,
    }


_KEYS = {
    "customers": "customer_id",
    "transactions": "transaction_id",
    "events": "event_id",
    "campaign_assignments": "customer_id",
}


def import_hillstrom(engine: Engine, path: Path) -> dict[str, int]:
    """Load the file (replacing an earlier import); returns rows per table and the reconciliation."""
    ensure_warehouse(engine)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run = f"hillstrom-{uuid.uuid4().hex[:8]}"
    accepted, rejected = read_hillstrom(path)
    lineage = {"_source": str(path), "_ingest_run": run, "_loaded_at": started}
    tables = _tables(accepted, lineage)
    for name, key in _KEYS.items():
        engine.execute(bind(f"DELETE FROM {name} WHERE {key} LIKE :prefix", prefix=PREFIX + "%"))  # noqa: S608 (constant names)
    counts = {name: engine.write_arrow(name, table) for name, table in tables.items()}
    if len(rejected):
        engine.write_arrow(
            QUARANTINE.name,
            pa.Table.from_pandas(
                rejected.assign(
                    ingest_run=run, table_name="campaign_assignments", source=str(path),
                    quarantined_at=started,
                ),
                preserve_index=False,
            ),
        )  # fmt: skip
    read = len(accepted) + int(rejected["row_number"].nunique()) if len(rejected) else len(accepted)
    engine.write_arrow(
        INGEST_RUNS.name,
        pa.Table.from_pylist(
            [
                {
                    "ingest_run": run, "table_name": "campaign_assignments", "source": str(path),
                    "started_at": started, "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    "rows_read": read, "rows_accepted": len(accepted),
                    "rows_quarantined": read - len(accepted), "rows_inserted": len(accepted),
                    "rows_updated": 0, "rows_unchanged": 0, "customers_created": len(accepted),
                }
            ]
        ),
    )  # fmt: skip
    return {"rows_read": read, "rows_accepted": len(accepted), **counts}


def hillstrom_assignments(engine: Engine) -> int:
    """Assigned customers of the imported experiment (0 when it was never imported)."""
    if not engine.table_exists("campaign_assignments"):
        return 0
    query = (
        exp.select(exp.Count(this=exp.Star()))
        .from_("campaign_assignments")
        .where(exp.column("campaign_id").eq(literal(CAMPAIGN_ID)))
    )
    return int(engine.fetch_scalar(query) or 0)  # type: ignore[call-overload]
