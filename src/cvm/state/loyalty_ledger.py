"""The loyalty points ledger: member accounts, a double-entry journal, earn lots, FIFO expiry.

Every posting is a journal entry of two lines summing to zero (see `cvm.state.loyalty_book`),
carries an idempotency key (a retry with the same key posts nothing new) and is never edited:
a correction is a reversal, a new entry. A batch runs in one transaction that first locks the
member accounts it touches — ``SELECT … FOR UPDATE`` in customer order on PostgreSQL (so two
batches never deadlock), a no-op ``UPDATE`` on SQLite (which takes SQLite's single write lock
up front, waiting on the busy timeout instead of failing on a stale read snapshot) — then
reads the balances, checks them and writes. Concurrent redemptions therefore serialise per
member and never overspend.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from cvm.core.timewindows import utc_now as _utcnow
from cvm.state.loyalty_book import Account, Book, Lot, Posting, PostReport
from cvm.state.loyalty_rows import write_rows
from cvm.state.loyalty_tables import (
    loyalty_accounts,
    loyalty_entries,
    loyalty_lines,
    loyalty_lot_uses,
    loyalty_lots,
)
from cvm.state.upsert import chunks, insert_ignore

__all__ = ["LoyaltyLedger", "Posting", "PostReport"]

_CHUNK = 500
_ANALYZE_AFTER = 10_000  # entries in one batch (PostgreSQL only), see `_write`
_TOTALS = ("balance", "deficit", "earned", "redeemed", "expired", "adjusted")
# Unambiguous alphabet for referral codes people type (no 0/O, 1/I/L).
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_referral_code() -> str:
    """A random 10-character code (~49 bits): unguessable, and short enough to type."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


