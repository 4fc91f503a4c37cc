"""The demo company's loyalty programme: members, their points, tiers and redemptions.

`install_demo_loyalty(ws)` runs after the demo data is loaded (`load_company_into` /
`cvm demo`). It writes the programme (`loyalty_programme.yaml`, the same file as
`examples/demo/loyalty.yaml`) into the workspace, then:

- **enrolment**: the programme launches on `LAUNCH`; a customer's chance to join grows with
  how often they buy (``p = 2 × share × percentile rank of their order count``, so about
  ``share`` of buyers join and frequent buyers far more often), and they join at the checkout
  of a random order of theirs after the launch (one minute before it, so that order earns);
- **history in half-years**: the loyalty stage runs at the end of every half-year, and in
  between, members with enough points redeem a reward of the demo catalogue (chance
  ``redeem_share`` per half-year, the dearest reward they can afford, on a random day of the
  half-year after they joined) through the ledger helper's rewards catalogue, so expiry,
  tiers and redemptions interleave as they would have;
- a last stage run mirrors everything for the report.

All randomness comes from ``seed``.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cvm.core.errors import ConflictError
from cvm.engine.sql import bind
from cvm.loyalty.programme import PROGRAMME_FILE, add_months, load_programme
from cvm.loyalty.stage import run_loyalty_stage
from cvm.loyalty.tier_check import meets_tier, tier_ranks
from cvm.state.loyalty_ledger import LoyaltyLedger
from cvm.state.loyalty_rewards import Reward, RewardsCatalogue
from cvm.workspace import Workspace

LAUNCH = dt.datetime(2023, 1, 1)
REWARDS = (
    Reward("coffee", "Free coffee", 40),
    Reward("voucher_5", "5.00 voucher", 100),
    Reward("tote_bag", "Branded tote bag", 180, stock=150),
    Reward("gold_gift", "Gold members' gift box", 250, tier="gold"),
)

_ORDERS = """
SELECT customer_id, transaction_id, MIN(occurred_at) AS at
FROM transactions
WHERE amount > 0 AND occurred_at < :end
GROUP BY customer_id, transaction_id
ORDER BY customer_id, at, transaction_id
"""


def demo_programme_text() -> str:
    """The demo programme (identical to `examples/demo/loyalty.yaml`)."""
    return resources.files("cvm.demo").joinpath("loyalty_programme.yaml").read_text("utf-8")


def choose_members(
    orders: pd.DataFrame, launch: dt.datetime, share: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Who joins and when (see the module docstring); columns customer_id, enrolled_at."""
    counts = orders.groupby("customer_id")["transaction_id"].nunique()
    p = np.clip(2 * share * counts.rank(pct=True), 0, 0.95)
    joiners = set(counts.index[rng.random(len(counts)) < p.to_numpy()])
    after = orders[(orders["at"] >= launch) & orders["customer_id"].isin(joiners)]
    picked = after.sample(frac=1.0, random_state=rng).drop_duplicates("customer_id")
    out = picked.assign(enrolled_at=picked["at"] - pd.Timedelta(minutes=1))
    return out[["customer_id", "enrolled_at"]].sort_values("customer_id", ignore_index=True)


def _redeem_half_year(
    ws: Workspace,
    catalogue: RewardsCatalogue,
    start: dt.datetime,
    end: dt.datetime,
    redeem_share: float,
    rng: np.random.Generator,
) -> int:
    # Current tiers read once (the stage just wrote them), not one query per redemption.
    ranks = tier_ranks(load_programme(ws.root))
    tiers = {
        str(cid): str(tier)
        for cid, tier in ws.engine.fetch_rows(
            "SELECT customer_id, tier FROM loyalty_tiers WHERE valid_to IS NULL"
        )
    }

    def check(customer_id: str, required: str) -> bool:
        return meets_tier(tiers.get(customer_id), required, ranks)

    rows = ws.engine.fetch_rows(
        "SELECT customer_id, balance, enrolled_at FROM loyalty_accounts ORDER BY customer_id"
    )
    rewards = sorted(REWARDS, key=lambda r: r.points_cost, reverse=True)
    done = 0
    for customer_id, raw_balance, enrolled_at in rows:
        cid, balance = str(customer_id), int(str(raw_balance))
        if rng.random() >= redeem_share or balance < rewards[-1].points_cost:
            continue
        assert isinstance(enrolled_at, dt.datetime)
        first = max(start, enrolled_at)
        if first >= end:
            continue
        at = first + (end - first) * float(rng.random())
        for reward in rewards:
            if reward.points_cost > balance or (reward.tier and not check(cid, reward.tier)):
                continue
            try:
                catalogue.redeem(cid, reward.id, f"demo:{cid}:{start:%Y%m}", at, check)
            except ConflictError:  # out of stock: the next reward
                continue
            done += 1
            break
    return done


def install_demo_loyalty(
    ws: Workspace,
    *,
    seed: int = 42,
    share: float = 0.35,
    redeem_share: float = 0.5,
    programme_file: Path | None = None,
) -> dict[str, Any]:
    """Give the demo workspace a loyalty programme with history (module docstring)."""
    text = programme_file.read_text("utf-8") if programme_file else demo_programme_text()
    (ws.root / PROGRAMME_FILE).write_text(text, encoding="utf-8")
    last = ws.engine.fetch_scalar("SELECT MAX(occurred_at) FROM transactions")
    if not isinstance(last, dt.datetime):
        raise ConflictError("the demo warehouse has no transactions: load the demo data first")
    end = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
    rng = np.random.default_rng(seed)
    orders = ws.engine.fetch_arrow(bind(_ORDERS, end=end)).to_pandas()
    members = choose_members(orders, LAUNCH, share, rng)
    ledger = LoyaltyLedger(ws.state)
    ledger.enroll_many(list(zip(members["customer_id"], members["enrolled_at"], strict=True)))
    catalogue = RewardsCatalogue(ledger)
    catalogue.load(list(REWARDS))
    redeemed = 0
    start = LAUNCH
    while start < end:
        stop = min(add_months(start, 6), end)
        run_loyalty_stage(ws, stop)
        if stop < end:
            redeemed += _redeem_half_year(
                ws, catalogue, stop, min(add_months(stop, 6), end), redeem_share, rng
            )
        start = stop
    final = run_loyalty_stage(ws, end)
    assert final is not None
    return {
        "members": final.members,
        "customers with orders": int(orders["customer_id"].nunique()),
        "redemptions": redeemed,
        "points outstanding": ledger.liability(),
        "tiers": final.tiers,
    }
