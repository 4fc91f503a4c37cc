"""Time windows shared by every stage."""

from __future__ import annotations

import datetime as dt


def end_of_day(day: dt.date) -> dt.datetime:
    """The exclusive end of ``day``: midnight that starts the next day.

    An observation end date is inclusive ("data up to 2024-12-31" counts that day's
    purchases), so queries filter on ``occurred_at < end_of_day(as_of)``.
    """
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


def utc_now() -> dt.datetime:
    """Now in UTC as a naive datetime: every stored timestamp is naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
