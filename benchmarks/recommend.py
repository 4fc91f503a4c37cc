"""Benchmark: fit and score next-best-product recommenders at the scale of the issue.

Target (issue): score 1,000,000 customers with churn, uplift and top-10 products in under
60 s in total, so the top-10 part should take well under that. This script simulates
purchases with `simulate_baskets` (default 1M customers x 2,000 products, ~5M interactions),
then times:

1. ImplicitALSRecommender.fit (indexing the DataFrame + ALS factorisation);
2. ImplicitALSRecommender.recommend for every customer, top-10, with all eligibility rules
   (in stock, owned durables, cold start, popularity top-up);
3. the reference: implicit's own batched `recommend` on the same factors with
   `filter_already_liked_items=True` and out-of-stock products filtered (it drops *every*
   owned product, a slightly different rule, and returns position arrays, not a DataFrame);
4. optionally (--cooccurrence) ItemCoOccurrenceRecommender fit + recommend.

With --quality it instead prints the offline quality table of docs/recommendations.md: every
method under a time split on the basket simulator (3,000 customers, seed 11) and on the demo
company (`cvm.demo.generate_company`, 20,000 customers, seed 1, cutoff at 75% of the period),
there once with every customer who bought after the cutoff and once with returning ones only.

Usage: .venv/bin/python benchmarks/recommend.py [--customers 1000000] [--output FILE]
       .venv/bin/python benchmarks/recommend.py --quality [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cvm.predict.recommend import (
    BlendRecommender,
    ImplicitALSRecommender,
    ItemCoOccurrenceRecommender,
    OwnHistoryRecommender,
    PopularityRecommender,
    Recommender,
    evaluate_recommendations,
    simulate_baskets,
)


def _timed(label: str, timings: dict[str, tuple[float, float]], action):  # type: ignore[no-untyped-def]
    """Run `action`, recording wall seconds and CPU seconds (all threads of this process).

    CPU seconds barely move when other jobs share the cores; wall seconds do.
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    timings[label] = (time.perf_counter() - start, time.process_time() - cpu)
    print(f"{label}: {timings[label][0]:.1f} s wall, {timings[label][1]:.1f} s CPU", flush=True)
    return result


def _methods() -> dict[str, Recommender]:
    return {
        "popularity": PopularityRecommender(),
        "own history": OwnHistoryRecommender(),
        "co-occurrence (cosine)": ItemCoOccurrenceRecommender(),
        "co-occurrence (conditional)": ItemCoOccurrenceRecommender(similarity="conditional"),
        "ALS (defaults)": ImplicitALSRecommender(),
        "blend: own history + co-occurrence": BlendRecommender(
            [(OwnHistoryRecommender(), 1.0), (ItemCoOccurrenceRecommender(), 1.0)]
        ),
        "blend: ALS + co-occurrence": BlendRecommender(
            [(ImplicitALSRecommender(), 1.0), (ItemCoOccurrenceRecommender(), 1.0)]
        ),
    }


