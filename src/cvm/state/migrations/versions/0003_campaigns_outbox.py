"""campaigns, message outbox, delivery events, suppressions, trigger bookkeeping

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("launched_at", sa.DateTime),
        sa.Column("stopped_at", sa.DateTime),
    )
    op.create_table(
        "campaign_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("occurrence", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.JSON),
        sa.UniqueConstraint("campaign_id", "occurrence", name="uq_campaign_runs_occurrence"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("campaign_id", sa.String(64), nullable=False, index=True),
        sa.Column("run_id", sa.String(32)),
        sa.Column("customer_id", sa.String(200), nullable=False, index=True),
        sa.Column("step", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("html", sa.Text),
        sa.Column("meta", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("not_before", sa.DateTime, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("worker", sa.String(64)),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("provider_id", sa.String(200)),
        sa.Column("last_error", sa.Text),
        sa.Column("cancel_event", sa.String(200)),
        sa.Column("cancel_after", sa.DateTime),
        sa.Column("history_pending", sa.Boolean, nullable=False),
    )
    op.create_index("ix_outbox_claim", "outbox", ["status", "not_before", "id"])
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"])
    op.create_index(
        "ix_outbox_history_pending",
        "outbox",
        ["history_pending"],
        sqlite_where=sa.text("history_pending"),
        postgresql_where=sa.text("history_pending"),
    )
    op.create_table(
        "message_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(100), nullable=False, unique=True),
        sa.Column("message_key", sa.String(64), nullable=False, index=True),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("properties", sa.JSON),
        sa.Column("mirror_pending", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_message_events_mirror_pending",
        "message_events",
        ["mirror_pending"],
        sqlite_where=sa.text("mirror_pending"),
        postgresql_where=sa.text("mirror_pending"),
    )
    op.create_table(
        "suppressions",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(500)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "campaign_entries",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("first_at", sa.DateTime, nullable=False),
        sa.Column("last_at", sa.DateTime, nullable=False),
        sa.Column("above", sa.Boolean),
    )
    op.create_table(
        "campaign_cursors",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("campaign_cursors", "campaign_entries", "suppressions"):
        op.drop_table(table)
    op.drop_index("ix_message_events_mirror_pending", table_name="message_events")
    op.drop_table("message_events")
    op.drop_index("ix_outbox_history_pending", table_name="outbox")
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("campaign_runs")
    op.drop_table("campaigns")
