"""Data checks for acquisition economics.

* Money in another currency than the workspace's makes every ratio meaningless, so it is an
  error naming the rows (spend: month and channel; transactions: transaction and line id).
  A NULL currency means the workspace's.
* Spend for a channel (or month) that acquired nobody, and customers from a channel without
  spend, are warnings: the numbers are still right, but someone should look.
"""

from __future__ import annotations

from collections import defaultdict

from cvm.acquisition import queries
from cvm.acquisition.cohorts import Cohort
from cvm.core.errors import UserInputError
from cvm.engine.base import Engine

_SHOWN = 5


def check_currencies(engine: Engine, currency: str) -> None:
    """Raise `UserInputError` naming the spend or transaction rows in a foreign currency."""
    spend = queries.foreign_currency_spend(engine, currency)
    if spend:
        named = "; ".join(
            f"month {r['month']} channel {r['acquisition_channel']!r} currency {r['currency']!r}"
            for r in spend[:_SHOWN]
        )
        more = f" and {len(spend) - _SHOWN} more" if len(spend) > _SHOWN else ""
        raise UserInputError(
            f"marketing_spend: {len(spend)} row(s) not in the workspace currency {currency}: "
            f"{named}{more}. Convert them to {currency} (or set workspace.currency) and ingest again."
        )
    count, lines = queries.foreign_currency_transactions(engine, currency, _SHOWN)
    if count:
        named = "; ".join(
            f"transaction {r['transaction_id']!r} line {r['line_id']!r} currency {r['currency']!r}"
            for r in lines
        )
        more = f" and {count - len(lines)} more" if count > len(lines) else ""
        raise UserInputError(
            f"transactions: {count} line(s) not in the workspace currency {currency}: "
            f"{named}{more}. CLV/CAC needs revenue and spend in one currency."
        )


def coverage_warnings(cohorts: list[Cohort]) -> list[str]:
    """Spend without customers and customers without spend, channel by channel."""
    by_channel: dict[str, list[Cohort]] = defaultdict(list)
    for c in cohorts:
        by_channel[c.channel].append(c)
    warnings: list[str] = []
    for channel, mine in sorted(by_channel.items()):
        spend = sum(c.spend for c in mine)
        new = sum(c.new_customers for c in mine)
        if spend > 0 and new == 0:
            warnings.append(
                f"channel {channel!r}: spend {spend:,.2f} in {sum(c.spend_rows for c in mine)} "
                "row(s) but no customer acquired through it (check customers.acquisition_channel)"
            )
            continue
        if spend == 0 and new > 0:
            warnings.append(
                f"channel {channel!r}: {new:,} customers but no spend: reported as unpaid "
                "(organic or unattributed), with no CLV/CAC ratio"
            )
            continue
        idle = [c.month.isoformat()[:7] for c in mine if c.spend > 0 and c.new_customers == 0]
        if idle:
            warnings.append(
                f"channel {channel!r}: spend in {len(idle)} month(s) without a new customer "
                f"({_months(idle)}): no CAC for those months"
            )
        free = [c for c in mine if c.spend == 0 and c.new_customers > 0]
        if free:
            warnings.append(
                f"channel {channel!r}: {sum(c.new_customers for c in free):,} customers signed "
                f"up in {len(free)} month(s) without spend "
                f"({_months([c.month.isoformat()[:7] for c in free])}): those cohorts have no CAC"
            )
    return warnings


def _months(months: list[str]) -> str:
    return ", ".join(months[:_SHOWN]) + (" ..." if len(months) > _SHOWN else "")
