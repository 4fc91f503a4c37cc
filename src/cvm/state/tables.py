"""Operational tables (SQLAlchemy 2 Core). Schema changes go through Alembic migrations in
`cvm/state/migrations/versions`; this module is the current shape they produce."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(16), nullable=False),
    # Only a hash is stored; the secret is shown once at creation.
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
)

stage_runs = Table(
    "stage_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("stage", String(64), nullable=False, index=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("summary", JSON),
    Column("error", Text),
)

schema_info = Table(
    "schema_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256)),
    Column("revision", Integer),
)

# --- Live collection, identity, consent and privacy (migration 0002) -----------------------
# Kept in one block so a later migration (0003) can append below without touching it.
from sqlalchemy import Boolean, Index, UniqueConstraint, text  # noqa: E402

intake_batches = Table(
    "intake_batches",
    metadata,
    # One row per accepted request, committed (fsync) before the API answers 200.
    # seq orders the log; the loader moves rows to the warehouse in seq order.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32)),
    Column("received_at", DateTime, nullable=False),
    # None for /v1/batch; the call type for /v1/identify, /v1/track, ...
    Column("kind", String(16)),
    Column("event_count", Integer, nullable=False),
    # Indexes of the messages refused at the door (JSON list), skipped by the loader.
    Column("rejected", JSON),
    # The body as received (decompressed, writeKey blanked); emptied once loaded.
    Column("payload", Text),
    Column("loaded_at", DateTime),
    Index("ix_intake_batches_loaded", "loaded_at", "seq"),
)

intake_rejects = Table(
    "intake_rejects",
    metadata,
    # Refused messages, reason only: their bodies may hold personal data we did not accept.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime, nullable=False, index=True),
    Column("key_id", String(32)),
    Column("batch_index", Integer),
    Column("type", String(32)),
    Column("reason", String(500), nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True),
    # user_id, anonymous_id, email, phone, or external:<system>
    Column("kind", String(64), nullable=False),
    Column("value", String(320), nullable=False),
    Column("customer_id", String(200), nullable=False, index=True),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    # The first user id (identity id) seen with this identifier; later ones go to
    # identity_sightings, so the common one-person identifier costs no extra row.
    Column("first_user_id", Integer),
    # Set when the row changed and the warehouse mirror has not caught up yet.
    Column("mirror_pending", Boolean, nullable=False, default=True),
    UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
    # Partial: only pending rows are indexed, so bulk loads that mirror at once cost nothing.
    Index(
        "ix_identities_mirror_pending",
        "mirror_pending",
        sqlite_where=text("mirror_pending"),
        postgresql_where=text("mirror_pending"),
    ),
)

identity_customers = Table(
    "identity_customers",
    metadata,
    Column("customer_id", String(200), primary_key=True),
    # The identifier that created the customer; unmerge keeps each anchor with its own id.
    Column("anchor_id", Integer, nullable=False),
    Column("has_user", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("merged_into", String(200), index=True),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("from_id", Integer, nullable=False, index=True),
    Column("to_id", Integer, nullable=False, index=True),
    # identify, alias, track, ingest
    Column("reason", String(32), nullable=False),
    # active (joins the two), refused (two user ids), blocked (shared identifier), unmerged
    Column("status", String(16), nullable=False),
    Column("event_id", String(200)),
    Column("created_at", DateTime, nullable=False),
)

identity_merges = Table(
    "identity_merges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kept_customer_id", String(200), nullable=False, index=True),
    Column("merged_customer_id", String(200), nullable=False, index=True),
    Column("link_id", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    # Kind of the identifier that joined the two (never its value: merges are kept for audit).
    Column("via_kind", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("undone_at", DateTime),
)

identity_sightings = Table(
    "identity_sightings",
    metadata,
    # Further user ids an identifier was seen with, after `identities.first_user_id`
    # (kept up to the guard limit + 1).
    Column("identity_id", Integer, primary_key=True),
    Column("user_identity_id", Integer, primary_key=True),
)

trait_values = Table(
    "trait_values",
    metadata,
    # Anchored on the identifier that sent them, so traits follow it through merge and unmerge.
    Column("identity_id", Integer, primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("value", JSON),
    Column("source", String(64), nullable=False),
    Column("observed_at", DateTime, nullable=False),
)

consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity_id", Integer, nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("source", String(64), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("mirror_pending", Boolean, nullable=False, default=True, index=True),
    UniqueConstraint(
        "identity_id", "channel", "purpose", "occurred_at", "status", name="uq_consent_records"
    ),
)

erasures = Table(
    "erasures",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("erased_at", DateTime, nullable=False),
    # Salted SHA-256 of each erased identifier: proves the erasure without keeping the data.
    Column("identifier_hashes", JSON, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("requested_by", String(64)),
)

workspace_secrets = Table(
    "workspace_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

# --- Campaigns, outbox, delivery (migration 0003) -------------------------------------------

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # draft → active → paused ⇄ active → stopped | completed
    Column("status", String(16), nullable=False),
    # The validated definition (cvm.campaigns.campaign.Campaign) as JSON.
    Column("definition", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("launched_at", DateTime),
    Column("stopped_at", DateTime),
)

campaign_runs = Table(
    "campaign_runs",
    metadata,
    # One row per occurrence (a launch, one day of a recurring campaign); re-running the same
    # occurrence resumes it (the outbox keys make the second pass add nothing).
    Column("id", String(32), primary_key=True),
    Column("campaign_id", String(64), nullable=False),
    Column("occurrence", String(64), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("summary", JSON),
    UniqueConstraint("campaign_id", "occurrence", name="uq_campaign_runs_occurrence"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256(campaign | customer | step)[:32]: the unique key, the provider's idempotency key
    # and the e-mail Message-ID, so a resend after a crash is recognisable downstream.
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("campaign_id", String(64), nullable=False, index=True),
    Column("run_id", String(32)),
    Column("customer_id", String(200), nullable=False, index=True),
    Column("step", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("address", String(320), nullable=False),
    Column("language", String(16)),
    Column("time_zone", String(64)),
    Column("subject", Text),
    Column("body", Text),
    Column("html", Text),
    Column("meta", JSON),
    # queued, paused, sending, sent, dead, cancelled, skipped
    Column("status", String(16), nullable=False),
    Column("not_before", DateTime, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", DateTime),
    Column("worker", String(64)),
    Column("sent_at", DateTime),
    Column("provider_id", String(200)),
    Column("last_error", Text),
    # "Wait for event E, else send": a matching event after cancel_after cancels the message.
    Column("cancel_event", String(200)),
    Column("cancel_after", DateTime),
    # Set on every status change the warehouse contact_history has not seen yet.
    Column("history_pending", Boolean, nullable=False, default=True),
    Index("ix_outbox_claim", "status", "not_before", "id"),
    Index("ix_outbox_provider_id", "provider_id"),
    Index(
        "ix_outbox_history_pending",
        "history_pending",
        sqlite_where=text("history_pending"),
        postgresql_where=text("history_pending"),
    ),
)

message_events = Table(
    "message_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Deterministic for one-off facts (key:sent) so a repeat after a crash adds nothing.
    Column("event_id", String(100), nullable=False, unique=True),
    Column("message_key", String(64), nullable=False, index=True),
    Column("campaign_id", String(64)),
    Column("customer_id", String(200)),
    Column("channel", String(16), nullable=False),
    # sent, delivered, opened, clicked, bounced, complained, unsubscribed, failed
    Column("event", String(32), nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("properties", JSON),
    Column("mirror_pending", Boolean, nullable=False, default=True),
    Index(
        "ix_message_events_mirror_pending",
        "mirror_pending",
        sqlite_where=text("mirror_pending"),
        postgresql_where=text("mirror_pending"),
    ),
)

suppressions = Table(
    "suppressions",
    metadata,
    # Addresses never sent to again on that channel (hard bounce, complaint, manual).
    Column("channel", String(16), primary_key=True),
    Column("address", String(320), primary_key=True),
    Column("reason", String(32), nullable=False),
    Column("detail", String(500)),
    Column("created_at", DateTime, nullable=False),
)

campaign_entries = Table(
    "campaign_entries",
    metadata,
    # Trigger bookkeeping per (campaign, customer): re-entry rules and score-crossing state.
    Column("campaign_id", String(64), primary_key=True),
    Column("customer_id", String(200), primary_key=True),
    Column("entries", Integer, nullable=False),
    Column("first_at", DateTime, nullable=False),
    Column("last_at", DateTime, nullable=False),
    Column("above", Boolean),
)

campaign_cursors = Table(
    "campaign_cursors",
    metadata,
    # Named watermarks: segment-transition cursors, and `triggers_seen_until` (every event
    # received before it has been checked for cancellations).
    Column("name", String(128), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# --- Dashboard users, sessions and the audit log (migration 0004) --------------------------
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    # argon2id hash (argon2-cffi): a password is a low-entropy secret, so a slow hash.
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
    Column("last_login_at", DateTime),
    # Lockout: `failed_logins` consecutive failures; `locked_until` set at the threshold.
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    # SHA-256 of the random session id in the cookie: a stolen table opens no session.
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(300)),
    Column("detail", JSON),
)
