"""Load the part of the graph a batch of observations touches, apply them, save the changes.

The live loader and the batch resolver both come through here, so both obey the same rules
(`cvm.identity.graph`). One identity writer runs at a time (the loader inside `cvm serve`,
or a CLI command while the server is stopped): ids are allocated from the current maxima.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from cvm.identity.graph import Customer, IdentityGraph, Link, Merge, Node, Observation
from cvm.identity.identifiers import ANONYMOUS_ID, USER_ID, Identifier
from cvm.state.identity_store import IdentityStore

if TYPE_CHECKING:
    from sqlalchemy import Connection

Alias = tuple[str, str, Observation]
LINK_FIELDS = tuple(f.name for f in fields(Link))
MERGE_FIELDS = tuple(f.name for f in fields(Merge))


def _fields(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        name: getattr(obj, name) for name in names
    }  # (user id, previous id, the observation's time/event)


def node_from_row(row: dict[str, Any]) -> Node:
    return Node(
        id=int(row["id"]),
        key=Identifier(row["kind"], row["value"]),
        customer_id=row["customer_id"],
        blocked=bool(row["blocked"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        users={int(row["first_user_id"])} if row.get("first_user_id") else set(),
        first_user=row.get("first_user_id"),
    )


def customer_from_row(row: dict[str, Any]) -> Customer:
    return Customer(
        customer_id=row["customer_id"],
        anchor_id=int(row["anchor_id"]),
        has_user=bool(row["has_user"]),
        created_at=row["created_at"],
        merged_into=row["merged_into"],
    )


def keys_touched(observations: Iterable[Observation], aliases: Iterable[Alias]) -> set[Identifier]:
    keys: set[Identifier] = set()
    for obs in observations:
        keys.update(obs.identifiers)
        if obs.user is not None:
            keys.add(obs.user)
    for user_id, previous_id, _ in aliases:
        keys.add(Identifier(USER_ID, user_id))
        keys.add(Identifier(USER_ID, previous_id))
        keys.add(Identifier(ANONYMOUS_ID, previous_id))
    return keys


def open_graph(
    store: IdentityStore, conn: Connection, keys: Iterable[Identifier] | None, max_user_ids: int
) -> IdentityGraph:
    """The graph restricted to `keys` and their profiles (`keys=None`: the whole graph)."""
    if keys is None:
        node_rows: Iterable[dict[str, Any]] = store.all_nodes(conn)
    else:
        node_rows = store.nodes_for(conn, [(k.kind, k.value) for k in keys])
    nodes = [node_from_row(r) for r in node_rows]
    if keys is None:
        customers = [customer_from_row(r) for r in store.all_customers(conn)]
        pairs: Iterable[tuple[int, int]] = store.all_sightings(conn)
    else:
        customers = [
            customer_from_row(r) for r in store.customers(conn, {n.customer_id for n in nodes})
        ]
        pairs = store.sightings(conn, [n.id for n in nodes])
    by_id = {n.id: n for n in nodes}
    for node_id, user_id in pairs:
        node = by_id.get(node_id)
        if node is not None:
            node.users.add(user_id)
    graph = IdentityGraph(max_user_ids, *store.next_ids(conn))
    graph.load(nodes, customers)
    return graph


def apply(graph: IdentityGraph, observations: Sequence[Observation | Alias]) -> None:
    for item in observations:
        if isinstance(item, Observation):
            graph.observe(item)
        else:
            user_id, previous_id, obs = item
            graph.observe_alias(user_id, previous_id, obs.at, obs.event_id)


def save_graph(
    store: IdentityStore, conn: Connection, graph: IdentityGraph, mirror_pending: bool = True
) -> None:
    """Write what `graph` changed. `mirror_pending=False` when the caller mirrors the whole
    graph to the warehouse itself (batch resolution)."""
    changes = graph.changes
    by_id = graph.node_by_id()

    def node_row(node: Node) -> dict[str, Any]:
        return {
            "id": node.id,
            "kind": node.key.kind,
            "value": node.key.value,
            "customer_id": node.customer_id,
            "blocked": node.blocked,
            "first_seen": node.first_seen,
            "last_seen": node.last_seen,
            "first_user_id": node.first_user,
        }

    store.reassign(conn, changes.reassigned)
    store.write_nodes(
        conn,
        [node_row(by_id[i]) for i in sorted(changes.new_nodes)],
        [node_row(by_id[i]) for i in sorted(changes.dirty_nodes - changes.new_nodes)],
        mirror_pending=mirror_pending,
    )

    def customer_row(c: Customer) -> dict[str, Any]:
        return {
            "customer_id": c.customer_id,
            "anchor_id": c.anchor_id,
            "has_user": c.has_user,
            "created_at": c.created_at,
            "merged_into": c.merged_into,
        }

    # A profile created in this run but already in the store (a re-run after a crash) would
    # collide on insert; the graph saw the store, so `new_customers` are truly new.
    store.write_customers(
        conn,
        [
            customer_row(graph.customers[c])
            for c in sorted(changes.dirty_customers - changes.new_customers)
        ],
        new=[customer_row(graph.customers[c]) for c in sorted(changes.new_customers)],
    )
    store.write_links(conn, [_fields(link, LINK_FIELDS) for link in changes.links])
    store.write_merges(conn, [_fields(merge, MERGE_FIELDS) for merge in changes.merges])
    store.write_sightings(conn, changes.sightings)
