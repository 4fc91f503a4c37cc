"""Referrals: a member's code brings a new customer; a qualified referral rewards both, once.

Flow: the new customer enrolls with a referrer's code (`ReferralProgramme.enroll`); the
referral is recorded ``pending``, or ``rejected`` with the fraud guard's reason. When the
caller reports the referee's first purchase (`qualify`), a purchase of at least
``min_purchase`` makes it ``qualified`` and posts the two earn postings (keys
``referral:<referee>:referrer`` and ``…:referee``, so a retry rewards once), in one
transaction that holds both members' account locks.

Fraud guards (checked at enrollment and again at qualification, when the identity graph may
know more): self-referral (the same customer, also after identity resolution merged them);
the referee sharing an identifier (e-mail, phone, device/anonymous id, user id, external id)
with the referrer; more than ``monthly_cap`` rewarded referrals of one referrer in a calendar
month (checked under the referrer's account lock, so concurrent qualifications cannot pass
the cap together).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cvm.core.errors import NotFoundError, UserInputError
from cvm.identity.identifiers import normalize_identifier
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_referrals import Identifier, ReferralStore

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass(frozen=True)
class ReferralRules:
    referrer_points: int = 500
    referee_points: int = 250
    min_purchase: float = 20.0  # currency units of the first purchase
    monthly_cap: int = 10  # rewarded referrals per referrer per calendar month


@dataclass(frozen=True)
class ReferralOutcome:
    referee_id: str
    referrer_id: str
    status: str  # pending | qualified | rejected
    reason: str | None = None
    points_posted: int = 0


def fraud_reason(
    referrer_id: str,
    referee_id: str,
    referrer_identifiers: Iterable[Identifier],
    referee_identifiers: Iterable[Identifier],
) -> str | None:
    """Why this referral is not rewarded, or None. Identifier values are never included in the
    reason (they are personal data); only their kinds are."""
    if referrer_id == referee_id:
        return "self-referral"
    shared = set(referrer_identifiers) & set(referee_identifiers)
    if shared:
        kinds = ", ".join(sorted({kind for kind, _ in shared}))
        return f"referee shares identifiers with the referrer ({kinds})"
    return None


def _month(at: datetime) -> tuple[datetime, datetime]:
    start = datetime(at.year, at.month, 1)
    end = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1)
    return start, end


class ReferralProgramme:
    """The referral rules over the ledger and the referral store."""

    def __init__(self, ledger: LoyaltyLedger, rules: ReferralRules | None = None) -> None:
        self.ledger = ledger
        self.rules = rules or ReferralRules()
        self.store = ReferralStore(ledger.engine)

    def enroll(
        self,
        customer_id: str,
        code: str,
        at: datetime,
        identifiers: Mapping[str, str] | None = None,
        default_country: str = "US",
    ) -> ReferralOutcome:
        """Enroll `customer_id` as referred by the owner of `code`.

        `identifiers` ({kind: raw value}: email, phone, anonymous_id, ...) are those the new
        customer gave at sign-up, compared with the referrer's after normalisation.
        """
        given = self._normalised(identifiers or {}, default_country)
        with self.ledger.engine.connect() as conn:
            referrer = self.store.code_owner(conn, code)
        if referrer is None:
            raise NotFoundError(f"no member has the referral code {code!r}")
        with self.ledger.transaction() as conn:
            codes: dict[str, str | None] = {customer_id: code.strip().upper()}
            if not self.ledger.enroll_in(conn, [(customer_id, at)], codes)[0]:
                raise UserInputError(
                    f"customer {customer_id!r} is already a member; a referral is for new members"
                )
            reason = self._guard(conn, referrer, customer_id, given)
            status = "rejected" if reason else "pending"
            self.store.add(
                conn,
                {
                    "referee_id": customer_id,
                    "referrer_id": referrer,
                    "code": code.strip().upper(),
                    "enrolled_at": at,
                    "status": status,
                    "reason": reason,
                },
            )
        return ReferralOutcome(customer_id, referrer, status, reason)

    def _guard(
        self, conn: Connection, referrer: str, referee: str, given: set[Identifier]
    ) -> str | None:
        """`fraud_reason` on the profiles both customers live on after identity merges."""
        survivors = self.store.survivor(conn, referrer), self.store.survivor(conn, referee)
        known = self.store.identifiers(conn, [*survivors, referrer, referee])
        return fraud_reason(
            survivors[0],
            survivors[1],
            known[referrer] | known[survivors[0]],
            known[referee] | known[survivors[1]] | given,
        )

    @staticmethod
    def _normalised(identifiers: Mapping[str, str], default_country: str) -> set[Identifier]:
        found: set[Identifier] = set()
        for kind, raw in identifiers.items():
            try:
                ident = normalize_identifier(kind, raw, default_country)
            except ValueError as exc:
                raise UserInputError(f"identifiers: {exc}") from None
            if ident is not None:
                found.add((ident.kind, ident.value))
        return found

    def qualify(
        self,
        referee_id: str,
        purchase_amount: float,
        at: datetime,
        order_reference: str | None = None,
    ) -> ReferralOutcome:
        """Report the referee's first purchase; rewards both members once if it qualifies."""
        with self.ledger.engine.connect() as conn:
            found = self.store.get(conn, referee_id)
        if found is None:
            raise NotFoundError(f"customer {referee_id!r} was not referred")
        referrer = found["referrer_id"]
        with self.ledger.transaction() as conn:
            self.ledger.lock_accounts(conn, sorted({referrer, referee_id}))
            row = self.store.get(conn, referee_id)
            assert row is not None
            if row["status"] != "pending":
                return ReferralOutcome(referee_id, referrer, row["status"], row["reason"])
            if purchase_amount < self.rules.min_purchase:
                low = f"first purchase {purchase_amount:g} is below the minimum {self.rules.min_purchase:g}"
                return ReferralOutcome(referee_id, referrer, "pending", low)
            reason = self._guard(conn, referrer, referee_id, set())
            if reason is None:
                start, end = _month(at)
                if self.store.rewarded_count(conn, referrer, start, end) >= self.rules.monthly_cap:
                    reason = f"referrer reached the cap of {self.rules.monthly_cap} rewarded referrals in {at:%Y-%m}"
            if reason is not None:
                self.store.set_status(conn, referee_id, "rejected", reason, at, order_reference)
                return ReferralOutcome(referee_id, referrer, "rejected", reason)
            postings = [
                Posting(f"referral:{referee_id}:referrer", referrer, "earn", self.rules.referrer_points, at, "referral", referee_id),
                Posting(f"referral:{referee_id}:referee", referee_id, "earn", self.rules.referee_points, at, "referral", referrer),
            ]  # fmt: skip
            report = self.ledger.post_in(conn, [p for p in postings if p.points > 0])
            if report.rejected:
                raise UserInputError(f"referral of {referee_id!r}: {report.rejected[0][1]}")
            self.store.set_status(conn, referee_id, "qualified", None, at, order_reference)
        return ReferralOutcome(referee_id, referrer, "qualified", None, report.posted)
