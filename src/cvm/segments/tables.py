"""The warehouse tables segmentation owns: definitions, current members, history, transitions.

Campaign triggers subscribe to `segment_transitions` (read rows with ``at`` or ``refresh_id``
after the last one they handled); the report reads `segment_membership` and its history.
"""

from __future__ import annotations

from cvm.core.contracts import Column, TableContract
from cvm.engine.base import Engine

SEGMENT_DEFINITIONS = TableContract(
    name="segment_definitions",
    description="Stored segment definitions: the rule tree as JSON, one row per segment name.",
    key=("name",),
    columns=(
        Column("name", "text", "Segment name (unique).", required=True),
        Column(
            "definition",
            "json",
            "The full definition (name, description, tags, rule).",
            required=True,
        ),
        Column("description", "text", "Plain-words description (copied for listing)."),
        Column("builtin", "boolean", "Installed by cvm (still editable)."),
        Column("created_at", "timestamp", "When the segment was first saved (UTC)."),
        Column("updated_at", "timestamp", "When the definition last changed (UTC)."),
    ),
)

SEGMENT_MEMBERSHIP = TableContract(
    name="segment_membership",
    description="Current members of every refreshed segment.",
    key=("segment", "customer_id"),
    columns=(
        Column("segment", "text", "Segment name.", required=True),
        Column("customer_id", "text", "Member.", required=True),
        Column(
            "entered_at",
            "timestamp",
            "`as_of` of the refresh that added the customer.",
            required=True,
        ),
    ),
)

SEGMENT_MEMBERSHIP_HISTORY = TableContract(
    name="segment_membership_history",
    description="Every stay of a customer in a segment; `exited_at` is NULL while it lasts.",
    key=("segment", "customer_id", "entered_at"),
    columns=(
        Column("segment", "text", "Segment name.", required=True),
        Column("customer_id", "text", "Customer.", required=True),
        Column("entered_at", "timestamp", "Entry (the refresh's `as_of`).", required=True),
        Column("exited_at", "timestamp", "Exit (the refresh's `as_of`), NULL while a member."),
    ),
)

SEGMENT_TRANSITIONS = TableContract(
    name="segment_transitions",
    description="Entries and exits as they are detected; campaign triggers subscribe to them.",
    key=("refresh_id", "segment", "customer_id"),
    columns=(
        Column("segment", "text", "Segment name.", required=True),
        Column("customer_id", "text", "Customer.", required=True),
        Column(
            "transition",
            "text",
            "`entered` or `exited`.",
            required=True,
            choices=("entered", "exited"),
        ),
        Column("at", "timestamp", "The refresh's `as_of`.", required=True),
        Column("refresh_id", "text", "Id of the refresh that detected it.", required=True),
        Column("recorded_at", "timestamp", "Wall-clock time the row was written (UTC)."),
    ),
)

MEMBERSHIP_TABLES = (SEGMENT_MEMBERSHIP, SEGMENT_MEMBERSHIP_HISTORY, SEGMENT_TRANSITIONS)


def ensure_membership_tables(engine: Engine) -> None:
    for contract in MEMBERSHIP_TABLES:
        engine.ensure_table(contract)
