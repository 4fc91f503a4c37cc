"""The daily loop on DuckDB and on local Spark, from the same code, on synthetic data.

    .venv/bin/python benchmarks/spark_loop.py --customers 100000 --transactions-per-customer 10

1. Data: DuckDB SQL writes ``customers``, ``transactions`` and ``profiles`` as Parquet under
   ``benchmarks/data/spark_loop/<n>/`` (git-ignored): ``range`` plus hash-based pseudo-random
   columns (``hash(i, seed)``), so the same arguments give the same bytes and no Python loop
   touches a row. Columns follow the canonical contracts (missing ones are typed NULLs).
2. Each engine reads those files (DuckDB: tables created from the Parquet; Spark: external
   ``USING parquet`` tables on the same folders) and runs the stages of the daily loop with
   cvm's own functions: summaries, value (BG/NBD fitted on compact sufficient statistics +
   RFM), features, scoring (BG/NBD P(alive) and expected purchases per customer; on Spark
   through ``map_batches``/``mapInArrow``), 50 segments (one shared-scan ``compile_flags``
   query), decisions (global control group and best eligible offer per customer, in SQL).
3. Wall time per stage is printed and appended as JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.contracts import CANONICAL
from cvm.engine.base import Engine
from cvm.profiles.contract import PROFILES
from cvm.value.clv.bg_nbd import BetaGeoModel
from cvm.value.summaries import summarize_transactions

END = dt.date(2024, 12, 31)
DAYS = 730
ROOT = Path(__file__).resolve().parent / "data" / "spark_loop"

# Expressions over `i` (row number) and `c` (customer number) for the generated columns.
_CUSTOMER_COLUMNS = {
    "customer_id": "printf('C%09d', i)",
    "email": "CASE WHEN hash(i, 1) % 10 < 8 THEN printf('u%d@example.com', i) END",
    "phone": "CASE WHEN hash(i, 2) % 10 < 5 THEN printf('+4917%08d', i % 100000000) END",
    "birth_date": "DATE '1950-01-01' + CAST(hash(i, 3) % 18000 AS INTEGER)",
    "gender": "['female', 'male', 'other'][1 + CAST(hash(i, 4) % 3 AS INTEGER)]",
    "country": "['DE', 'FR', 'US', 'GB', 'ES', 'IT'][1 + CAST(hash(i, 5) % 6 AS INTEGER)]",
    "signup_date": "TIMESTAMP '2020-01-01' + to_seconds(CAST(hash(i, 6) % 157680000 AS BIGINT))",
    "time_zone": "'Europe/Berlin'",
    "language": "['en', 'de', 'fr'][1 + CAST(hash(i, 7) % 3 AS INTEGER)]",
    "acquisition_channel": "['web', 'store', 'ads', 'referral'][1 + CAST(hash(i, 8) % 4 AS INTEGER)]",
}
_TRANSACTION_COLUMNS = {
    "transaction_id": "printf('T%011d', i)",
    "line_id": "'1'",
    "customer_id": "printf('C%09d', c)",
    # a customer's purchases cluster after a customer-specific start day (BTYD-like shape)
    "occurred_at": (
        "TIMESTAMP '2023-01-01' + to_seconds(CAST((hash(c, 11) % 365) * 86400 "
        "+ hash(i, 12) % ((730 - hash(c, 11) % 365) * 86400) AS BIGINT))"
    ),
    "amount": "CAST(5 + (hash(i, 13) % 20000) / 100.0 AS DECIMAL(18,4))",
    "currency": "'EUR'",
    "quantity": "CAST(1 + hash(i, 14) % 3 AS DECIMAL(18,4))",
    "product_id": "printf('P%05d', hash(i, 15) % 5000)",
    "category": "['shoes', 'bags', 'hats', 'shirts', 'books', 'toys'][1 + CAST(hash(i, 16) % 6 AS INTEGER)]",
    "channel": "['web', 'store', 'app'][1 + CAST(hash(i, 17) % 3 AS INTEGER)]",
    "is_return": "hash(i, 18) % 50 = 0",
}
_PROFILE_COLUMNS = {
    "customer_id": "printf('C%09d', i)",
    "orders": "CAST(hash(i, 21) % 30 AS BIGINT)",
    "clv": "(hash(i, 22) % 100000) / 100.0",
    "rfm_segment": "['Champions', 'Loyal', 'At risk', 'Lost', 'Hibernating'][1 + CAST(hash(i, 23) % 5 AS INTEGER)]",
    "avg_order_value": "(hash(i, 24) % 30000) / 100.0",
}


def _select(contract_columns: Any, exprs: dict[str, str]) -> str:
    parts = []
    for col in contract_columns:
        typ = col.sql_type if col.type != "json" else "VARCHAR"
        parts.append(f"CAST({exprs.get(col.name, 'NULL')} AS {typ}) AS {col.name}")
    return ", ".join(parts)


def generate(n_customers: int, per_customer: int, folder: Path) -> None:
    """Write the three tables as Parquet (skipped when already there)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    n_tx = n_customers * per_customer
    jobs = {
        "customers": (CANONICAL["customers"].columns, _CUSTOMER_COLUMNS, n_customers, "i"),
        "profiles": (PROFILES.columns, _PROFILE_COLUMNS, n_customers, "i"),
        # skewed purchase counts: customer c = floor(n * u^2) for a uniform u
        "transactions": (
            CANONICAL["transactions"].columns,
            _TRANSACTION_COLUMNS,
            n_tx,
            f"i, CAST(floor({n_customers} * pow((hash(i, 10) % 1000000) / 1000000.0, 2)) AS BIGINT) AS c",
        ),
    }
    for name, (columns, exprs, rows, source) in jobs.items():
        target = folder / name
        if target.exists():
            continue
        started = time.perf_counter()
        con.execute(
            f"COPY (SELECT {_select(columns, exprs)} FROM (SELECT {source} FROM range({rows}) AS r(i))) "  # noqa: S608
            f"TO '{target}' (FORMAT parquet, PER_THREAD_OUTPUT true)"
        )
        print(f"generated {name}: {rows:,} rows in {time.perf_counter() - started:.1f} s")


