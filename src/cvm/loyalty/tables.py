"""The warehouse tables the loyalty stage writes: mirrors of the ledger (which lives in the
state store) for analytics, the tier timeline, the profile fields and the run log.

The ledger is the truth; these are rebuilt or appended by `cvm.loyalty.stage` on every run, so
segments, models and the report read loyalty data with SQL next to everything else.
"""

from __future__ import annotations

import pyarrow as pa

from cvm.core.contracts import Column, TableContract
from cvm.engine.base import Engine

LOYALTY_ACCOUNTS = TableContract(
    name="loyalty_accounts",
    description="Mirror of the ledger's member accounts: balance and running totals per member.",
    key=("customer_id",),
    columns=(
        Column("customer_id", "text", "Member.", required=True),
        Column("enrolled_at", "timestamp", "When the member joined (UTC).", required=True),
        Column("balance", "integer", "Points balance (negative only if the programme allows)."),
        Column("earned", "integer", "Points earned, net of reversals."),
        Column("redeemed", "integer", "Points redeemed (positive), net of reversals."),
        Column("expired", "integer", "Points expired (positive)."),
        Column("adjusted", "integer", "Net manual adjustments and return claw-backs."),
        Column("referred_by", "text", "Referral code the member joined with."),
        Column("mirrored_at", "timestamp", "When the stage copied the row (UTC)."),
    ),
)

LOYALTY_ENTRIES = TableContract(
    name="loyalty_entries",
    description=(
        "Mirror of the ledger's journal lines (append-only, by line id): each entry has a line on "
        "the `member` account and one on a programme account, summing to zero."
    ),
    key=("id",),
    columns=(
        Column("id", "integer", "Journal line id in the ledger.", required=True),
        Column("entry_key", "text", "Idempotency key of the entry.", required=True),
        Column("customer_id", "text", "Member.", required=True),
        Column("account", "text", "`member`, `issued`, `redeemed`, `breakage`, `adjustments`."),
        Column("points", "integer", "Signed points on this account."),
        Column("at", "timestamp", "When the posting happened (UTC)."),
        Column("kind", "text", "`earn`, `redeem`, `expire`, `adjust`, `reverse`."),
        Column("reason", "text", "Rule, reward or campaign."),
        Column("reference", "text", "Order, reward or campaign id."),
        Column("reverses", "text", "Key of the entry a reversal undoes."),
    ),
)

LOYALTY_TIERS = TableContract(
    name="loyalty_tiers",
    description="Tier timeline: one row per member and span held (`valid_to` NULL while it lasts).",
    key=("customer_id", "valid_from"),
    columns=(
        Column("customer_id", "text", "Member.", required=True),
        Column("tier", "text", "Tier name from loyalty.yaml.", required=True),
        Column("valid_from", "date", "First day in the tier.", required=True),
        Column("valid_to", "date", "Day the member left the tier (exclusive), NULL if current."),
        Column("reason", "text", "Why the member got the tier."),
        Column("rolling_total", "double", "Rolling spend or points on the day of the change."),
    ),
)

LOYALTY_PROFILE = TableContract(
    name="loyalty_profile",
    description=(
        "Loyalty fields per customer, joined into `customer_360` for segments, offers and models "
        "(non-members have `loyalty_member` false and the other fields NULL)."
    ),
    key=("customer_id",),
    columns=(
        Column("customer_id", "text", "Customer.", required=True),
        Column("loyalty_member", "boolean", "Enrolled in the loyalty programme."),
        Column("loyalty_enrolled_at", "timestamp", "When the customer joined."),
        Column("loyalty_points_balance", "integer", "Points balance."),
        Column("loyalty_tier", "text", "Current tier."),
        Column("loyalty_redemptions_12m", "integer", "Redemptions in the last 12 months."),
        Column("loyalty_last_redeemed_at", "timestamp", "Last redemption (not reversed)."),
        Column("loyalty_free_shipping", "boolean", "The current tier gives free shipping."),
        Column("loyalty_earn_multiplier", "double", "The current tier's earn multiplier."),
    ),
)

LOYALTY_RUNS = TableContract(
    name="loyalty_runs",
    description="One row per loyalty stage run: the window it earned and what it posted.",
    key=("run_id",),
    columns=(
        Column("run_id", "text", "Run id.", required=True),
        Column("since", "timestamp", "Earliest order time considered (UTC)."),
        Column("until", "timestamp", "Exclusive end of the orders considered (UTC)."),
        Column("posted", "integer", "Postings written."),
        Column("duplicates", "integer", "Postings already in the ledger (reruns)."),
        Column("rejected", "integer", "Postings the ledger refused."),
        Column("expired", "integer", "Lots expired."),
        Column("finished_at", "timestamp", "When the run finished (UTC)."),
    ),
)

_ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "integer": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def arrow_schema(contract: TableContract) -> pa.Schema:
    """The Arrow schema a mirror batch is built with, so empty batches keep their types."""
    return pa.schema([(c.name, _ARROW_TYPES[c.type]) for c in contract.all_columns])


def ensure_loyalty_tables(engine: Engine) -> None:
    for contract in (LOYALTY_ACCOUNTS, LOYALTY_ENTRIES, LOYALTY_TIERS, LOYALTY_RUNS):
        engine.ensure_table(contract)
