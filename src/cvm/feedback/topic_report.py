"""Per-topic figures of the warehouse's comments: count, share, mean score, NPS, examples.

Reads the commented answers of `survey_responses`, fits `CommentTopics` on them and groups
the answers by their strongest topic. Mean score is per survey scale, so it is reported for
NPS answers (0-10) and CSAT answers (1-5) separately; NPS uses the NPS answers of the topic.
Examples are the comments with the largest weight on the topic: they are for the report and
the CLI, never for logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot.expressions as exp

from cvm.engine.base import Engine
from cvm.feedback.responses import ensure_responses_table
from cvm.feedback.scores import csat_of_scores, nps_of_scores
from cvm.feedback.topics import NO_TOPIC, CommentTopics

_COMMENTS = (
    exp.select("response_id", "survey", "score", "comment")
    .from_("survey_responses")
    .where(
        exp.and_(
            exp.column("comment").is_(exp.null()).not_(),
            exp.func("length", exp.func("trim", exp.column("comment"))) > 0,
            exp.or_(
                exp.and_(exp.column("survey").eq("nps"), exp.column("score").between(0, 10)),
                exp.and_(exp.column("survey").eq("csat"), exp.column("score").between(1, 5)),
            ),
        )
    )
    .order_by("response_id")
)


@dataclass
class TopicRow:
    topic: int
    name: str
    count: int
    share: float
    nps: float | None
    nps_n: int
    mean_nps_score: float | None
    csat: float | None
    csat_n: int
    mean_csat_score: float | None
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def summarize_topics(
    engine: Engine, n_topics: int = 5, examples: int = 3, random_state: int = 0
) -> tuple[list[TopicRow], int]:
    """Topic rows (largest first) and how many commented answers they were fitted on."""
    ensure_responses_table(engine)
    rows = engine.fetch_arrow(_COMMENTS).to_pylist()
    if not rows:
        return [], 0
    comments = [str(r["comment"]) for r in rows]
    model = CommentTopics(n_topics=n_topics, random_state=random_state).fit(comments)
    assigned = model.assign(comments)
    names = model.topic_names
    groups: dict[int, list[tuple[dict[str, Any], float]]] = {}
    for row, a in zip(rows, assigned, strict=True):
        groups.setdefault(a.topic, []).append((row, a.weight))
    out: list[TopicRow] = []
    for topic, members in groups.items():
        nps_scores = [int(r["score"]) for r, _ in members if r["survey"] == "nps"]
        csat_scores = [int(r["score"]) for r, _ in members if r["survey"] == "csat"]
        nps, csat = nps_of_scores(nps_scores), csat_of_scores(csat_scores)
        best = sorted(members, key=lambda m: (-m[1], m[0]["response_id"]))[:examples]
        out.append(
            TopicRow(
                topic=topic,
                name=names[topic] if topic != NO_TOPIC else "(no topic)",
                count=len(members),
                share=len(members) / len(rows),
                nps=_finite(nps.nps),
                nps_n=nps.n,
                mean_nps_score=nps.mean_score,
                csat=_finite(csat.csat),
                csat_n=csat.n,
                mean_csat_score=csat.mean_score,
                examples=[str(r["comment"]) for r, _ in best],
            )
        )
    out.sort(key=lambda t: (-t.count, t.topic))
    return out, len(rows)
