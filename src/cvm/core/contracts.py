"""Canonical warehouse tables: the data contracts every stage reads and writes.

One `TableContract` per table names its columns, SQL types (DuckDB spelling, transpiled by
sqlglot for other engines), which columns are required, the natural key, and what each column
means. `docs/data-contracts.md` is generated from these objects (`cvm docs contracts`), so the
documentation cannot drift from the code.

Conventions: timestamps are stored in UTC without a zone; the customer's own zone is the
`time_zone` trait. Money is DECIMAL(18, 4), never a binary float. Free-form attributes live in
JSON columns (`traits`, `properties`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MONEY = "DECIMAL(18,4)"

LogicalType = Literal[
    "text", "integer", "decimal", "double", "boolean", "date", "timestamp", "json"
]

SQL_TYPES: dict[LogicalType, str] = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "decimal": MONEY,
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "json": "JSON",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: LogicalType
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class RowRule:
    """A check across columns of one row: ``refuse_when`` is a DuckDB SQL condition over the
    contract's column names; a row where it is true is quarantined under ``column``."""

    column: str
    reason: str
    refuse_when: str


@dataclass(frozen=True)
class TableContract:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Columns filled by cvm itself (lineage), not expected in a source file.
    system_columns: tuple[Column, ...] = field(default_factory=tuple)
    row_rules: tuple[RowRule, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for col in self.all_columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.system_columns

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


LINEAGE = (
    Column(
        "_source",
        "text",
        "Where the row came from: file path, `api`, `demo`, or a database URL without credentials.",
    ),
    Column("_ingest_run", "text", "Id of the ingestion run that loaded the row."),
    Column("_loaded_at", "timestamp", "When cvm loaded the row (UTC)."),
)

CUSTOMERS = TableContract(
    name="customers",
    description="One row per customer: identity, contact, demographic and geographic traits.",
    key=("customer_id",),
    columns=(
        Column(
            "customer_id",
            "text",
            "Stable customer id (the identity graph's canonical id).",
            required=True,
        ),
        Column("first_name", "text", "Given name."),
        Column("last_name", "text", "Family name."),
        Column("email", "text", "E-mail address, normalised to lower case."),
        Column("phone", "text", "Phone number in E.164 form where it could be normalised."),
        Column("birth_date", "date", "Date of birth."),
        Column(
            "gender", "text", "Self-declared gender, free text (e.g. `female`, `male`, `other`)."
        ),
        Column("country", "text", "ISO 3166-1 alpha-2 country code."),
        Column("region", "text", "Region, state or province."),
        Column("city", "text", "City."),
        Column("latitude", "double", "Latitude in degrees.", minimum=-90, maximum=90),
        Column("longitude", "double", "Longitude in degrees.", minimum=-180, maximum=180),
        Column(
            "signup_date",
            "timestamp",
            "When the customer was acquired (first account or first purchase).",
        ),
        Column(
            "time_zone",
            "text",
            "IANA time zone of the customer, e.g. `Europe/Moscow`; used for quiet hours and local send times.",
        ),
        Column("language", "text", "Preferred language (BCP 47, e.g. `en`, `ru`)."),
        Column(
            "acquisition_channel",
            "text",
            "Channel that acquired the customer (e.g. `search`, `social`, `referral`).",
        ),
        Column("traits", "json", "Free-form traits as a JSON object."),
    ),
    system_columns=LINEAGE,
)

TRANSACTIONS = TableContract(
    name="transactions",
    description="One row per order line. Returns are lines with negative quantity and amount.",
    key=("transaction_id", "line_id"),
    columns=(
        Column("transaction_id", "text", "Order (receipt) id.", required=True),
        Column(
            "line_id",
            "text",
            "Line within the order; `1` when the source has one line per order.",
            required=True,
        ),
        Column("customer_id", "text", "Customer who bought.", required=True),
        Column("occurred_at", "timestamp", "When the purchase happened (UTC).", required=True),
        Column(
            "amount",
            "decimal",
            "Line revenue in `currency`, after discounts, before tax where known.",
            required=True,
        ),
        Column("currency", "text", "ISO 4217 currency code."),
        Column("quantity", "decimal", "Units; negative for a return."),
        Column("product_id", "text", "Product sold."),
        Column("category", "text", "Product category (denormalised for speed)."),
        Column("channel", "text", "Sales channel: `store`, `web`, `app`, `phone`, ..."),
        Column("store_id", "text", "Store or point of sale."),
        Column("is_return", "boolean", "True when the line is a return (negative quantity)."),
    ),
    system_columns=LINEAGE,
)

PRODUCTS = TableContract(
    name="products",
    description="Product catalogue.",
    key=("product_id",),
    columns=(
        Column("product_id", "text", "Product id.", required=True),
        Column("name", "text", "Display name."),
        Column("category", "text", "Category."),
        Column("price", "decimal", "List price.", minimum=0),
        Column(
            "margin", "double", "Gross margin as a fraction of price, 0..1.", minimum=0, maximum=1
        ),
        Column(
            "repeatable",
            "boolean",
            "Whether one customer buys it again (consumables) or not (durables).",
        ),
        Column("in_stock", "boolean", "Whether it can be offered now."),
    ),
    system_columns=LINEAGE,
)

EVENTS = TableContract(
    name="events",
    description="Behavioural events: web, app, e-mail engagement, messages, custom track calls.",
    key=("event_id",),
    columns=(
        Column("event_id", "text", "Unique event id (Segment `messageId`).", required=True),
        Column("customer_id", "text", "Resolved customer, when known."),
        Column("user_id", "text", "The sender's user id, as sent."),
        Column("anonymous_id", "text", "The sender's anonymous id, as sent."),
        Column(
            "type",
            "text",
            "Call type.",
            required=True,
            choices=("track", "identify", "page", "screen", "group", "alias", "message"),
        ),
        Column("name", "text", "Event name (`Order Completed`, `email_opened`, page name)."),
        Column(
            "occurred_at",
            "timestamp",
            "When it happened (clock-skew corrected, UTC).",
            required=True,
        ),
        Column("received_at", "timestamp", "When cvm received it (UTC)."),
        Column(
            "channel",
            "text",
            "Where it happened: `web`, `app`, `email`, `sms`, `push`, `store`, ...",
        ),
        Column("properties", "json", "Event properties as a JSON object."),
    ),
    system_columns=LINEAGE,
)

CONSENTS = TableContract(
    name="consents",
    description="Consent history: every grant and withdrawal per customer, channel and purpose.",
    key=("customer_id", "channel", "purpose", "occurred_at"),
    columns=(
        Column("customer_id", "text", "Customer.", required=True),
        Column(
            "channel",
            "text",
            "Channel: `email`, `sms`, `push`, `messenger`, `phone`, `all`.",
            required=True,
        ),
        Column("purpose", "text", "Purpose: `marketing` or `service`.", required=True),
        Column("status", "text", "Decision.", required=True, choices=("granted", "denied")),
        Column(
            "occurred_at", "timestamp", "When the customer made the decision (UTC).", required=True
        ),
        Column(
            "source",
            "text",
            "Where it was recorded: `signup_form`, `unsubscribe_link`, `import`, `api`.",
        ),
    ),
    system_columns=LINEAGE,
)

CAMPAIGN_ASSIGNMENTS = TableContract(
    name="campaign_assignments",
    description=(
        "Who was assigned to which arm of which campaign, including the no-contact control: "
        "the basis of every lift measurement and of the uplift models. Written by cvm's campaigns, "
        "or ingested for campaigns run elsewhere."
    ),
    key=("campaign_id", "customer_id"),
    columns=(
        Column("campaign_id", "text", "Campaign.", required=True),
        Column("customer_id", "text", "Customer.", required=True),
        Column(
            "arm",
            "text",
            "Arm name: `control` for the holdout, otherwise the treatment (offer, creative).",
            required=True,
        ),
        Column("is_control", "boolean", "True for the no-contact control group."),
        Column(
            "assigned_at",
            "timestamp",
            "When the assignment was made (UTC); outcomes count from here.",
            required=True,
        ),
        Column(
            "assignment_probability",
            "double",
            "Probability of this arm under the assignment policy (for off-policy evaluation).",
            minimum=0,
            maximum=1,
        ),
        Column("channel", "text", "Channel the treatment was sent on."),
        Column("offer_id", "text", "Offer the treatment carried."),
    ),
    system_columns=LINEAGE,
)

SURVEY_RESPONSES = TableContract(
    name="survey_responses",
    description=(
        "Customer feedback: one row per answered NPS or CSAT question, with the free-text "
        "comment. NPS scores run 0-10 (promoters 9-10, detractors 0-6); CSAT scores 1-5 "
        "(satisfied 4-5). Ingested from survey tools' exports or posted to the API."
    ),
    key=("response_id",),
    columns=(
        Column("response_id", "text", "Unique id of the response.", required=True),
        Column("customer_id", "text", "Customer who answered.", required=True),
        Column(
            "survey",
            "text",
            "Question type: `nps` (0-10 likelihood to recommend) or `csat` (1-5 satisfaction).",
            required=True,
            choices=("nps", "csat"),
        ),
        Column("score", "integer", "The score given.", required=True, minimum=0, maximum=10),
        Column("comment", "text", "Free-text comment, if any."),
        Column(
            "channel",
            "text",
            "Touchpoint channel the survey followed (e.g. `store`, `web`, `app`, `call_center`).",
        ),
        Column("touchpoint", "text", "What was rated (e.g. `delivery`, `support_ticket`)."),
        Column("responded_at", "timestamp", "When the answer was given (UTC).", required=True),
    ),
    system_columns=LINEAGE,
    row_rules=(
        RowRule("score", "CSAT score outside 1-5", "survey = 'csat' AND (score < 1 OR score > 5)"),
    ),
)

MARKETING_SPEND = TableContract(
    name="marketing_spend",
    description=(
        "Acquisition spend per channel and month, the denominator of customer acquisition "
        "cost (CAC). Channels match `customers.acquisition_channel`."
    ),
    key=("month", "acquisition_channel"),
    columns=(
        Column("month", "date", "First day of the month the money was spent in.", required=True),
        Column(
            "acquisition_channel",
            "text",
            "Acquisition channel, as in `customers.acquisition_channel`.",
            required=True,
        ),
        Column("amount", "decimal", "Money spent.", required=True, minimum=0),
        Column("currency", "text", "ISO 4217 currency code."),
    ),
    system_columns=LINEAGE,
)

CANONICAL: dict[str, TableContract] = {
    t.name: t
    for t in (
        CUSTOMERS,
        TRANSACTIONS,
        PRODUCTS,
        EVENTS,
        CONSENTS,
        CAMPAIGN_ASSIGNMENTS,
        SURVEY_RESPONSES,
        MARKETING_SPEND,
    )
}


def contract(name: str) -> TableContract:
    """The contract of a canonical table by name."""
    try:
        return CANONICAL[name]
    except KeyError:
        from cvm.core.errors import UserInputError

        raise UserInputError(
            f"unknown table {name!r}; choose one of {', '.join(CANONICAL)}"
        ) from None
