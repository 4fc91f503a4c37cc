"""Marketing consent histories per customer and channel (e-mail, SMS, push).

Every customer decides at signup for e-mail and SMS (push only when they have the app): a grant
or a denial from the signup form. Some who said no opt in later from the preference centre, and
some who said yes withdraw later (e-mail through the unsubscribe link). The history keeps every
decision, so "current consent" is the latest row per (customer, channel, purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cvm.core.contracts import CONSENTS
from cvm.demo.arrow_columns import assemble, pick, timestamps

CONSENT_CHANNELS: tuple[str, ...] = ("email", "sms", "push")
_GRANT_AT_SIGNUP = np.array([0.72, 0.42, 0.60])
_LATER_OPT_IN = np.array([0.08, 0.04, 0.10])  # share of refusers who change their mind
_WITHDRAW_PER_YEAR = np.array([0.10, 0.15, 0.20])
_WITHDRAW_SOURCE = ("unsubscribe_link", "api", "api")
SOURCES: tuple[str, ...] = ("signup_form", "unsubscribe_link", "api")
_STATUS: tuple[str, ...] = ("granted", "denied")


@dataclass
class ConsentHistory:
    """Per customer and channel: when consent began and ended (inf = never), plus the rows."""

    # (customers, channels): start of the granted interval (inf when never granted) and its
    # end (inf when never withdrawn within the period). The campaign may move e-mail ends.
    granted_from: npt.NDArray[np.float64]
    granted_until: npt.NDArray[np.float64]
    # The denial recorded at signup (inf when the customer granted or was never asked).
    denied_at_signup: npt.NDArray[np.float64]
    asked: npt.NDArray[np.bool_]
    withdraw_source: npt.NDArray[np.int64]  # index into SOURCES per (customer, channel)

    def granted_at(self, channel: int, time: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        return (self.granted_from[:, channel] <= time) & (time < self.granted_until[:, channel])


def draw_consents(
    rng: np.random.Generator,
    signup_time: npt.NDArray[np.float64],
    app_user: npt.NDArray[np.bool_],
    span_days: int,
) -> ConsentHistory:
    n = signup_time.shape[0]
    k = len(CONSENT_CHANNELS)
    asked = np.ones((n, k), dtype=bool)
    asked[:, 2] = app_user  # push needs the app
    # The form is submitted a few seconds to minutes after the first order.
    decided = signup_time[:, None] + rng.uniform(10, 600, (n, k)) / 86400.0
    grant = asked & (rng.random((n, k)) < _GRANT_AT_SIGNUP)
    denied_at_signup = np.where(asked & ~grant, decided, np.inf)

    remaining = span_days - decided
    later = asked & ~grant & (rng.random((n, k)) < _LATER_OPT_IN)
    later_at = decided + rng.random((n, k)) * remaining
    granted_from = np.where(grant, decided, np.where(later, later_at, np.inf))

    wait = rng.exponential(365.0 / _WITHDRAW_PER_YEAR, (n, k))
    until = granted_from + wait
    granted_until = np.where(np.isfinite(granted_from) & (until < span_days), until, np.inf)
    withdraw_source = np.tile(np.array([SOURCES.index(s) for s in _WITHDRAW_SOURCE]), (n, 1))
    return ConsentHistory(
        granted_from=granted_from,
        granted_until=granted_until,
        denied_at_signup=denied_at_signup,
        asked=asked,
        withdraw_source=withdraw_source,
    )


def consents_table(
    history: ConsentHistory, customer_ids: pa.Array, start: date, span_days: int
) -> pa.Table:
    """The canonical `consents` rows of one chunk, ordered by customer, channel and time."""
    n, k = history.granted_from.shape
    cust = np.tile(np.arange(n)[:, None], (1, k))
    chan = np.tile(np.arange(k)[None, :], (n, 1))
    signup_grant = np.isfinite(history.granted_from) & ~np.isfinite(history.denied_at_signup)
    later_grant = np.isfinite(history.granted_from) & np.isfinite(history.denied_at_signup)
    withdraw = np.isfinite(history.granted_until) & (history.granted_until < span_days)
    parts = [
        # (mask, time, status, source)
        (np.isfinite(history.denied_at_signup), history.denied_at_signup, 1, np.zeros_like(chan)),
        (signup_grant, history.granted_from, 0, np.zeros_like(chan)),
        (later_grant, history.granted_from, 0, np.full_like(chan, SOURCES.index("api"))),
        (withdraw, history.granted_until, 1, history.withdraw_source),
    ]
    c_idx = np.concatenate([cust[m] for m, *_ in parts])
    ch_idx = np.concatenate([chan[m] for m, *_ in parts])
    time = np.concatenate([t[m] for m, t, *_ in parts])
    status = np.concatenate([np.full(int(m.sum()), s) for m, _, s, _ in parts])
    source = np.concatenate([src[m] for m, _, _, src in parts])
    order = np.lexsort((time, ch_idx, c_idx))
    c_idx, ch_idx, time, status, source = (a[order] for a in (c_idx, ch_idx, time, status, source))
    return assemble(
        CONSENTS,
        {
            "customer_id": pc.take(customer_ids, pa.array(c_idx)),
            "channel": pick(CONSENT_CHANNELS, ch_idx),
            "purpose": pick(("marketing",), np.zeros_like(ch_idx)),
            "status": pick(_STATUS, status.astype(np.int64)),
            "occurred_at": timestamps(start, time),
            "source": pick(SOURCES, source),
        },
    )
