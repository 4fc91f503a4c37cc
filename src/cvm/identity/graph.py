"""The identity graph's rules, in memory and pure (the store loads and saves it).

Each observation is a set of identifiers seen together (an identify call, an alias, an
event carrying both a user id and an anonymous id, a customers row). The rules:

1. The observation's *target* is the profile of its user id (created when new, with the user
   id as its customer_id), else the profile of its first known, unblocked identifier, else a
   new profile whose id is a stable hash of its first identifier (``cvm_`` + 20 hex digits).
2. Every other identifier joins the target: a new one is attached; one already on another
   profile merges the two profiles, unless
   * both profiles hold user ids and the call is not an explicit alias (user ids never merge
     by themselves: two accounts sharing a device or an e-mail stay two people), or
   * the identifier is blocked: it has been seen with more than ``max_user_ids`` distinct
     user ids (a shared tablet, a shop's counter e-mail) and no longer merges anything.
3. On a merge the surviving customer_id is the profile holding a user id, then the one seen
   first, then the smaller id. The other profile records ``merged_into``.

Every attach or merge is a *link* (what joined what, why, when) and every merge a *merge
record*, so `cvm.identity.unmerge` can split a wrong merge back along the links.
Processing observations in the same order gives the same graph, whether they arrive live or
from files: both paths call `IdentityGraph.observe`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cvm.identity.identifiers import ANONYMOUS_ID, USER_ID, Identifier

LAST_SEEN_GRANULARITY = timedelta(hours=1)


def generated_customer_id(key: Identifier) -> str:
    """Stable id for a profile without a user id: the same identifier gives the same id."""
    return "cvm_" + hashlib.sha256(f"{key.kind}:{key.value}".encode()).hexdigest()[:20]


@dataclass(slots=True)
class Node:
    id: int
    key: Identifier
    customer_id: str
    blocked: bool
    first_seen: datetime
    last_seen: datetime
    users: set[int] = field(default_factory=set)  # user-id nodes seen with it (bounded)
    first_user: int | None = None  # the first of them (stored on the identity row)


@dataclass(slots=True)
class Customer:
    customer_id: str
    anchor_id: int
    has_user: bool
    created_at: datetime
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    identifiers: tuple[Identifier, ...]
    at: datetime
    reason: str  # identify, track, alias, ingest
    user: Identifier | None = None
    event_id: str | None = None
    explicit: bool = False  # an alias: may join two profiles that both hold user ids


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    from_id: int
    to_id: int
    reason: str
    status: str  # active, refused, blocked
    event_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Merge:
    id: int
    kept_customer_id: str
    merged_customer_id: str
    link_id: int
    reason: str
    via_kind: str
    created_at: datetime


@dataclass
class Changes:
    """What `observe` changed, for the store to write."""

    new_nodes: set[int] = field(default_factory=set)
    new_customers: set[str] = field(default_factory=set)
    dirty_nodes: set[int] = field(default_factory=set)
    dirty_customers: set[str] = field(default_factory=set)
    links: list[Link] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    sightings: list[tuple[int, int]] = field(default_factory=list)
    # (from, to) in order: the store moves unloaded members with one UPDATE each.
    reassigned: list[tuple[str, str]] = field(default_factory=list)


class IdentityGraph:
    """The loaded part of the graph plus the rules. Live use loads only what a batch touches."""

    def __init__(
        self, max_user_ids: int = 3, next_node_id: int = 1, next_link_id: int = 1,
        next_merge_id: int = 1,
    ) -> None:  # fmt: skip
        self.max_user_ids = max_user_ids
        self.nodes: dict[Identifier, Node] = {}
        self.customers: dict[str, Customer] = {}
        self.members: dict[str, set[Identifier]] = {}
        self.changes = Changes()
        self._next_node = next_node_id
        self._next_link = next_link_id
        self._next_merge = next_merge_id

    # -- loading --------------------------------------------------------------------------
    def load(self, nodes: Iterable[Node], customers: Iterable[Customer]) -> None:
        for node in nodes:
            self.nodes[node.key] = node
            self.members.setdefault(node.customer_id, set()).add(node.key)
        for customer in customers:
            self.customers[customer.customer_id] = customer

    def customer_of(self, key: Identifier) -> str | None:
        node = self.nodes.get(key)
        return node.customer_id if node else None

    # -- rules ----------------------------------------------------------------------------
    def observe_alias(
        self, user_id: str, previous_id: str, at: datetime, event_id: str | None = None
    ) -> None:
        """Segment alias: previousId is a known user id, else an anonymous id."""
        previous = Identifier(USER_ID, previous_id)
        if previous not in self.nodes:
            previous = Identifier(ANONYMOUS_ID, previous_id)
        user = Identifier(USER_ID, user_id)
        self.observe(Observation((user, previous), at, "alias", user, event_id, explicit=True))

    def observe(self, obs: Observation) -> None:
        keys = list(dict.fromkeys(obs.identifiers))
        if obs.user is not None and obs.user not in keys:
            keys.insert(0, obs.user)
        if not keys:
            return
        primary = self._choose_primary(keys, obs.user)
        if primary is None:  # every identifier is known and blocked: nothing may change
            return
        anchor = self.nodes.get(primary)
        if anchor is None:
            cid = primary.value if primary.kind == USER_ID else generated_customer_id(primary)
            anchor = self._new_node(primary, cid, obs.at)
            self._new_customer(cid, anchor.id, primary.kind == USER_ID, obs.at)
        self._touch(anchor, obs.at)
        target = anchor.customer_id
        user_node = self.nodes.get(obs.user) if obs.user else None
        for key in keys:
            if key == primary:
                continue
            node = self.nodes.get(key)
            if node is None:
                node = self._new_node(key, target, obs.at)
                self._link(anchor, node, obs, "active")
                if user_node is not None and key.kind != USER_ID:
                    self._sight(node, user_node)
                continue
            self._touch(node, obs.at)
            if user_node is not None and key.kind != USER_ID:
                self._sight(node, user_node)
            if node.customer_id == target:
                continue
            if node.blocked:
                self._link(anchor, node, obs, "blocked")
                continue
            mine, other = self.customers[target], self.customers[node.customer_id]
            if mine.has_user and other.has_user and not obs.explicit:
                self._link(anchor, node, obs, "refused")
                continue
            link = self._link(anchor, node, obs, "active")
            target = self._merge(mine, other, link, obs, key.kind)

    def _choose_primary(self, keys: list[Identifier], user: Identifier | None) -> Identifier | None:
        if user is not None:
            return user
        for key in keys:  # the first known, usable identifier decides the profile
            node = self.nodes.get(key)
            if node is not None and not node.blocked:
                return key
        for key in keys:  # else the first new one starts a profile
            if key not in self.nodes:
                return key
        return None

    def _new_node(self, key: Identifier, customer_id: str, at: datetime) -> Node:
        node = Node(self._next_node, key, customer_id, False, at, at)
        self._next_node += 1
        self.nodes[key] = node
        self.members.setdefault(customer_id, set()).add(key)
        self.changes.new_nodes.add(node.id)
        self.changes.dirty_nodes.add(node.id)
        return node

    def _new_customer(self, cid: str, anchor_id: int, has_user: bool, at: datetime) -> None:
        self.customers[cid] = Customer(cid, anchor_id, has_user, at)
        self.changes.dirty_customers.add(cid)
        self.changes.new_customers.add(cid)

    def _touch(self, node: Node, at: datetime) -> None:
        # Hour granularity: a busy identifier is not rewritten on every event.
        if at > node.last_seen + LAST_SEEN_GRANULARITY:
            node.last_seen = at
            self.changes.dirty_nodes.add(node.id)

    def _sight(self, node: Node, user_node: Node) -> None:
        if user_node.id in node.users or len(node.users) > self.max_user_ids:
            return
        node.users.add(user_node.id)
        if node.first_user is None:
            node.first_user = user_node.id
            self.changes.dirty_nodes.add(node.id)
        else:
            self.changes.sightings.append((node.id, user_node.id))
        if len(node.users) > self.max_user_ids and not node.blocked:
            node.blocked = True
            self.changes.dirty_nodes.add(node.id)

    def _link(self, a: Node, b: Node, obs: Observation, status: str) -> Link:
        link = Link(self._next_link, a.id, b.id, obs.reason, status, obs.event_id, obs.at)
        self._next_link += 1
        self.changes.links.append(link)
        return link

    def _merge(
        self, mine: Customer, other: Customer, link: Link, obs: Observation, via_kind: str
    ) -> str:
        def rank(c: Customer) -> tuple[int, datetime, str]:
            return (0 if c.has_user else 1, c.created_at, c.customer_id)

        kept, gone = sorted((mine, other), key=rank)
        gone.merged_into = kept.customer_id
        kept.has_user = kept.has_user or gone.has_user
        self.changes.dirty_customers.update((kept.customer_id, gone.customer_id))
        moved = self.members.pop(gone.customer_id, set())
        for key in moved:
            node = self.nodes[key]
            node.customer_id = kept.customer_id
            self.changes.dirty_nodes.add(node.id)
        self.members.setdefault(kept.customer_id, set()).update(moved)
        self.changes.reassigned.append((gone.customer_id, kept.customer_id))
        merge = Merge(
            self._next_merge, kept.customer_id, gone.customer_id, link.id, obs.reason,
            via_kind, obs.at,
        )  # fmt: skip
        self._next_merge += 1
        self.changes.merges.append(merge)
        return kept.customer_id

    def node_by_id(self) -> dict[int, Node]:
        return {n.id: n for n in self.nodes.values()}
