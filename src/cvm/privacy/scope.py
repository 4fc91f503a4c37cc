"""Who a privacy request is about: every profile id, identifier and table that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cvm.engine.base import Engine
from cvm.identity.identifiers import ANONYMOUS_ID, EMAIL, PHONE, USER_ID, normalize_identifier
from cvm.state.identity_store import IdentityStore

if TYPE_CHECKING:
    import sqlalchemy

# Tables whose rows stay (re-keyed to an anonymous id) so totals still add up: revenue in
# `transactions`, and proof that a decision was made in `consents`.
REKEYED_TABLES = ("transactions", "consents")
_TABLES_WITH_CUSTOMER = (
    "SELECT c.table_name FROM information_schema.columns c "
    "JOIN information_schema.tables t ON t.table_name = c.table_name "
    "AND t.table_schema = c.table_schema "
    "WHERE c.column_name = 'customer_id' AND c.table_schema = 'main' "
    "AND t.table_type = 'BASE TABLE' ORDER BY c.table_name"
)
_CUSTOMER_CONTACT = "SELECT email, phone FROM customers WHERE customer_id = ?"
IDS_VIEW = "__cvm_privacy_ids"


@dataclass
class PersonScope:
    customer_ids: list[str]
    nodes: list[dict[str, Any]] = field(default_factory=list)
    contact: list[tuple[str, str]] = field(default_factory=list)  # from the customers table

    @property
    def node_ids(self) -> list[int]:
        return [int(n["id"]) for n in self.nodes]

    def values(self, kind: str) -> list[str]:
        found = [n["value"] for n in self.nodes if n["kind"] == kind]
        found += [v for k, v in self.contact if k == kind]
        if kind == USER_ID:
            found += self.customer_ids  # a profile id is the person's user id (or a hash of one)
        return sorted(set(found))

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        pairs = {(n["kind"], n["value"]) for n in self.nodes} | set(self.contact)
        pairs |= {("customer_id", c) for c in self.customer_ids}
        return sorted(pairs)

    def ids_table(self) -> pa.Table:
        """Every identifier value, one column, for joins inside the warehouse."""
        values = sorted({v for _, v in self.identifiers})
        return pa.table({"value": pa.array(values, pa.string())})


def person_scope(
    engine: Engine, state: sqlalchemy.Engine, customer_id: str, default_country: str = "US"
) -> PersonScope:
    store = IdentityStore(state)
    with state.connect() as conn:
        current = store.resolve_customer(conn, customer_id) or customer_id
        ids = [current, *store.aliases_of(conn, current)]
        nodes = store.nodes_of_customers(conn, ids)
    scope = PersonScope(customer_ids=ids, nodes=nodes)
    if engine.table_exists("customers"):
        for cid in ids:
            for email, phone in engine.fetch_rows(_CUSTOMER_CONTACT, [cid]):
                for kind, raw in ((EMAIL, email), (PHONE, phone)):
                    ident = normalize_identifier(kind, raw, default_country)
                    if ident:
                        scope.contact.append((ident.kind, ident.value))
                    if isinstance(raw, str) and raw:
                        scope.contact.append((kind, raw))  # as stored, too
    return scope


def warehouse_customer_tables(engine: Engine) -> list[str]:
    return sorted({str(r[0]) for r in engine.fetch_rows(_TABLES_WITH_CUSTOMER)})


__all__ = ["ANONYMOUS_ID", "IDS_VIEW", "REKEYED_TABLES", "PersonScope", "person_scope"]
