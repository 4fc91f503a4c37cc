"""The `customer_360` view: every customer with their profile metrics (NULL until computed)."""

from __future__ import annotations

import sqlglot.expressions as exp

from cvm.core.contracts import CUSTOMERS
from cvm.engine.base import Engine
from cvm.profiles.contract import CUSTOMER_360_VIEW, PROFILES

# --- profile extensions (issue #12) ---------------------------------------------------------
# Per-customer tables other stages own (one row per customer_id), LEFT JOINed into the view
# when they exist: their columns become profile fields for segments, offers and models.
PROFILE_EXTENSIONS: tuple[str, ...] = ("loyalty_profile", "feedback_profile")


def _with_extensions(select: exp.Select, engine: Engine, customer_id: exp.Expr) -> exp.Select:
    for i, name in enumerate(PROFILE_EXTENSIONS):
        if not engine.table_exists(name):
            continue
        alias = f"x{i}"
        columns = [c for c in engine.table_columns(name) if c != "customer_id"]
        select = select.select(*(exp.column(c, table=alias) for c in columns)).join(
            exp.to_table(name).as_(alias),
            on=exp.column("customer_id", table=alias).eq(customer_id.copy()),
            join_type="left",
        )
    return select


# --- end of profile extensions ----------------------------------------------------------------


def ensure_profile_tables(engine: Engine) -> None:
    """Create `profiles` when missing and (re)create the `customer_360` view over it."""
    engine.ensure_table(PROFILES)
    # FULL JOIN: a customer known only from transactions (no customers row yet) still has a
    # profile, and a customer with no purchases still appears with empty metrics.
    customer_id = exp.func(
        "COALESCE", exp.column("customer_id", table="c"), exp.column("customer_id", table="p")
    )
    customer_cols = [
        exp.column(c.name, table="c") for c in CUSTOMERS.columns if c.name != "customer_id"
    ]
    profile_cols = [
        exp.column(c.name, table="p") for c in PROFILES.columns if c.name != "customer_id"
    ]
    select = (
        exp.select(customer_id.as_("customer_id"), *customer_cols, *profile_cols)
        .from_(exp.to_table(CUSTOMERS.name).as_("c"))
        .join(
            exp.to_table(PROFILES.name).as_("p"),
            on=exp.column("customer_id", table="c").eq(exp.column("customer_id", table="p")),
            join_type="full",
        )
    )
    from cvm.feedback.profile_fields import ensure_feedback_profile

    ensure_feedback_profile(engine)  # a view over survey_responses, when answers exist
    select = _with_extensions(select, engine, customer_id)
    view = exp.Create(
        this=exp.to_table(CUSTOMER_360_VIEW), kind="VIEW", replace=True, expression=select
    )
    engine.execute(view)
