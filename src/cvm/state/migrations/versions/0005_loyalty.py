"""loyalty ledger, rewards catalogue and referrals

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEY = 200


def upgrade() -> None:
    op.create_table(
        "loyalty_accounts",
        sa.Column("customer_id", sa.String(KEY), primary_key=True),
        sa.Column("enrolled_at", sa.DateTime, nullable=False),
        sa.Column("balance", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deficit", sa.Integer, nullable=False, server_default="0"),
        sa.Column("earned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("redeemed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expired", sa.Integer, nullable=False, server_default="0"),
        sa.Column("adjusted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("referral_code", sa.String(32), unique=True),
        sa.Column("referred_by", sa.String(32)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(KEY), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(KEY), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.String(KEY), nullable=False, server_default=""),
        sa.Column("reference", sa.String(KEY)),
        sa.Column("reverses", sa.String(KEY), unique=True),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_loyalty_entries_customer_id", "loyalty_entries", ["customer_id"])
    op.create_table(
        "loyalty_lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_key", sa.String(KEY), nullable=False),
        sa.Column("customer_id", sa.String(KEY), nullable=False),
        sa.Column("account", sa.String(16), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_loyalty_lines_entry_key", "loyalty_lines", ["entry_key"])
    op.create_table(
        "loyalty_lots",
        sa.Column("key", sa.String(KEY), primary_key=True),
        sa.Column("customer_id", sa.String(KEY), nullable=False),
        sa.Column("earned_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("remaining", sa.Integer, nullable=False),
    )
    op.create_index("ix_loyalty_lots_customer", "loyalty_lots", ["customer_id", "remaining"])
    op.create_index("ix_loyalty_lots_expiry", "loyalty_lots", ["expires_at", "remaining"])
    op.create_table(
        "loyalty_lot_uses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_key", sa.String(KEY), nullable=False),
        sa.Column("lot_key", sa.String(KEY), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
    )
    op.create_index("ix_loyalty_lot_uses_entry_key", "loyalty_lot_uses", ["entry_key"])
    op.create_table(
        "loyalty_rewards",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("points_cost", sa.Integer, nullable=False),
        sa.Column("stock", sa.Integer),
        sa.Column("valid_from", sa.DateTime),
        sa.Column("valid_to", sa.DateTime),
        sa.Column("tier", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "loyalty_redemptions",
        sa.Column("key", sa.String(KEY), primary_key=True),
        sa.Column("reward_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(KEY), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_loyalty_redemptions_reward_id", "loyalty_redemptions", ["reward_id"])
    op.create_index("ix_loyalty_redemptions_customer_id", "loyalty_redemptions", ["customer_id"])
    op.create_table(
        "loyalty_referrals",
        sa.Column("referee_id", sa.String(KEY), primary_key=True),
        sa.Column("referrer_id", sa.String(KEY), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("enrolled_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("qualified_at", sa.DateTime),
        sa.Column("order_reference", sa.String(KEY)),
    )
    op.create_index("ix_loyalty_referrals_referrer_id", "loyalty_referrals", ["referrer_id"])


def downgrade() -> None:
    for table in (
        "loyalty_referrals",
        "loyalty_redemptions",
        "loyalty_rewards",
        "loyalty_lot_uses",
        "loyalty_lots",
        "loyalty_lines",
        "loyalty_entries",
        "loyalty_accounts",
    ):
        op.drop_table(table)
