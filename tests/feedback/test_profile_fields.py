"""Feedback as profile fields: the latest NPS/CSAT answer per customer and their NPS group in
`customer_360`, usable by a segment rule."""

from __future__ import annotations

from pathlib import Path

from cvm.ingest import ingest
from cvm.profiles.views import ensure_profile_tables
from cvm.workspace import init_workspace

ANSWERS = """response_id,customer_id,survey,score,responded_at
r1,c1,nps,3,2026-01-05 10:00:00
r2,c1,nps,10,2026-02-05 10:00:00
r3,c2,nps,9,2026-01-06 10:00:00
r4,c2,nps,5,2026-03-06 10:00:00
r5,c2,csat,4,2026-03-07 10:00:00
r6,c3,csat,2,2026-03-01 10:00:00
"""


def test_latest_answers_become_profile_fields_and_a_segment_uses_them(tmp_path: Path) -> None:
    from cvm.segments.definition import SegmentDefinition
    from cvm.segments.query import segment_size
    from cvm.segments.store import open_store

    ws = init_workspace(tmp_path / "ws")
    try:
        people = tmp_path / "customers.csv"
        people.write_text("customer_id\nc1\nc2\nc3\nc4\n", encoding="utf-8")
        ingest(ws, "customers", people)
        path = tmp_path / "answers.csv"
        path.write_text(ANSWERS, encoding="utf-8")
        ingest(ws, "survey_responses", path)
        ensure_profile_tables(ws.engine)
        rows = ws.engine.fetch_rows(
            "SELECT customer_id, feedback_last_nps, feedback_last_csat, feedback_nps_group, "
            "feedback_detractor_answers FROM customer_360 ORDER BY customer_id"
        )
        assert rows == [
            ("c1", 10, None, "promoter", 1),  # the latest answer counts, not the worst
            ("c2", 5, 4, "detractor", 1),
            ("c3", None, 2, None, 0),  # CSAT only: no NPS group
            ("c4", None, None, None, None),  # never answered
        ]
        rule = SegmentDefinition.model_validate(
            {
                "name": "detractors",
                "rule": {
                    "kind": "profile",
                    "field": "feedback_nps_group",
                    "op": "eq",
                    "value": "detractor",
                },
            }
        )
        store = open_store(ws)
        store.save(rule)
        assert segment_size(store, "detractors") == 1
    finally:
        ws.close()
