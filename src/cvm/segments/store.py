"""Segment definitions stored in the warehouse (`segment_definitions`), validated on save.

The warehouse, not the state store, holds them: the compiler resolves ``segment`` references
and the refresh reads every definition next to the data it runs on, in one engine. The first
time a workspace's store is opened, the built-in segments are installed (`cvm.segments.builtin`);
they are ordinary rows afterwards, so they can be edited or deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlglot.expressions as exp

from cvm.core.errors import ConflictError, NotFoundError
from cvm.engine.base import Engine
from cvm.segments.checks import did_you_mean
from cvm.segments.context import CompileContext, ConsentPolicy, utc_naive
from cvm.segments.definition import Node, SegmentDefinition, definition_json, referenced_segments
from cvm.segments.fields import FieldCatalog, field_catalog
from cvm.segments.predicates import timestamp_literal
from cvm.segments.tables import (
    SEGMENT_DEFINITIONS,
    SEGMENT_MEMBERSHIP,
    SEGMENT_MEMBERSHIP_HISTORY,
)
from cvm.segments.validate import SegmentValidationError, check_definition

TABLE = SEGMENT_DEFINITIONS.name


@dataclass(frozen=True)
class StoredSegment:
    definition: SegmentDefinition
    builtin: bool
    created_at: dt.datetime | None
    updated_at: dt.datetime | None

    @property
    def name(self) -> str:
        return self.definition.name


def _moment(value: object) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else None


def _now() -> dt.datetime:
    return utc_naive(None)


class SegmentStore:
    """Read, save and delete definitions; resolve references for the compiler."""

    def __init__(self, engine: Engine, *, consent_policy: ConsentPolicy = "opt_in") -> None:
        self.engine = engine
        self.consent_policy: ConsentPolicy = consent_policy
        self._cache: dict[str, StoredSegment] | None = None
        self._catalog: FieldCatalog | None = None
        if not engine.table_exists(TABLE):
            engine.ensure_table(SEGMENT_DEFINITIONS)
            # Imported here: the built-ins are saved through this very store.
            from cvm.segments.builtin import install_builtin_segments

            install_builtin_segments(engine, store=self)

    # -- reading -------------------------------------------------------------------------
    def _load(self) -> dict[str, StoredSegment]:
        if self._cache is None:
            query = (
                exp.select("definition", "builtin", "created_at", "updated_at")
                .from_(exp.to_table(TABLE))
                .order_by("name")
            )
            rows = self.engine.fetch_rows(query)
            self._cache = {}
            for text, builtin, created, updated in rows:
                data = json.loads(str(text))
                definition = SegmentDefinition.model_validate(data)
                self._cache[definition.name] = StoredSegment(
                    definition, bool(builtin), _moment(created), _moment(updated)
                )
        return self._cache

    def all_segments(self) -> list[StoredSegment]:
        return list(self._load().values())

    def names(self) -> list[str]:
        return list(self._load())

    def exists(self, name: str) -> bool:
        return name in self._load()

    def get(self, name: str) -> StoredSegment:
        found = self._load().get(name)
        if found is None:
            raise NotFoundError(f"no segment named {name!r}" + did_you_mean(name, self.names()))
        return found

    def resolve(self, name: str) -> Node:
        return self.get(name).definition.rule

    def context(
        self, as_of: dt.datetime | None = None, customer_ids: list[str] | None = None
    ) -> CompileContext:
        """A compile context bound to this store (references) and the workspace policy."""
        return CompileContext(
            as_of=utc_naive(as_of),
            dialect=self.engine.dialect,
            consent_policy=self.consent_policy,
            resolve=self.resolve,
            customer_ids=tuple(customer_ids) if customer_ids is not None else None,
        )

    def referrers(self, name: str) -> list[str]:
        return [
            s.name for s in self.all_segments() if name in referenced_segments(s.definition.rule)
        ]

    # -- writing -------------------------------------------------------------------------
    def validate(
        self, definition: SegmentDefinition, batch: dict[str, SegmentDefinition] | None = None
    ) -> None:
        """Meaning checks against this warehouse's columns and stored segments (plus ``batch``,
        definitions being saved together that may refer to each other)."""
        batch = batch or {}

        def resolve(name: str) -> Node:
            return batch[name].rule if name in batch else self.resolve(name)

        issues = check_definition(
            definition,
            self._catalog or field_catalog(self.engine),
            segment_exists=lambda n: n == definition.name or n in batch or self.exists(n),
            segment_names=[*self.names(), *batch],
            resolve=resolve,
        )
        if issues:
            raise SegmentValidationError(issues, f"segment {definition.name!r}")

    def save(
        self, definition: SegmentDefinition, *, replace: bool = False, builtin: bool = False
    ) -> StoredSegment:
        """Validate and store; an existing name needs ``replace`` (its creation time is kept)."""
        self.save_many([definition], replace=replace, builtin=builtin)
        return self.get(definition.name)

    def save_many(
        self, definitions: list[SegmentDefinition], *, replace: bool = False, builtin: bool = False
    ) -> None:
        """Validate all, then store all in one transaction (all or nothing)."""
        stored = self._load()
        batch: dict[str, SegmentDefinition] = {}
        self._catalog = field_catalog(self.engine)
        try:
            for definition in definitions:
                if definition.name in stored and not replace:
                    raise ConflictError(
                        f"segment {definition.name!r} exists; use --replace to overwrite it"
                    )
                self.validate(definition, batch)
                batch[definition.name] = definition
        finally:
            self._catalog = None
        now = _now()
        rows = []
        for definition in batch.values():
            existing = stored.get(definition.name)
            created = existing.created_at if existing and existing.created_at else now
            rows.append(
                (
                    exp.Literal.string(definition.name),
                    exp.cast(exp.Literal.string(definition_json(definition)), "JSON"),
                    exp.Literal.string(definition.description),
                    exp.Boolean(this=builtin if existing is None else existing.builtin),
                    timestamp_literal(created),
                    timestamp_literal(now),
                )
            )
        if not rows:
            return
        names = exp.column("name").isin(*(exp.Literal.string(n) for n in batch))
        columns = [c.name for c in SEGMENT_DEFINITIONS.columns]
        self.engine.execute("BEGIN TRANSACTION")
        try:
            self.engine.execute(exp.delete(TABLE, where=names))
            self.engine.execute(exp.insert(exp.values(rows), TABLE, columns=columns))
            self.engine.execute("COMMIT")
        except Exception:
            self.engine.execute("ROLLBACK")
            raise
        self._cache = None

    def delete(self, name: str) -> None:
        """Remove a definition; its members leave (history closed, no transitions emitted)."""
        self.get(name)
        users = [u for u in self.referrers(name) if u != name]
        if users:
            raise ConflictError(
                f"segment {name!r} is used by {', '.join(users)}; remove those references first"
            )
        self.engine.execute(self._delete_where(name))
        segment = exp.column("segment").eq(exp.Literal.string(name))
        if self.engine.table_exists(SEGMENT_MEMBERSHIP.name):
            self.engine.execute(exp.delete(SEGMENT_MEMBERSHIP.name, where=segment))
        if self.engine.table_exists(SEGMENT_MEMBERSHIP_HISTORY.name):
            still_open = exp.and_(segment, exp.column("exited_at").is_(exp.null()))
            close = exp.update(
                SEGMENT_MEMBERSHIP_HISTORY.name,
                {"exited_at": timestamp_literal(_now())},
                where=still_open,
            )
            self.engine.execute(close)
        self._cache = None

    @staticmethod
    def _delete_where(name: str) -> exp.Delete:
        return exp.delete(TABLE, where=exp.column("name").eq(exp.Literal.string(name)))


def open_store(workspace: Any) -> SegmentStore:
    """The store of a `cvm.workspace.Workspace`, with its consent policy."""
    return SegmentStore(workspace.engine, consent_policy=workspace.settings.consent.policy)
