"""The loyalty ledger's arithmetic for one transaction, in memory: accounts, earn lots, entries.

`LoyaltyLedger` loads (and locks) the accounts and lots a batch touches, applies each posting
here, then writes what this book collected. Kept free of I/O so the rules read in one place:

- every entry has two journal lines, the member account and a programme account, summing to
  zero (double entry: ``issued`` for earn, ``redeemed``, ``breakage`` for expiry,
  ``adjustments``; a reversal mirrors the lines of the entry it reverses);
- a credit creates a lot; a debit consumes lots first-in first-out by expiry date (lots
  without expiry last), then earn time; points beyond the lots become a ``deficit`` (a
  negative balance), allowed only with ``allow_negative``, and paid off by the next credits;
- so ``balance == sum(lot.remaining) - deficit`` after every posting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["earn", "redeem", "expire", "adjust", "reverse"]
KINDS: tuple[str, ...] = ("earn", "redeem", "expire", "adjust", "reverse")
PROGRAMME_ACCOUNT = {
    "earn": "issued",
    "redeem": "redeemed",
    "expire": "breakage",
    "adjust": "adjustments",
}
# The account total a kind moves, and its sign (redeemed and expired are kept positive).
TOTALS = {"earn": ("earned", 1), "redeem": ("redeemed", -1), "expire": ("expired", -1)}
TOTALS["adjust"] = ("adjusted", 1)


@dataclass(frozen=True)
class Posting:
    """One ledger posting, signed from the member's side (earn > 0, redeem < 0, adjust ±)."""

    key: str
    customer_id: str
    kind: Kind
    points: int
    at: datetime
    reason: str = ""
    reference: str | None = None
    expires_at: datetime | None = None


@dataclass
class PostReport:
    posted: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: PostReport) -> None:
        self.posted += other.posted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


@dataclass
class Lot:
    key: str
    customer_id: str
    earned_at: datetime
    expires_at: datetime | None
    points: int
    remaining: int
    new: bool = False
    changed: bool = False

    def fifo_order(self) -> tuple[bool, datetime, datetime, str]:
        return (self.expires_at is None, self.expires_at or datetime.max, self.earned_at, self.key)


@dataclass
class Account:
    customer_id: str
    balance: int = 0
    deficit: int = 0
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0
    # Loaded only for accounts a batch debits or reverses (earns need no lot reads).
    lots: dict[str, Lot] | None = None
    changed: bool = False


def _check_sign(p: Posting) -> str | None:
    if p.kind not in KINDS:
        return f"unknown kind {p.kind!r}"
    if p.kind == "earn" and p.points <= 0:
        return "an earn posting needs points > 0"
    if p.kind in ("redeem", "expire") and p.points >= 0:
        return f"a {p.kind} posting needs points < 0"
    if p.kind == "adjust" and p.points == 0:
        return "an adjust posting needs points other than 0"
    return None