def open_duckdb(folder: Path, memory_limit: str) -> Engine:
    from cvm.engine.duckdb_engine import DuckDBEngine
    from cvm.engine.warehouse import ensure_warehouse
    from cvm.profiles.views import ensure_profile_tables

    engine = DuckDBEngine(folder / "bench.duckdb", memory_limit=memory_limit)
    for name in ("customers", "transactions", "profiles"):
        engine.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_parquet('{folder / name}/*.parquet')"  # noqa: S608
        )
    ensure_warehouse(engine)
    ensure_profile_tables(engine)
    return engine


def open_spark(folder: Path, master: str, driver_memory: str) -> Engine:
    from cvm.engine.spark_engine import SparkEngine
    from cvm.engine.warehouse import ensure_warehouse
    from cvm.profiles.views import ensure_profile_tables

    engine = SparkEngine(
        master,
        folder / "lake",
        database="bench",
        conf={"spark.driver.memory": driver_memory, "spark.sql.shuffle.partitions": "16"},
    )
    engine.spark.sparkContext.setLogLevel("ERROR")
    for name in ("customers", "transactions", "profiles"):
        engine.spark.sql(f"DROP TABLE IF EXISTS bench.{name}")
        engine.spark.sql(
            f"CREATE TABLE bench.{name} USING parquet LOCATION '{folder / name}'"  # noqa: S608
        )
    ensure_warehouse(engine)
    ensure_profile_tables(engine)
    return engine


def _segments() -> dict[str, Any]:
    """50 segment definitions mixing profile, purchase, location and random conditions."""
    from pydantic import TypeAdapter

    from cvm.segments.definition import Node

    node = TypeAdapter(Node)
    defs: dict[str, Any] = {}
    for k in range(50):
        match k % 5:
            case 0:
                raw = {"kind": "profile", "field": "clv", "op": ">=", "value": 50 * (k + 1)}
            case 1:
                raw = {
                    "kind": "purchase",
                    "measure": "count",
                    "op": "gte",
                    "value": 1 + k % 7,
                    "window": {"days": 30 + 10 * k},
                }
            case 2:
                raw = {
                    "kind": "purchase",
                    "category": ["shoes", "bags", "hats"][k % 3],
                    "window": {"days": 90},
                }
            case 3:
                raw = {"kind": "location", "country": ["DE", "FR", "US"][k % 3]}
            case _:
                raw = {"kind": "random", "salt": f"s{k}", "share": 0.2}
        defs[f"seg{k}"] = node.validate_python(raw)
    return defs