class LoyaltyLedger:
    """Repository over the loyalty tables; one instance may be shared between threads."""

    def __init__(self, state: Engine, *, allow_negative: bool = False) -> None:
        self.engine = state
        self.allow_negative = allow_negative
        self.postgres = state.dialect.name == "postgresql"

    # -- membership ------------------------------------------------------------------------
    def enroll(self, customer_id: str, at: datetime, *, referral_code: str | None = None) -> bool:
        """Open a points account (with its own referral code); False if already a member."""
        return self.enroll_many([(customer_id, at)], referral_codes={customer_id: referral_code})[0]

    def enroll_many(
        self,
        members: Sequence[tuple[str, datetime]],
        referral_codes: dict[str, str | None] | None = None,
    ) -> list[bool]:
        """Enroll many customers in one transaction; per customer, True if newly enrolled."""
        with self.engine.begin() as conn:
            return self.enroll_in(conn, members, referral_codes)

    def enroll_in(
        self,
        conn: Connection,
        members: Sequence[tuple[str, datetime]],
        referral_codes: dict[str, str | None] | None = None,
    ) -> list[bool]:
        """`enroll_many` inside the caller's transaction."""
        codes = referral_codes or {}
        ids = [cid for cid, _ in members]
        before = self._existing_accounts(conn, ids)
        rows = [
            {
                "customer_id": cid,
                "enrolled_at": at,
                "referral_code": new_referral_code(),
                "referred_by": codes.get(cid),
                "updated_at": at,
            }
            for cid, at in dict(members).items()
            if cid not in before
        ]
        insert_ignore(conn, loyalty_accounts, rows, ["customer_id"])
        return [cid not in before for cid in ids]

    @staticmethod
    def _existing_accounts(conn: Connection, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(ids)), _CHUNK):
            query = select(loyalty_accounts.c.customer_id).where(
                loyalty_accounts.c.customer_id.in_(chunk)
            )
            found.update(r[0] for r in conn.execute(query))
        return found

    def account(self, customer_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer_id)
            ).first()
        return dict(row._mapping) if row else None

    def balance(self, customer_id: str) -> int:
        """The member's points balance (0 for a customer who is not a member)."""
        found = self.account(customer_id)
        return int(found["balance"]) if found else 0

    def accounts(self) -> Iterator[dict[str, Any]]:
        """Every account: customer_id, enrolled_at, balance, earned, redeemed, expired, ..."""
        query = select(loyalty_accounts).order_by(loyalty_accounts.c.customer_id)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield dict(row._mapping)

    # -- postings --------------------------------------------------------------------------
    def post(self, postings: Sequence[Posting]) -> PostReport:
        """Post a batch in one transaction; duplicates (known keys) and rejects post nothing."""
        with self.transaction() as conn:
            return self.post_in(conn, postings)

    def reverse(self, key: str, at: datetime, reason: str) -> PostReport:
        """Reverse the posting `key` by a new entry (key ``reverse:<key>``); twice is a no-op."""
        with self.engine.connect() as conn:
            original = self._entries_by_key(conn, [key]).get(key)
        if original is None:
            return PostReport(rejected=[(key, f"no posting with key {key!r}")])
        posting = Posting(
            f"reverse:{key}",
            original["customer_id"],
            "reverse",
            -original["points"],
            at,
            reason,
            key,
        )
        return self.post([posting])

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for `post_in` (and callers that add their own rows to it)."""
        with self.engine.begin() as conn:
            yield conn

    def post_in(self, conn: Connection, postings: Sequence[Posting]) -> PostReport:
        """`post` inside the caller's transaction `conn` (e.g. with a reward's stock update)."""
        report = PostReport()
        batch: dict[str, Posting] = {}
        for p in postings:
            if p.key in batch:
                report.duplicates += 1
            else:
                batch[p.key] = p
        if not batch:
            return report
        refs = [p.reference for p in batch.values() if p.kind == "reverse" and p.reference]
        originals = self._entries_by_key(conn, refs)
        customers = sorted({p.customer_id for p in batch.values()})
        accounts = self.lock_accounts(conn, customers)
        existing = set(self._entries_by_key(conn, list(batch), columns_only=True))
        reversed_already = self._reversed(conn, refs)
        debtors = sorted(
            {p.customer_id for p in batch.values() if p.points < 0 or p.kind == "reverse"}
            & set(accounts)
        )
        self._load_lots(conn, accounts, debtors)
        uses = self._uses(conn, [r for r in refs if r in originals])
        book = Book(accounts, self.allow_negative, _utcnow())
        book.reversed.update(reversed_already)
        for p in batch.values():
            if p.key in existing:
                report.duplicates += 1
                continue
            original = originals.get(p.reference or "") if p.kind == "reverse" else None
            problem = book.apply(p, original, uses.get(p.reference or ""))
            if problem:
                report.rejected.append((p.key, problem))
            else:
                report.posted += 1
        self._write(conn, book)
        return report

    def expire(self, as_of: datetime) -> PostReport:
        """Expire every lot whose ``expires_at <= as_of`` (key ``expire:<lot key>``)."""
        report = PostReport()
        with self.engine.connect() as conn:
            due = conn.execute(
                select(loyalty_lots.c.customer_id)
                .where(loyalty_lots.c.expires_at <= as_of, loyalty_lots.c.remaining > 0)
                .distinct()
            )
            customers = sorted(r[0] for r in due)
        # Transactions of many members (one commit each is an fsync), locked in customer order.
        for chunk in chunks(customers, 20 * _CHUNK):
            with self.transaction() as conn:
                report.posted += self._expire_chunk(conn, list(chunk), as_of)
        return report

    def _expire_chunk(self, conn: Connection, customers: list[str], as_of: datetime) -> int:
        accounts = self.lock_accounts(conn, customers)
        book = Book(accounts, self.allow_negative, _utcnow())
        lots: list[Lot] = []
        for part in chunks(customers, _CHUNK):
            query = select(loyalty_lots).where(*self._due(list(part), as_of))
            lots.extend(Lot(**dict(r._mapping)) for r in conn.execute(query))
        keys = self._expiry_keys(conn, [lot.key for lot in lots])
        for lot in sorted(lots, key=Lot.fifo_order):
            book.expire_lot(lot, keys[lot.key], lot.expires_at or as_of)
        self._write(conn, book)
        # One set-based update instead of a row each: every due lot is now empty.
        for part in chunks(customers, _CHUNK):
            conn.execute(
                update(loyalty_lots).where(*self._due(list(part), as_of)).values(remaining=0)
            )
        return len(lots)

    @staticmethod
    def _due(customers: list[str], as_of: datetime) -> tuple[Any, ...]:
        lots = loyalty_lots.c
        return lots.customer_id.in_(customers), lots.expires_at <= as_of, lots.remaining > 0

    def _expiry_keys(self, conn: Connection, lot_keys: list[str]) -> dict[str, str]:
        """``expire:<lot>``; ``expire:<lot>:2``, ... when a reversed expiry restored the lot."""
        keys = {k: f"expire:{k}" for k in lot_keys}
        n = 1
        while taken := set(self._entries_by_key(conn, list(keys.values()), columns_only=True)):
            n += 1
            for lot_key, key in keys.items():
                if key in taken:
                    keys[lot_key] = f"expire:{lot_key}:{n}"
        return keys

    # -- reads for the rest of the system --------------------------------------------------
    def entries(self, after_id: int = 0, limit: int = 50_000) -> list[dict[str, Any]]:
        """Journal lines after `after_id`, ordered by id, with their entry's kind and reason."""
        e, line = loyalty_entries, loyalty_lines
        query = (
            select(
                line.c.id,
                line.c.entry_key,
                line.c.customer_id,
                line.c.account,
                line.c.points,
                line.c.at,
                e.c.kind,
                e.c.reason,
                e.c.reference,
                e.c.reverses,
            )  # fmt: skip
            .join(e, e.c.key == line.c.entry_key)
            .where(line.c.id > after_id)
            .order_by(line.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def lots(self, customer_id: str, open_only: bool = True) -> list[dict[str, Any]]:
        """The member's earn lots, first to be consumed first."""
        query = select(loyalty_lots).where(loyalty_lots.c.customer_id == customer_id)
        if open_only:
            query = query.where(loyalty_lots.c.remaining > 0)
        with self.engine.connect() as conn:
            rows = [Lot(**dict(r._mapping)) for r in conn.execute(query)]
        rows.sort(key=Lot.fifo_order)
        return [
            {k: getattr(lot, k) for k in ("key", "earned_at", "expires_at", "points", "remaining")}
            for lot in rows
        ]

    def statement(self, customer_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The member's latest entries, newest first."""
        e = loyalty_entries
        query = (
            select(e.c.key, e.c.kind, e.c.points, e.c.at, e.c.reason, e.c.reference, e.c.reverses)
            .where(e.c.customer_id == customer_id)
            .order_by(e.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def liability(self) -> int:
        """Outstanding points over all members (the sum of the member accounts)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.sum(loyalty_accounts.c.balance))).scalar() or 0)

    # -- internals -------------------------------------------------------------------------
    def lock_accounts(self, conn: Connection, customers: Sequence[str]) -> dict[str, Account]:
        """Lock (until `conn` commits) and read the accounts of `customers` (sorted)."""
        a = loyalty_accounts
        if not self.postgres and customers:
            # Take SQLite's write lock first (waits on the busy timeout), see module docstring.
            conn.execute(
                update(a).where(a.c.customer_id == customers[0]).values(customer_id=a.c.customer_id)
            )
        accounts: dict[str, Account] = {}
        columns = [a.c.customer_id, *(a.c[c] for c in _TOTALS)]
        for chunk in chunks(list(customers), _CHUNK):
            query = select(*columns).where(a.c.customer_id.in_(chunk)).order_by(a.c.customer_id)
            if self.postgres:
                query = query.with_for_update()
            for row in conn.execute(query):
                accounts[row[0]] = Account(row[0], *row[1:])
        return accounts

    @staticmethod
    def _entries_by_key(
        conn: Connection, keys: Sequence[str], columns_only: bool = False
    ) -> dict[str, dict[str, Any]]:
        e = loyalty_entries
        columns = [e.c.key] if columns_only else [e.c.key, e.c.customer_id, e.c.kind, e.c.points]
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(keys), _CHUNK):
            for row in conn.execute(select(*columns).where(e.c.key.in_(chunk))):
                found[row[0]] = dict(row._mapping)
        return found

    @staticmethod
    def _reversed(conn: Connection, keys: Sequence[str]) -> set[str]:
        e = loyalty_entries
        found: set[str] = set()
        for chunk in chunks(list(keys), _CHUNK):
            found.update(
                r[0] for r in conn.execute(select(e.c.reverses).where(e.c.reverses.in_(chunk)))
            )
        return found

    @staticmethod
    def _load_lots(
        conn: Connection, accounts: dict[str, Account], customers: Sequence[str]
    ) -> None:
        for cid in customers:
            accounts[cid].lots = {}
        for chunk in chunks(list(customers), _CHUNK):
            for row in conn.execute(
                select(loyalty_lots).where(loyalty_lots.c.customer_id.in_(chunk))
            ):
                lot = Lot(**dict(row._mapping))
                lots = accounts[lot.customer_id].lots
                assert lots is not None
                lots[lot.key] = lot

    @staticmethod
    def _uses(conn: Connection, keys: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        u = loyalty_lot_uses
        found: dict[str, list[tuple[str, int]]] = {}
        for chunk in chunks(list(keys), _CHUNK):
            query = select(u.c.entry_key, u.c.lot_key, u.c.points).where(u.c.entry_key.in_(chunk))
            for entry_key, lot_key, points in conn.execute(query.order_by(u.c.id)):
                found.setdefault(entry_key, []).append((lot_key, points))
        return found

    def _write(self, conn: Connection, book: Book) -> None:
        write_rows(conn, loyalty_entries, book.entries)
        write_rows(conn, loyalty_lines, book.lines)
        new = [
            {"key": lot.key, "customer_id": lot.customer_id, "earned_at": lot.earned_at,
             "expires_at": lot.expires_at, "points": lot.points, "remaining": lot.remaining}
            for lot in book.new_lots
        ]  # fmt: skip
        write_rows(conn, loyalty_lots, new)
        write_rows(conn, loyalty_lot_uses, book.uses)
        changed = [
            {"b_key": lot.key, "b_remaining": lot.remaining}
            for account in book.accounts.values()
            for lot in (account.lots or {}).values()
            if lot.changed and not lot.new
        ]
        if changed:
            conn.execute(
                update(loyalty_lots)
                .where(loyalty_lots.c.key == bindparam("b_key"))
                .values(remaining=bindparam("b_remaining")),
                changed,
            )
        moved = [
            {
                "b_cid": acc.customer_id,
                "b_updated": book.now,
                **{f"b_{c}": getattr(acc, c) for c in _TOTALS},
            }
            for acc in book.accounts.values()
            if acc.changed
        ]
        if moved:
            a = loyalty_accounts
            conn.execute(
                update(a)
                .where(a.c.customer_id == bindparam("b_cid"))
                .values(
                    updated_at=bindparam("b_updated"), **{c: bindparam(f"b_{c}") for c in _TOTALS}
                ),
                moved,
            )
        if self.postgres and len(book.entries) >= _ANALYZE_AFTER:
            # A big batch into a young table leaves PostgreSQL's statistics describing a far
            # smaller one: the next key lookups (`key IN (...)`) would then be planned as
            # sequential scans, O(rows x keys). Measured: a retry of 100k postings took 515 s
            # without this, under a second with it.
            conn.exec_driver_sql("ANALYZE loyalty_entries, loyalty_lines, loyalty_lots")