class Book:
    """Working set of one ledger transaction; collects rows for the caller to write."""

    def __init__(self, accounts: dict[str, Account], allow_negative: bool, now: datetime) -> None:
        self.accounts = accounts
        self.allow_negative = allow_negative
        self.now = now
        self.entries: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.uses: list[dict[str, Any]] = []
        self.new_lots: list[Lot] = []
        # Entries and lot uses written by this book, for reversals within the same batch.
        self.by_key: dict[str, dict[str, Any]] = {}
        self.uses_by_entry: dict[str, list[tuple[str, int]]] = {}
        self.reversed: set[str] = set()

    # -- postings ---------------------------------------------------------------------------
    def apply(
        self,
        p: Posting,
        original: dict[str, Any] | None = None,
        original_uses: list[tuple[str, int]] | None = None,
    ) -> str | None:
        """Apply one posting; return the reason it is rejected (nothing changes), or None."""
        problem = _check_sign(p)
        if problem:
            return problem
        account = self.accounts.get(p.customer_id)
        if account is None:
            return "not a member"
        if p.kind == "reverse":
            return self._reverse(p, account, original, original_uses or [])
        if p.points > 0:
            self._credit(account, p.points, p.key, p.at, p.expires_at)
        else:
            problem = self._debit(account, -p.points, p.key, prefer=None)
            if problem:
                return problem
        self._record(p, account, p.kind, p.kind, reverses=None)
        return None

    def expire_lot(self, lot: Lot, key: str, at: datetime) -> None:
        """Expire what is left of one lot (the lot itself, not FIFO: it is the one expiring)."""
        account = self.accounts[lot.customer_id]
        amount = lot.remaining
        lot.remaining = 0
        lot.changed = True
        account.balance -= amount
        account.changed = True
        self.uses.append({"entry_key": key, "lot_key": lot.key, "points": amount})
        posting = Posting(key, lot.customer_id, "expire", -amount, at, "expiry", lot.key)
        self._record(posting, account, "expire", "expire", reverses=None)

    def _reverse(
        self,
        p: Posting,
        account: Account,
        original: dict[str, Any] | None,
        original_uses: list[tuple[str, int]],
    ) -> str | None:
        if not p.reference:
            return "a reversal needs the key of the posting it reverses (reference)"
        original = original or self.by_key.get(p.reference)
        if original is None:
            return f"no posting with key {p.reference!r}"
        if original["kind"] == "reverse":
            return "a reversal cannot be reversed"
        if original["customer_id"] != p.customer_id:
            return f"posting {p.reference!r} belongs to another customer"
        if p.reference in self.reversed:
            return f"posting {p.reference!r} is already reversed"
        if p.points != -original["points"]:
            return f"a reversal of {p.reference!r} must post {-original['points']} points"
        if p.points < 0:
            # Undo a credit: take the points back from its own lot first.
            problem = self._debit(account, -p.points, p.key, prefer=p.reference)
            if problem:
                return problem
        else:
            uses = original_uses or self.uses_by_entry.get(p.reference, [])
            self._restore(account, p.points, uses, p.key, p.at)
        self._record(p, account, "reverse", original["kind"], reverses=p.reference)
        self.reversed.add(p.reference)
        return None

    # -- balance arithmetic ------------------------------------------------------------------
    def _credit(
        self, account: Account, amount: int, key: str, at: datetime, expires: datetime | None
    ) -> None:
        paid = min(account.deficit, amount)
        account.deficit -= paid
        account.balance += amount
        account.changed = True
        lot = Lot(key, account.customer_id, at, expires, amount, amount - paid, new=True)
        self.new_lots.append(lot)
        if account.lots is not None:
            account.lots[key] = lot

    def _debit(self, account: Account, amount: int, key: str, prefer: str | None) -> str | None:
        if not self.allow_negative and amount > account.balance:
            return f"insufficient balance: {account.balance} points, {amount} needed"
        assert account.lots is not None, "lots are loaded for every account a batch debits"
        open_lots = sorted(
            (lot for lot in account.lots.values() if lot.remaining > 0), key=Lot.fifo_order
        )
        if prefer is not None and prefer in account.lots:
            open_lots.sort(key=lambda lot: lot.key != prefer)  # stable: the rest stay FIFO
        left = amount
        used: list[tuple[str, int]] = []
        for lot in open_lots:
            if left == 0:
                break
            take = min(lot.remaining, left)
            lot.remaining -= take
            lot.changed = True
            left -= take
            used.append((lot.key, take))
        account.deficit += left
        account.balance -= amount
        account.changed = True
        self.uses.extend({"entry_key": key, "lot_key": k, "points": n} for k, n in used)
        self.uses_by_entry[key] = used
        return None

    def _restore(
        self, account: Account, amount: int, uses: list[tuple[str, int]], key: str, at: datetime
    ) -> None:
        """Give a reversed debit's points back to the lots it consumed; what it took beyond
        them (deficit) comes back as a credit that first pays off any current deficit."""
        assert account.lots is not None, "lots are loaded for every account a batch reverses"
        back = 0
        for lot_key, points in uses:
            lot = account.lots[lot_key]
            lot.remaining += points
            lot.changed = True
            back += points
        account.balance += back
        account.changed = True
        if amount > back:
            self._credit(account, amount - back, key, at, None)

    def _record(
        self, p: Posting, account: Account, kind: str, effect: str, reverses: str | None
    ) -> None:
        """Append the entry, its two lines and the running totals."""
        name, sign = TOTALS[effect]
        setattr(account, name, getattr(account, name) + sign * p.points)
        entry = {
            "key": p.key,
            "customer_id": p.customer_id,
            "kind": kind,
            "points": p.points,
            "at": p.at,
            "reason": p.reason,
            "reference": p.reference,
            "reverses": reverses,
            "expires_at": p.expires_at if p.points > 0 and kind != "reverse" else None,
            "recorded_at": self.now,
        }
        self.entries.append(entry)
        self.by_key[p.key] = entry
        for account_name, points in (("member", p.points), (PROGRAMME_ACCOUNT[effect], -p.points)):
            self.lines.append(
                {
                    "entry_key": p.key,
                    "customer_id": p.customer_id,
                    "account": account_name,
                    "points": points,
                    "at": p.at,
                }
            )
