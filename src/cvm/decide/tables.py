"""The warehouse tables decisioning owns: the offer catalogue, the contact history it reads for
frequency caps, the day's decisions the campaign engine executes, and the real-time log.

`contact_history` is written by the campaign engine (one row per message it scheduled or sent)
and read here; every other table is written by `cvm.decide`.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from cvm.core.contracts import Column, TableContract
from cvm.engine.base import Engine

OFFERS = TableContract(
    name="offers",
    description="The offer catalogue: one row per offer, the full definition as JSON.",
    key=("offer_id",),
    columns=(
        Column("offer_id", "text", "Offer id (unique).", required=True),
        Column("name", "text", "Display name."),
        Column("outcome", "text", "Targeted outcome: `purchase`, `retention`, `activation`."),
        Column("definition", "json", "The validated offer definition.", required=True),
        Column("valid_from", "date", "First day the offer may be decided (inclusive)."),
        Column("valid_to", "date", "Last day the offer may be decided (inclusive)."),
        Column("source", "text", "File the definition was loaded from."),
        Column("loaded_at", "timestamp", "When it was (re)loaded (UTC)."),
    ),
)

CONTACT_HISTORY = TableContract(
    name="contact_history",
    description=(
        "Every message scheduled or sent to a customer (written by the campaign engine); "
        "frequency caps count `sent` and `scheduled` rows."
    ),
    key=("customer_id", "channel", "at", "message_id"),
    columns=(
        Column("customer_id", "text", "Customer contacted.", required=True),
        Column(
            "channel", "text", "`email`, `sms`, `push`, `messenger`, `phone`, ...", required=True
        ),
        Column(
            "purpose",
            "text",
            "`marketing` (counts towards caps) or `service` (transactional: exempt, logged).",
            required=True,
        ),
        Column("at", "timestamp", "Send time (UTC), in the future when scheduled.", required=True),
        Column(
            "status",
            "text",
            "Message state.",
            required=True,
            choices=("scheduled", "sent", "cancelled", "failed"),
        ),
        Column("campaign_id", "text", "Campaign that sent it."),
        Column("offer_id", "text", "Offer it carried."),
        Column("message_id", "text", "Message id in the outbox."),
        Column("recorded_at", "timestamp", "When the row was written (UTC); real-time deltas."),
    ),
)

DECISIONS = TableContract(
    name="decisions",
    description=(
        "The day's decisions, one row per (customer, offer, channel) chosen by a run; "
        "the campaign engine sends rows with `contact` true."
    ),
    key=("run_id", "customer_id", "offer_id", "channel"),
    columns=(
        Column("run_id", "text", "Decision run id.", required=True),
        Column("decision_date", "date", "Day the decisions are for.", required=True),
        Column("customer_id", "text", "Customer.", required=True),
        Column("offer_id", "text", "Offer chosen.", required=True),
        Column("channel", "text", "Channel chosen.", required=True),
        Column("score", "double", "Objective value: expected profit × business levers."),
        Column("expected_profit", "double", "uplift × value − expected cost."),
        Column("uplift", "double", "Incremental probability of the targeted outcome."),
        Column("value", "double", "Value of one incremental outcome."),
        Column("cost", "double", "Expected cost: contact + incentive × P(redeem | treated)."),
        Column("levers", "json", "Business levers applied, JSON object name → multiplier."),
        Column("control", "boolean", "Held out by the offer's control group (not contacted)."),
        Column("global_control", "boolean", "In the global control group (never contacted)."),
        Column("contact", "boolean", "Send it: neither control flag is set."),
        Column(
            "assignment_probability",
            "double",
            "Probability of the arm this customer is in (treated, offer control, global control).",
            minimum=0,
            maximum=1,
        ),
        Column("send_after", "timestamp", "Earliest send time outside quiet hours (UTC)."),
        Column("reason", "text", "Why this offer: the score and the binding constraints."),
    ),
)

DECISION_RUNS = TableContract(
    name="decision_runs",
    description="One row per decision run: solver, objective, bound and summary JSON.",
    key=("run_id",),
    columns=(
        Column("run_id", "text", "Run id.", required=True),
        Column("decision_date", "date", "Day decided.", required=True),
        Column("created_at", "timestamp", "When the run finished (UTC)."),
        Column("solver", "text", "`lp`, `milp` or `greedy`."),
        Column("objective", "double", "Sum of scores chosen."),
        Column("bound", "double", "Upper bound on the optimum (LP or Lagrangian dual)."),
        Column("summary", "json", "Allocation, binding constraints and expected value."),
    ),
)

DECISION_LOG = TableContract(
    name="decision_log",
    description="Every real-time decision, with its control assignment and propensity.",
    key=("decision_id",),
    columns=(
        Column("decision_id", "text", "Decision id (returned to the caller).", required=True),
        Column("decided_at", "timestamp", "When (UTC).", required=True),
        Column("customer_id", "text", "Customer.", required=True),
        Column("channel", "text", "Channel asked for.", required=True),
        Column("context", "text", "Placement or moment given by the caller."),
        Column("offer_id", "text", "Offer chosen (NULL: none)."),
        Column("score", "double", "Score of the chosen offer."),
        Column("expected_profit", "double", "Expected incremental profit."),
        Column("control", "boolean", "Held out by the offer's control group."),
        Column("global_control", "boolean", "In the global control group."),
        Column("contact", "boolean", "The offer is shown or sent."),
        Column("assignment_probability", "double", "Probability of the arm drawn."),
        Column("send_after", "timestamp", "Earliest send time for outbound channels (UTC)."),
        Column("reason", "text", "Why."),
    ),
)

DECIDE_TABLES = (OFFERS, CONTACT_HISTORY, DECISIONS, DECISION_RUNS, DECISION_LOG)


def ensure_decide_tables(engine: Engine) -> None:
    """Create every decisioning table that is missing (idempotent)."""
    for contract in DECIDE_TABLES:
        engine.ensure_table(contract)


def delete_where(table: str, column: str, value: str) -> exp.Delete:
    """``DELETE FROM table WHERE column = value`` with the value as a literal."""
    return exp.delete(exp.to_table(table)).where(exp.column(column).eq(exp.Literal.string(value)))
