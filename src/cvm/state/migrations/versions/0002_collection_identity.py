"""live collection, identity graph, traits, consents, privacy

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_batches",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.String(32)),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("rejected", sa.JSON),
        sa.Column("payload", sa.Text),
        sa.Column("loaded_at", sa.DateTime),
    )
    op.create_index("ix_intake_batches_loaded", "intake_batches", ["loaded_at", "seq"])
    op.create_table(
        "intake_rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime, nullable=False, index=True),
        sa.Column("key_id", sa.String(32)),
        sa.Column("batch_index", sa.Integer),
        sa.Column("type", sa.String(32)),
        sa.Column("reason", sa.String(500), nullable=False),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False, index=True),
        sa.Column("blocked", sa.Boolean, nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("first_user_id", sa.Integer),
        sa.Column("mirror_pending", sa.Boolean, nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
    )
    op.create_index(
        "ix_identities_mirror_pending",
        "identities",
        ["mirror_pending"],
        sqlite_where=sa.text("mirror_pending"),
        postgresql_where=sa.text("mirror_pending"),
    )
    op.create_table(
        "identity_customers",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("anchor_id", sa.Integer, nullable=False),
        sa.Column("has_user", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("merged_into", sa.String(200), index=True),
    )
    op.create_table(
        "identity_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("from_id", sa.Integer, nullable=False, index=True),
        sa.Column("to_id", sa.Integer, nullable=False, index=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "identity_merges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kept_customer_id", sa.String(200), nullable=False, index=True),
        sa.Column("merged_customer_id", sa.String(200), nullable=False, index=True),
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("via_kind", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("undone_at", sa.DateTime),
    )
    op.create_table(
        "identity_sightings",
        sa.Column("identity_id", sa.Integer, primary_key=True),
        sa.Column("user_identity_id", sa.Integer, primary_key=True),
    )
    op.create_table(
        "trait_values",
        sa.Column("identity_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("observed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("identity_id", sa.Integer, nullable=False, index=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("mirror_pending", sa.Boolean, nullable=False, index=True),
        sa.UniqueConstraint(
            "identity_id", "channel", "purpose", "occurred_at", "status", name="uq_consent_records"
        ),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
        sa.Column("identifier_hashes", sa.JSON, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.String(64)),
    )
    op.create_table(
        "workspace_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "workspace_secrets",
        "erasures",
        "consent_records",
        "trait_values",
        "identity_sightings",
        "identity_merges",
        "identity_links",
        "identity_customers",
        "identities",
        "intake_rejects",
    ):
        op.drop_table(table)
    op.drop_index("ix_intake_batches_loaded", table_name="intake_batches")
    op.drop_table("intake_batches")
