"""The warehouse table campaigns own: who each run chose, held out or excluded, and why.

`contact_history` (defined by `cvm.decide.tables`) and the message events in `events` are
written by the campaigns mirror; this table is written at each launch, so measurement can
compare the treated with the held-out customers of the very same audience.
"""

from __future__ import annotations

from cvm.core.contracts import Column, TableContract

CAMPAIGN_AUDIENCE = TableContract(
    name="campaign_audience",
    description="Every customer a campaign run considered: arm, channel, queued or excluded.",
    key=("campaign_id", "run_id", "customer_id"),
    columns=(
        Column("campaign_id", "text", "Campaign.", required=True),
        Column(
            "run_id", "text", "Campaign run (one occurrence or one trigger batch).", required=True
        ),
        Column("customer_id", "text", "Customer.", required=True),
        Column(
            "arm",
            "text",
            "`treatment`, `control` (campaign holdout) or `global_control`.",
            required=True,
            choices=("treatment", "control", "global_control"),
        ),
        Column("channel", "text", "Channel chosen (NULL: none reachable)."),
        Column(
            "status",
            "text",
            "`queued` (a message was written) or `excluded` (with the reason).",
            required=True,
            choices=("queued", "excluded", "held_out"),
        ),
        Column("reason", "text", "Why excluded or held out."),
        Column("message_id", "text", "Outbox idempotency key of the message, when queued."),
        Column("recorded_at", "timestamp", "When the run considered the customer (UTC)."),
    ),
)
