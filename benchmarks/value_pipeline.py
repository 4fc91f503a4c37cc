"""Benchmark: raw transactions → CLV on every profile for 1,000,000 customers, vs lifetimes and
pymc-marketing.

    .venv/bin/python benchmarks/value_pipeline.py --customers 1000000 [--pymc-python PATH]

1. Builds (once, cached under benchmarks/.work/) a demo workspace with N customers: the demo
   generator's orders give about 6 transaction lines per customer.
2. cvm: times `summarize_transactions` (SQL in DuckDB) + BG/NBD fit + Gamma-Gamma fit + CLV
   (the same work lifetimes does below), and separately the whole value stage
   (`run_value_stage`: also RFM, lifecycle, tiers, holdout validation and writing profiles).
3. lifetimes on the same transactions, given to it as an in-memory DataFrame (reading them out
   of the warehouse is not timed, an advantage for lifetimes):
   `summary_data_from_transaction_data` + `BetaGeoFitter` + `GammaGammaFitter` +
   `customer_lifetime_value`, with the same time unit (weeks at day resolution).
4. pymc-marketing's BetaGeoModel MAP fit on the same summary, run in a separate interpreter
   (`--pymc-python`, a venv with pymc-marketing: it is too heavy a dependency for cvm itself).
5. Checks that parameters agree with lifetimes' to 4 significant digits (or a higher
   likelihood), on the same summary.

Prints a Markdown report (paste into benchmarks/results/value_pipeline.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cvm.value.clv import BetaGeoModel, GammaGammaModel, expected_customer_lifetime_value
from cvm.value.stage import run_value_stage
from cvm.value.summaries import summarize_transactions
from cvm.workspace import Workspace, init_workspace, open_workspace

WORK = Path(__file__).resolve().parent / ".work"
AS_OF = dt.date(2024, 12, 31)

PYMC_SCRIPT = """
import json, sys, time, pandas as pd
from pymc_marketing.clv import BetaGeoModel
data = pd.read_csv(sys.argv[1])
data = data.rename(columns={"customer_id": "customer_id"})
t = time.perf_counter()
model = BetaGeoModel(data=data)
model.build_model()
model.fit(method="map")
elapsed = time.perf_counter() - t
post = model.fit_result  # MAP: an xarray Dataset with one draw
params = {k: float(post[k].values.mean()) for k in ("r", "alpha", "a", "b")}
print(json.dumps({"seconds": elapsed, "params": params}))
"""


def workspace_with(customers: int, seed: int) -> Workspace:
    root = WORK / f"value-{customers}"
    if (root / "cvm.toml").exists():
        return open_workspace(root)
    from cvm.demo import DemoGenerator, export_company

    t = time.perf_counter()
    ws = init_workspace(root, force=True)
    export_company(
        DemoGenerator(customers, seed), folder=root / "demo", engine=ws.engine, replace=True
    )
    print(f"generated {customers:,} customers in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return ws


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def cvm_clv(ws: Workspace) -> dict[str, Any]:
    times: dict[str, float] = {}
    times["summaries"], summary = timed(
        lambda: summarize_transactions(ws.engine, AS_OF, time_unit="week").to_pandas()
    )
    times["bg_nbd_fit"], bg = timed(
        lambda: BetaGeoModel().fit(summary[["frequency", "recency", "T"]])
    )
    repeat = summary[summary["frequency"] > 0]
    times["gamma_gamma_fit"], gg = timed(
        lambda: GammaGammaModel().fit(repeat[["frequency", "monetary_value"]])
    )

    def clv() -> pd.Series:
        spend = gg.expected_spend(summary[["frequency", "monetary_value"]])
        return expected_customer_lifetime_value(
            bg,
            spend,
            summary,
            time_unit="week",
            horizon_months=12,
            annual_discount_rate=0.10,
            margin=1.0,
        )

    times["clv"], values = timed(clv)
    times["total"] = sum(times.values())
    return {"times": times, "bg": bg, "gg": gg, "summary": summary, "clv": values}


def lifetimes_clv(tx: pd.DataFrame) -> dict[str, Any]:
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    times: dict[str, float] = {}
    times["summaries"], summary = timed(
        lambda: summary_data_from_transaction_data(
            tx,
            "customer_id",
            "occurred_at",
            monetary_value_col="amount",
            observation_period_end=str(AS_OF),
            freq="D",
            freq_multiplier=7,
        )
    )
    times["bg_nbd_fit"], bgf = timed(
        lambda: BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    )
    repeat = summary[summary["frequency"] > 0]
    times["gamma_gamma_fit"], ggf = timed(
        lambda: GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    )
    monthly = (1.10) ** (1 / 12) - 1

    def clv() -> pd.Series:
        return ggf.customer_lifetime_value(
            bgf,
            summary["frequency"],
            summary["recency"],
            summary["T"],
            summary["monetary_value"],
            time=12,
            discount_rate=monthly,
            freq="W",
        )

    times["clv"], values = timed(clv)
    times["total"] = sum(times.values())
    return {"times": times, "bgf": bgf, "ggf": ggf, "summary": summary, "clv": values}


def pymc_fit(python: str, summary: pd.DataFrame) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.csv"  # CSV: the pymc venv need not have pyarrow
        frame = summary[["frequency", "recency", "T"]].reset_index(drop=True)
        frame.insert(0, "customer_id", np.arange(len(frame)))
        frame.to_csv(path, index=False)
        script = Path(tmp) / "fit.py"
        script.write_text(PYMC_SCRIPT)
        t = time.perf_counter()
        proc = subprocess.run(
            [python, str(script), str(path)], capture_output=True, text=True, timeout=3600
        )
        wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = wall
    return out


def sig4(a: float, b: float) -> bool:
    return f"{a:.4g}" == f"{b:.4g}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pymc-python", default=os.environ.get("PYMC_PYTHON"))
    parser.add_argument("--skip-lifetimes", action="store_true")
    parser.add_argument(
        "--pymc-only",
        action="store_true",
        help="Only time pymc-marketing's fit on the cached workspace.",
    )
    args = parser.parse_args()

    ws = workspace_with(args.customers, args.seed)
    if args.pymc_only:
        summary = summarize_transactions(ws.engine, AS_OF, time_unit="week").to_pandas()
        fit_seconds, _ = timed(lambda: BetaGeoModel().fit(summary[["frequency", "recency", "T"]]))
        res = pymc_fit(args.pymc_python, summary) if args.pymc_python else None
        print(f"cvm BG/NBD fit on {len(summary):,} customers: {fit_seconds:.2f} s")
        print(f"pymc-marketing MAP fit: {res}")
        return
    n_tx = int(ws.engine.fetch_scalar("SELECT count(*) FROM transactions") or 0)  # type: ignore[call-overload]
    ours = cvm_clv(ws)
    stage_seconds, run = timed(lambda: run_value_stage(ws.engine, ws.settings.value, as_of=AS_OF))
    lines = [
        "# Value pipeline benchmark: raw transactions → CLV for every customer",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, 24 GB; Python {platform.python_version()}; run {dt.datetime.now():%Y-%m-%d %H:%M}.",
        f"Data: demo company, {args.customers:,} customers, {n_tx:,} transaction lines, {len(ours['summary']):,} purchasers.",
        "",
        "| step | cvm (s) | lifetimes (s) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    ref: dict[str, Any] | None = None
    if not args.skip_lifetimes:
        tx = ws.engine.fetch_arrow(
            "SELECT customer_id, occurred_at, CAST(amount AS DOUBLE) AS amount FROM transactions WHERE NOT is_return AND amount >= 0"
        ).to_pandas()
        ref = lifetimes_clv(tx)
    for step in ("summaries", "bg_nbd_fit", "gamma_gamma_fit", "clv", "total"):
        mine = ours["times"][step]
        theirs = ref["times"][step] if ref else float("nan")
        lines.append(f"| {step} | {mine:.2f} | {theirs:.2f} | {theirs / mine:.1f}× |")
    lines.append(
        f"| whole value stage (adds RFM, lifecycle, tiers, holdout check, profiles) | {stage_seconds:.2f} | | |"
    )
    lines.append("")
    if ref:
        ours_p = ours["bg"].params_
        theirs_p = dict(ref["bgf"].params_)
        lines.append("| BG/NBD parameter | cvm | lifetimes | equal to 4 s.f. |")
        lines.append("| --- | ---: | ---: | --- |")
        for k in ("r", "alpha", "a", "b"):
            lines.append(
                f"| {k} | {ours_p[k]:.6g} | {theirs_p[k]:.6g} | {'yes' if sig4(ours_p[k], theirs_p[k]) else 'no'} |"
            )
        for k, lk in (("p", "p"), ("q", "q"), ("gamma", "v")):
            lines.append(
                f"| gamma-gamma {k} | {ours['gg'].params_[k]:.6g} | {dict(ref['ggf'].params_)[lk]:.6g} | {'yes' if sig4(ours['gg'].params_[k], dict(ref['ggf'].params_)[lk]) else 'no'} |"
            )
        theirs_clv = ref["clv"].reindex(ours["summary"]["customer_id"]).to_numpy()
        rel = np.abs(ours["clv"].to_numpy() / theirs_clv - 1)
        lines.append(
            f"\nCLV agreement: median relative difference {np.nanmedian(rel):.2%}, 99th percentile {np.nanpercentile(rel, 99):.2%} "
            "(lifetimes counts a month as 4.345 weeks, cvm as 365.25/12 days; same discounting)."
        )
    if args.pymc_python:
        res = pymc_fit(args.pymc_python, ours["summary"])
        if res:
            lines.append(
                f"\npymc-marketing BetaGeoModel MAP fit on the same summary: {res['seconds']:.1f} s "
                f"(interpreter wall time {res['wall_seconds']:.1f} s) vs cvm's BG/NBD fit {ours['times']['bg_nbd_fit']:.2f} s "
                f"→ {res['seconds'] / ours['times']['bg_nbd_fit']:.0f}× ; params {res['params']}"
            )
        else:
            lines.append("\npymc-marketing run failed (see stderr).")
    lines.append(f"\nValue stage run: {run.run_id}, timings {run.timings}.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