def quality() -> str:
    """Markdown table of time-split metrics on the simulator and the demo company."""
    from cvm.demo import generate_company

    sim = simulate_baskets(n_customers=3_000, n_products=200, n_categories=10, seed=11)
    company = generate_company(n_customers=20_000, seed=1)
    demo = company.transactions.to_pandas()
    first, last = demo["occurred_at"].min(), demo["occurred_at"].max()
    demo_split = (demo, company.products.to_pandas(), first + 0.75 * (last - first))
    datasets = {
        "simulator": (sim.interactions, sim.products, pd.Timestamp("2024-09-01"), True),
        "demo company": (*demo_split, True),
        "demo, returning customers": (*demo_split, False),
    }
    lines = [
        "| data | method | recall@10 | NDCG@10 | recall@10 new | NDCG@10 new "
        "| recall@10 repeat | coverage |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for data, (interactions, products, cutoff, cold) in datasets.items():
        for name, model in _methods().items():
            r = evaluate_recommendations(model, interactions, products, cutoff, cold_start=cold)
            lines.append(
                f"| {data} | {name} | {r.recall:.3f} | {r.ndcg:.3f} | {r.recall_new:.3f} "
                f"| {r.ndcg_new:.3f} | {r.recall_repeat:.3f} | {r.coverage:.2f} |"
            )
            print(lines[-1], flush=True)
        lines.append(
            f"| {data} | *customers scored* | {r.customers:,} ({r.cold_start:,} cold start) "
            f"| | {r.customers_new:,} | | {r.customers_repeat:,} | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--purchases", type=float, default=5.0, help="mean per customer")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cooccurrence", action="store_true", help="also time co-occurrence")
    parser.add_argument("--quality", action="store_true", help="offline metrics, not timing")
    parser.add_argument("--output", type=Path, help="write the markdown table here")
    args = parser.parse_args()
    if args.quality:
        table = quality()
        print("\n" + table)
        if args.output:
            args.output.write_text(table + "\n")
        return

    timings: dict[str, tuple[float, float]] = {}
    load_before = os.getloadavg()
    sim = _timed(
        "simulate purchases",
        timings,
        lambda: simulate_baskets(
            n_customers=args.customers,
            n_products=args.products,
            n_categories=40,
            purchases_per_customer=args.purchases,
            seed=args.seed,
        ),
    )
    interactions, products = sim.interactions, sim.products
    customers = interactions["customer_id"].unique()
    print(f"{len(interactions):,} interactions, {len(customers):,} customers", flush=True)

    als = ImplicitALSRecommender(
        factors=args.factors,
        iterations=args.iterations,
        num_threads=args.threads,
        random_state=args.seed,
    )
    _timed("ALS fit", timings, lambda: als.fit(interactions, products))
    recs = _timed(
        "ALS recommend top-10, all customers",
        timings,
        lambda: als.recommend(customers, n=args.n, batch_size=args.batch_size),
    )
    assert recs["customer_id"].nunique() == len(customers)

    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        reference = AlternatingLeastSquares(factors=args.factors, num_threads=args.threads)
    reference.user_factors, reference.item_factors = als.user_factors_, als.item_factors_
    rows = pd.Index(als.customer_ids_).get_indexer(customers)
    out_of_stock = np.flatnonzero(~als.in_stock_).astype(np.int32)

    def implicit_recommend() -> None:
        with threadpool_limits(1, "blas"):
            for start in range(0, len(rows), args.batch_size):
                part = rows[start : start + args.batch_size]
                reference.recommend(
                    part,
                    als.user_items_[part],
                    N=args.n,
                    filter_already_liked_items=True,
                    filter_items=out_of_stock,
                )

    _timed("implicit recommend (reference), all customers", timings, implicit_recommend)

    if args.cooccurrence:
        co = ItemCoOccurrenceRecommender()
        _timed("co-occurrence fit", timings, lambda: co.fit(interactions, products))
        _timed(
            "co-occurrence recommend top-10, all customers",
            timings,
            lambda: co.recommend(customers, n=args.n, batch_size=args.batch_size),
        )

    ratio = (
        timings["ALS recommend top-10, all customers"][0]
        / timings["implicit recommend (reference), all customers"][0]
    )
    load_after = os.getloadavg()
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{' '.join(sys.argv)}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM; "
        "Python " + platform.python_version() + ". "
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.1f}' for x in load_after)} (other people's jobs ran on the "
        "same 2 cores when it is above ~2).",
        "",
        f"Data: {len(customers):,} customers, {args.products:,} products, "
        f"{len(interactions):,} interactions ({als.user_items_.nnz:,} distinct pairs); "
        f"ALS factors={args.factors}, iterations={args.iterations}, threads={args.threads}.",
        "",
        "| step | wall s | CPU s |",
        "|---|---:|---:|",
        *[f"| {label} | {wall:.1f} | {cpu:.1f} |" for label, (wall, cpu) in timings.items()],
        "",
        f"ALS top-10 with cvm's eligibility rules / implicit's own recommend: {ratio:.2f}x wall time.",
    ]
    table = "\n".join(lines)
    print("\n" + table)
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
