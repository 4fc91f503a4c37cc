"""Loyalty programme tables (migration 0005), on the same `metadata` as `cvm.state.tables`.

The journal (`loyalty_entries` + `loyalty_lines`) is append-only: a posting is never edited,
only reversed by a new entry. `loyalty_accounts`, `loyalty_lots` and `loyalty_lot_uses` are
the sub-ledgers the journal implies (balances, earn lots and what consumed them), kept in the
same transaction so a balance check never has to sum the whole journal.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, true

from cvm.state.tables import metadata

KEY = 200  # idempotency keys, customer ids and references share the identifiers' length

loyalty_accounts = Table(
    "loyalty_accounts",
    metadata,
    Column("customer_id", String(KEY), primary_key=True),
    Column("enrolled_at", DateTime, nullable=False),
    # balance = sum(open lots' remaining) - deficit; deficit > 0 only with allow_negative.
    Column("balance", Integer, nullable=False, server_default="0"),
    Column("deficit", Integer, nullable=False, server_default="0"),
    # Running totals net of reversals (redeemed and expired as positive numbers).
    Column("earned", Integer, nullable=False, server_default="0"),
    Column("redeemed", Integer, nullable=False, server_default="0"),
    Column("expired", Integer, nullable=False, server_default="0"),
    Column("adjusted", Integer, nullable=False, server_default="0"),
    Column("referral_code", String(32), unique=True),
    Column("referred_by", String(32)),
    Column("updated_at", DateTime, nullable=False),
)

loyalty_entries = Table(
    "loyalty_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(KEY), nullable=False, unique=True),
    Column("customer_id", String(KEY), nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("points", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("reason", String(KEY), nullable=False, server_default=""),
    Column("reference", String(KEY)),
    # The key of the entry this one reverses; unique, so an entry is reversed at most once
    # even by two concurrent reversals under different keys.
    Column("reverses", String(KEY), unique=True),
    Column("expires_at", DateTime),
    Column("recorded_at", DateTime, nullable=False),
)

loyalty_lines = Table(
    "loyalty_lines",
    metadata,
    # Journal lines: each entry has one line on the member account and one on a programme
    # account (issued, redeemed, breakage, adjustments), summing to zero.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_key", String(KEY), nullable=False, index=True),
    Column("customer_id", String(KEY), nullable=False),
    Column("account", String(16), nullable=False),
    Column("points", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
)

loyalty_lots = Table(
    "loyalty_lots",
    metadata,
    # One lot per credit (earn, positive adjust, ...): consumed first-in first-out by expiry.
    Column("key", String(KEY), primary_key=True),
    Column("customer_id", String(KEY), nullable=False),
    Column("earned_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("points", Integer, nullable=False),
    Column("remaining", Integer, nullable=False),
    Index("ix_loyalty_lots_customer", "customer_id", "remaining"),
    Index("ix_loyalty_lots_expiry", "expires_at", "remaining"),
)

loyalty_lot_uses = Table(
    "loyalty_lot_uses",
    metadata,
    # Which lots a debit consumed, so its reversal gives the points back to the same lots.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_key", String(KEY), nullable=False, index=True),
    Column("lot_key", String(KEY), nullable=False),
    Column("points", Integer, nullable=False),
)

loyalty_rewards = Table(
    "loyalty_rewards",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("points_cost", Integer, nullable=False),
    # None = unlimited; decremented by a guarded UPDATE (stock > 0) in the redemption's
    # transaction, so concurrent redemptions never oversell.
    Column("stock", Integer),
    Column("valid_from", DateTime),
    Column("valid_to", DateTime),
    Column("tier", String(64)),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("updated_at", DateTime, nullable=False),
)

loyalty_redemptions = Table(
    "loyalty_redemptions",
    metadata,
    Column("key", String(KEY), primary_key=True),
    Column("reward_id", String(64), nullable=False, index=True),
    Column("customer_id", String(KEY), nullable=False, index=True),
    Column("points", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
)

loyalty_referrals = Table(
    "loyalty_referrals",
    metadata,
    # A customer is referred at most once: the referee is the key.
    Column("referee_id", String(KEY), primary_key=True),
    Column("referrer_id", String(KEY), nullable=False, index=True),
    Column("code", String(32), nullable=False),
    Column("enrolled_at", DateTime, nullable=False),
    # pending → qualified | rejected (the fraud guard's reason in `reason`)
    Column("status", String(16), nullable=False),
    Column("reason", String(200)),
    Column("qualified_at", DateTime),
    Column("order_reference", String(KEY)),
)