def _score_batches(
    model_json: str,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = BetaGeoModel.from_json(model_json)
        for batch in batches:
            frame = batch.to_pandas()
            yield pa.RecordBatch.from_pandas(
                pd.DataFrame(
                    {
                        "customer_id": frame["customer_id"],
                        "p_alive": np.asarray(model.probability_alive(frame)),
                        "expected_purchases": np.asarray(model.expected_purchases(frame, 52.0)),
                    }
                ),
                preserve_index=False,
            )

    return score


SCORES = pa.schema(
    [("customer_id", pa.string()), ("p_alive", pa.float64()), ("expected_purchases", pa.float64())]
)


def run_loop(engine: Engine, kind: str) -> dict[str, float]:
    from cvm.decide.config import GlobalControl
    from cvm.decide.control_groups import global_control_sql
    from cvm.predict.features import build_features, choose_spec, churn_labels
    from cvm.segments.compile import compile_flags, make_context
    from cvm.value.rfm import compute_rfm

    times: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = fn()
        times[name] = time.perf_counter() - started
        print(f"  {kind} {name}: {times[name]:.1f} s", flush=True)
        return result

    summary = timed("summaries", lambda: summarize_transactions(engine, END))

    def value() -> BetaGeoModel:
        engine.register_arrow("__summary", summary)
        compact = engine.fetch_arrow(
            "SELECT frequency, recency, T, count(*) AS weights FROM __summary GROUP BY 1, 2, 3"
        ).to_pandas()
        compute_rfm(engine, END)
        return BetaGeoModel().fit(compact)

    model = timed("value (fit on compact stats + RFM)", value)
    cutoff = dt.datetime.combine(END - dt.timedelta(days=90), dt.time())
    timed(
        "features",
        lambda: (
            build_features(engine, cutoff, choose_spec(engine, cutoff)),
            churn_labels(engine, cutoff, 90),
        ),
    )

    def score() -> pa.Table:
        query = "SELECT customer_id, frequency, recency, T FROM __summary"
        if kind == "spark":
            return engine.map_batches(query, _score_batches(model.to_json()), SCORES)  # type: ignore[attr-defined]
        return pa.Table.from_batches(
            list(_score_batches(model.to_json())(iter(engine.fetch_arrow(query).to_batches())))
        )

    timed("scoring (BG/NBD)", score)
    nodes = _segments()

    def segments() -> int:
        query, names = compile_flags(
            nodes, make_context(dt.datetime(2025, 1, 1), dialect=engine.dialect)
        )
        flags = [exp.func("SUM", exp.cast(exp.column(c), "INTEGER")) for c in names.values()]
        return len(engine.fetch_rows(exp.select(*flags).from_(query.subquery("f"))))

    timed("segments (50)", segments)

    def decisions() -> int:
        cid = exp.column("customer_id", table="c")
        control = global_control_sql(cid, GlobalControl(share=0.05), END, engine.dialect)
        best = exp.Case().when(exp.column("clv", table="c") > 500, exp.Literal.string("vip"))
        best = best.when(exp.column("orders", table="c") < 2, exp.Literal.string("welcome")).else_(
            exp.Literal.string("winback")
        )
        query = (
            exp.select(exp.column("offer"), exp.func("COUNT", exp.Star()))
            .from_(
                exp.select(best.as_("offer"))
                .from_("customer_360 AS c")
                .where(exp.not_(exp.paren(control)))
                .subquery("d")
            )
            .group_by("offer")
        )
        return len(engine.fetch_rows(query))

    timed("decisions", decisions)
    engine.unregister("__summary")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--transactions-per-customer", type=int, default=10)
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--memory", default="8GB", help="DuckDB memory limit")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "spark_loop.jsonl"
    )
    args = parser.parse_args()
    folder = ROOT / f"{args.customers}x{args.transactions_per_customer}"
    generate(args.customers, args.transactions_per_customer, folder)
    for kind in args.engines.split(","):
        started = time.perf_counter()
        engine = (
            open_duckdb(folder, args.memory)
            if kind == "duckdb"
            else open_spark(folder, args.master, args.driver_memory)
        )
        opened = time.perf_counter() - started
        times = run_loop(engine, kind)
        total = sum(times.values())
        print(f"{kind}: loop {total:.1f} s (open {opened:.1f} s)")
        record = {
            "engine": kind,
            "customers": args.customers,
            "transactions": args.customers * args.transactions_per_customer,
            "master": args.master if kind == "spark" else None,
            "open_s": opened,
            "stages_s": times,
            "loop_s": total,
            "at": dt.datetime.now().isoformat(),
        }
        with args.out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        engine.close()


if __name__ == "__main__":
    main()
