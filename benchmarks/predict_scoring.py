"""Benchmark: feature building and scoring for 1,000,000 customers (issue targets: features
for 1M customers and their events under 60 s; scoring churn, uplift and top-10 products for
1M customers under 60 s).

    .venv/bin/python benchmarks/predict_scoring.py [--customers 1000000]

Reuses the demo workspace cached by benchmarks/value_pipeline.py (benchmarks/.work/value-N;
built there if missing), runs the value stage if profiles are empty, trains any model that has
no promoted version (training time is reported but is not part of the targets), then times
`build_features` at the observation end and `score_profiles` for every customer, with the
seconds of each part of scoring (features, encoding, churn, uplift, recommendations, JSON,
write back to the warehouse) from `score_profiles`' stopwatch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time

from cvm.predict.features import build_features, choose_spec
from cvm.predict.registry import promoted_version
from cvm.predict.scoring import Stopwatch, score_profiles
from cvm.predict.training import (
    campaigns_with_assignments,
    train_churn,
    train_recommender,
    train_uplift,
)
from cvm.value.stage import run_value_stage

AS_OF = dt.date(2024, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2, help="scoring threads (ALS top-k)")
    args = parser.parse_args()
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from value_pipeline import workspace_with  # the same cached workspace

    ws = workspace_with(args.customers, 42)
    engine = ws.engine
    if not int(engine.fetch_scalar("SELECT count(clv) FROM profiles") or 0):  # type: ignore[call-overload]
        run_value_stage(engine, ws.settings.value, as_of=AS_OF)
    n_events = int(engine.fetch_scalar("SELECT count(*) FROM events") or 0)  # type: ignore[call-overload]
    n_customers = int(engine.fetch_scalar("SELECT count(*) FROM profiles") or 0)  # type: ignore[call-overload]
    training: dict[str, float] = {}
    for kind, train in (
        (
            "churn",
            lambda: train_churn(
                engine,
                ws.models_dir,
                AS_OF,
                ws.settings.value.churn_window_days,
                promote=True,
                n_estimators=100,
            ),
        ),
        (
            "uplift",
            lambda: train_uplift(
                engine, ws.models_dir, campaigns_with_assignments(engine)[-1], AS_OF, promote=True
            ),
        ),
        ("recommend", lambda: train_recommender(engine, ws.models_dir, AS_OF, promote=True)),
    ):
        if not promoted_version(ws.models_dir, kind):
            t = time.perf_counter()
            train()
            training[kind] = time.perf_counter() - t
    cutoff = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time())
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    spec = choose_spec(engine, cutoff)
    features = build_features(engine, cutoff, spec)
    feature_seconds = time.perf_counter() - t
    t = time.perf_counter()
    watch = Stopwatch()
    scored = score_profiles(engine, ws.models_dir, AS_OF, num_threads=args.threads, stopwatch=watch)
    score_seconds = time.perf_counter() - t
    print("# Prediction benchmark: features and scoring at scale\n")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, 24 GB; run {dt.datetime.now():%Y-%m-%d %H:%M}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after."
    )
    print(f"Data: {n_customers:,} customers, {n_events:,} events.\n")
    print("| step | seconds | target |\n| --- | ---: | --- |")
    print(
        f"| build_features ({features.shape[0]:,} × {features.shape[1]} columns) | {feature_seconds:.1f} | < 60 s |"
    )
    print(
        f"| score_profiles: churn + uplift + top-10 products for every profile | {score_seconds:.1f} | < 60 s |"
    )
    for kind, seconds in training.items():
        print(f"| (training {kind}, not in the target) | {seconds:.1f} | |")
    # The recommender's top-k runs in a background thread alongside the other parts.
    background = {"recommendations"}
    serial = {k: v for k, v in watch.seconds.items() if k not in background}
    print("\nInside score_profiles:\n")
    print("| part | seconds | share |\n| --- | ---: | ---: |")
    for part, seconds in serial.items():
        print(f"| {part} | {seconds:.1f} | {seconds / score_seconds:.0%} |")
    rest = score_seconds - sum(serial.values())
    print(f"| other (reading ids, bookkeeping) | {rest:.1f} | {rest / score_seconds:.0%} |")
    for part in sorted(background & set(watch.seconds)):
        seconds = watch.seconds[part]
        print(
            f"| {part}: background thread, overlaps features to uplift | {seconds:.1f} "
            f"| ({seconds / score_seconds:.0%}) |"
        )
    print(f"\nScored: {scored}")


if __name__ == "__main__":
    main()
