"""Split a wrong merge back.

The merge's link is set to ``unmerged`` and the identifier that caused it is blocked (a wrong
merge almost always comes from a shared identifier; blocking stops the next event from
merging the two again). The profile is then recomputed as the connected components of its
remaining active links: the component holding the surviving profile's anchor keeps its id,
a component holding the anchor of a profile that had been merged in gets that profile's id
back, and a component with no anchor gets the stable generated id of its first identifier.
Traits and consents follow automatically (they are anchored on identifiers); warehouse
events follow on the next mirror.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cvm.core.errors import ConflictError, NotFoundError
from cvm.identity.graph import generated_customer_id
from cvm.identity.identifiers import USER_ID, Identifier
from cvm.state.identity_store import IdentityStore

if TYPE_CHECKING:
    import sqlalchemy


def components(node_ids: list[int], links: list[tuple[int, int]]) -> list[set[int]]:
    """Connected components (union-find with path halving)."""
    parent = {n: n for n in node_ids}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    groups: dict[int, set[int]] = {}
    for n in node_ids:
        groups.setdefault(find(n), set()).add(n)
    return list(groups.values())


def split_assignment(
    nodes: list[dict[str, Any]],
    links: list[tuple[int, int]],
    kept: dict[str, Any],
    merged_in: list[dict[str, Any]],
) -> tuple[dict[int, str], list[str]]:
    """node id → customer id after the split, and the profile ids restored."""
    by_id = {int(n["id"]): n for n in nodes}
    anchors = {int(c["anchor_id"]): c for c in [kept, *merged_in]}

    def rank(c: dict[str, Any]) -> tuple[int, int, datetime, str]:
        is_kept = 0 if c["customer_id"] == kept["customer_id"] else 1
        return (is_kept, 0 if c["has_user"] else 1, c["created_at"], c["customer_id"])

    assignment: dict[int, str] = {}
    restored: list[str] = []
    for comp in components(list(by_id), links):
        owners = sorted((anchors[n] for n in comp if n in anchors), key=rank)
        if owners:
            cid = owners[0]["customer_id"]
        else:
            first = min(
                (by_id[n] for n in comp),
                key=lambda n: (n["kind"] != USER_ID, n["first_seen"], n["id"]),
            )
            key = Identifier(first["kind"], first["value"])
            cid = key.value if key.kind == USER_ID else generated_customer_id(key)
        if cid != kept["customer_id"]:
            restored.append(cid)
        for n in comp:
            assignment[n] = cid
    return assignment, restored


def unmerge(state: sqlalchemy.Engine, merge_id: int) -> dict[str, Any]:
    """Undo merge `merge_id`; returns the profile ids that now exist separately."""
    store = IdentityStore(state)
    now = datetime.now(UTC).replace(tzinfo=None)
    with state.begin() as conn:
        merge = store.merge(conn, merge_id)
        if merge is None:
            raise NotFoundError(f"no merge {merge_id}")
        if merge["undone_at"] is not None:
            raise ConflictError(f"merge {merge_id} was already undone")
        current = store.resolve_customer(conn, merge["kept_customer_id"])
        assert current is not None
        nodes = store.nodes_of_customers(conn, [current])
        links = store.links_among(conn, [int(n["id"]) for n in nodes])
        culprit = next((lk for lk in links if lk["id"] == merge["link_id"]), None)
        store.set_link_status(conn, merge["link_id"], "unmerged")
        store.mark_merge_undone(conn, merge_id, now)
        active = [
            (int(lk["from_id"]), int(lk["to_id"]))
            for lk in links
            if lk["status"] == "active" and lk["id"] != merge["link_id"]
        ]
        kept = store.customers(conn, [current])[0]
        merged_in = store.customers(conn, store.aliases_of(conn, current))
        assignment, restored = split_assignment(nodes, active, kept, merged_in)
        by_id = {int(n["id"]): n for n in nodes}
        changed = [
            {**by_id[i], "customer_id": cid,
             "blocked": bool(by_id[i]["blocked"]) or (culprit is not None and i == culprit["to_id"])}
            for i, cid in assignment.items()
        ]  # fmt: skip
        store.write_nodes(
            conn, [], [{k: v for k, v in r.items() if k != "mirror_pending"} for r in changed]
        )
        known = {c["customer_id"]: c for c in [kept, *merged_in]}
        rows = []
        for cid in sorted(set(assignment.values())):
            members = [i for i, c in assignment.items() if c == cid]
            base = known.get(cid)
            anchor = base["anchor_id"] if base else min(members)
            rows.append({
                "customer_id": cid,
                "anchor_id": anchor,
                "has_user": any(by_id[i]["kind"] == USER_ID for i in members),
                "created_at": base["created_at"] if base else min(by_id[i]["first_seen"] for i in members),
                "merged_into": None,
            })  # fmt: skip
        owners = set(assignment.values())
        for c in merged_in:  # profiles merged in whose anchor now sits in another's component
            if c["customer_id"] not in owners:
                owner = assignment.get(int(c["anchor_id"]), current)
                rows.append({**c, "merged_into": owner})
        store.write_customers(conn, rows)
    return {"merge_id": merge_id, "kept": current, "restored": restored}
