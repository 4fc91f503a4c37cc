"""`cvm privacy export`: everything held about a person, as one JSON-ready document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlglot.expressions as exp

from cvm.collect.intake_rows import messages_about
from cvm.core.errors import NotFoundError
from cvm.engine.base import Engine
from cvm.identity.identifiers import ANONYMOUS_ID, USER_ID
from cvm.identity.profile_lookup import plain
from cvm.privacy.scope import person_scope, warehouse_customer_tables
from cvm.state.consents import consents_of_customers
from cvm.state.identity_store import IdentityStore
from cvm.state.intake import IntakeLog
from cvm.state.privacy import customer_tables, rows_of_customers
from cvm.state.traits import traits_of

if TYPE_CHECKING:
    import sqlalchemy


def _in(column: str, values: list[str]) -> exp.Expression:
    return exp.column(column).isin(*[exp.Literal.string(v) for v in values])


def _select(table: str, condition: exp.Condition | exp.Expression) -> exp.Select:
    return exp.select("*").from_(exp.to_table(table, quoted=True)).where(condition)


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


def export_person(
    engine: Engine, state: sqlalchemy.Engine, customer_id: str, default_country: str = "US"
) -> dict[str, Any]:
    scope = person_scope(engine, state, customer_id, default_country)
    store = IdentityStore(state)
    warehouse: dict[str, list[dict[str, Any]]] = {}
    ids = scope.customer_ids
    for table in warehouse_customer_tables(engine):
        conditions = [_in("customer_id", ids)]
        if table == "events":
            users, anons = scope.values(USER_ID), scope.values(ANONYMOUS_ID)
            if users:
                conditions.append(_in("user_id", users))
            if anons:
                conditions.append(_in("anonymous_id", anons))
        condition = exp.or_(*conditions)
        rows = engine.fetch_arrow(_select(table, condition)).to_pylist()
        warehouse[table] = [_json_ready(r) for r in rows]
    with state.connect() as conn:
        traits = traits_of(conn, scope.node_ids)
        consents = consents_of_customers(conn, ids)
        merges = store.merges_for(conn, ids)
        others = rows_of_customers(conn, customer_tables(state), ids)
    person_ids = set(scope.values(USER_ID)) | set(scope.values(ANONYMOUS_ID))
    pending = [m for row in IntakeLog(state).unloaded() for m in messages_about(row, person_ids)]
    if not scope.nodes and not any(warehouse.values()) and not pending:
        raise NotFoundError(f"nothing is held about {customer_id!r}")
    return {
        "customer_id": ids[0],
        "merged_ids": ids[1:],
        "identities": [_json_ready(n) for n in scope.nodes],
        "traits": [_json_ready(t) for t in traits],
        "consents": [_json_ready(c) for c in consents],
        "merges": [_json_ready(m) for m in merges],
        "intake_not_yet_loaded": pending,
        "state_tables": {k: [_json_ready(r) for r in v] for k, v in others.items() if v},
        "warehouse_tables": {k: v for k, v in warehouse.items() if v},
    }
