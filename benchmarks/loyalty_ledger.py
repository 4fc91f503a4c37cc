"""Loyalty ledger throughput: one batch of earn postings (the demo posts ~100k at once), its
idempotent retry, a batch of redemptions, and expiry, on SQLite or PostgreSQL.

    .venv/bin/python benchmarks/loyalty_ledger.py --postings 100000 --members 20000
    .venv/bin/python benchmarks/loyalty_ledger.py --state-url postgresql://user@host/db
    .venv/bin/python benchmarks/loyalty_ledger.py --throwaway-postgres   # needs initdb/pg_ctl
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.store import connect_state, upgrade_state

T0 = datetime(2024, 1, 1)


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"| {label} | {seconds:.2f} | {result} |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postings", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--state-url", default=None)
    parser.add_argument("--throwaway-postgres", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with ExitStack() as stack:
        url = args.state_url
        if args.throwaway_postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.postgres_cluster import throwaway_cluster

            url = stack.enter_context(throwaway_cluster())
        if url is None:
            url = f"sqlite:///{tempfile.mkdtemp(prefix='cvm-ledger-')}/state.sqlite"
        engine = connect_state(url)
        upgrade_state(engine)
        ledger = LoyaltyLedger(engine)
        members = [f"m{i:07d}" for i in range(args.members)]
        print(
            f"backend: {engine.dialect.name}; {args.postings:,} earn postings, {args.members:,} members\n"
        )
        print("| step | seconds | result |\n| --- | ---: | --- |")
        timed(
            "enroll members (one batch)",
            lambda: sum(ledger.enroll_many([(m, T0) for m in members])),
        )
        earns = []
        for i in range(args.postings):
            at = T0 + timedelta(minutes=rng.randrange(365 * 24 * 60))
            earns.append(
                Posting(f"order-{i}", rng.choice(members), "earn", rng.randint(1, 500), at,
                        "order", expires_at=at + timedelta(days=365))
            )  # fmt: skip
        timed("earn batch", lambda: ledger.post(earns).posted)
        timed("same batch again (all duplicates)", lambda: ledger.post(earns).duplicates)
        redeems = [
            Posting(f"redeem-{i}", m, "redeem", -rng.randint(1, 300), T0 + timedelta(days=366), "reward")
            for i, m in enumerate(rng.sample(members, min(10_000, len(members))))
        ]  # fmt: skip
        timed("10k redemptions (FIFO over lots)", lambda: ledger.post(redeems).posted)
        timed(
            "expire all lots due after a year",
            lambda: ledger.expire(T0 + timedelta(days=800)).posted,
        )
        timed("liability after expiry", ledger.liability)
        engine.dispose()


if __name__ == "__main__":
    main()
