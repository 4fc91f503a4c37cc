"""NPS and CSAT overall and by segment, channel, touchpoint or month, counted on the engine.

The engine counts (one grouped query: promoters, passives, detractors or satisfied answers,
mean score); the intervals come from `cvm.feedback.scores` on those counts. By segment means
by *current* membership (`segment_membership`): a customer in two segments counts in both,
and each segment's answers are all its members' answers. Answers outside their survey's range
(which `cvm.feedback.responses.quarantine_invalid_scores` removes after a file load) are left
out here too, so a figure never mixes in an impossible score.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.feedback.responses import ensure_responses_table
from cvm.feedback.scores import SURVEYS, estimate_csat, estimate_nps

Breakdown = Literal["segment", "channel", "touchpoint", "month"]
BREAKDOWNS: tuple[Breakdown, ...] = ("segment", "channel", "touchpoint", "month")
NONE_LABEL = "(none)"

_COUNTS = """
SELECT {key} AS grp,
       count(*) AS n,
       sum(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
       sum(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
       sum(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors,
       sum(CASE WHEN r.score >= 4 THEN 1 ELSE 0 END) AS satisfied,
       avg(r.score) AS mean_score
FROM survey_responses AS r {join}
WHERE r.survey = :survey
  AND r.score BETWEEN :low AND :high
  AND r.responded_at >= :since AND r.responded_at < :until
GROUP BY 1
ORDER BY 1
"""

_KEYS: dict[str, tuple[str, str]] = {
    "all": ("'all'", ""),
    "channel": ("coalesce(r.channel, :none)", ""),
    "touchpoint": ("coalesce(r.touchpoint, :none)", ""),
    "month": ("CAST(date_trunc('month', r.responded_at) AS DATE)", ""),
    "segment": ("m.segment", "JOIN segment_membership AS m ON m.customer_id = r.customer_id"),
}
_RANGES = {"nps": (0, 10), "csat": (1, 5)}


class FeedbackError(UserInputError):
    """A feedback request that cannot be answered (unknown breakdown, no segments)."""


@dataclass(frozen=True)
class ScoreRow:
    """One group's figure: NPS (-100..100) or CSAT (percent), with its interval."""

    group: str
    survey: str
    n: int
    score: float
    low: float
    high: float
    mean_score: float | None
    promoters: int | None = None
    detractors: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group, "survey": self.survey, "n": self.n,
            "score": self.score, "low": self.low, "high": self.high,
            "mean_score": self.mean_score, "promoters": self.promoters,
            "detractors": self.detractors,
        }  # fmt: skip


def _query(survey: str, by: str, since: dt.datetime, until: dt.datetime) -> exp.Expression:
    key, join = _KEYS[by]
    # The key and join are our own constants, chosen from a closed set; values are bound.
    template = _COUNTS.replace("{key}", key).replace("{join}", join)
    low, high = _RANGES[survey]
    values: dict[str, Any] = {"survey": survey, "low": low, "high": high}
    values |= {"since": since, "until": until}
    if ":none" in key:
        values["none"] = NONE_LABEL
    return bind(template, **values)


def _row(survey: str, record: dict[str, Any], alpha: float) -> ScoreRow:
    group = record["grp"]
    label = group.isoformat()[:7] if isinstance(group, dt.date) else str(group)
    mean = float(record["mean_score"]) if record["mean_score"] is not None else None
    if survey == "nps":
        nps = estimate_nps(
            int(record["promoters"]), int(record["passives"]), int(record["detractors"]),
            alpha, mean,
        )  # fmt: skip
        return ScoreRow(
            label, survey, nps.n, nps.nps, nps.low, nps.high, mean, nps.promoters, nps.detractors
        )
    csat = estimate_csat(int(record["satisfied"]), int(record["n"]), alpha, mean)
    return ScoreRow(label, survey, csat.n, csat.csat, csat.low, csat.high, mean)


def summarize_feedback(
    engine: Engine,
    survey: str = "nps",
    by: str | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    alpha: float = 0.05,
) -> list[ScoreRow]:
    """NPS or CSAT overall (`by=None`) or one row per group of `by`."""
    if survey not in SURVEYS:
        raise FeedbackError(f"--survey must be one of {', '.join(SURVEYS)}, got {survey!r}")
    if by is not None and by not in BREAKDOWNS:
        raise FeedbackError(f"--by must be one of {', '.join(BREAKDOWNS)}, got {by!r}")
    ensure_responses_table(engine)
    if by == "segment" and not engine.table_exists("segment_membership"):
        raise FeedbackError("no segment memberships yet: run `cvm segments refresh` first")
    start = since or dt.datetime(1900, 1, 1)
    end = until or dt.datetime(9999, 1, 1)
    table = engine.fetch_arrow(_query(survey, by or "all", start, end))
    return [_row(survey, r, alpha) for r in table.to_pylist() if int(r["n"]) > 0]


def overall(engine: Engine, survey: str, alpha: float = 0.05) -> ScoreRow | None:
    """The whole-population figure, or None without answers to that survey."""
    rows = summarize_feedback(engine, survey, None, alpha=alpha)
    return rows[0] if rows else None
