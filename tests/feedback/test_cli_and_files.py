"""Survey answers from a CSV file through `cvm ingest` and `cvm feedback ingest` (bad scores
quarantined with counts that reconcile), and the summary breakdowns and CLI on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvm.cli.app import app
from cvm.feedback.responses import quarantine_invalid_scores
from cvm.feedback.summary import FeedbackError, summarize_feedback
from cvm.ingest import ingest
from cvm.workspace import init_workspace

CSV = """response_id,customer_id,survey,score,comment,channel,touchpoint,responded_at
r1,c1,nps,10,fast delivery,web,delivery,2026-01-05 10:00:00
r2,c2,nps,3,parcel arrived late,app,delivery,2026-02-05 10:00:00
r3,c3,nps,11,too high,web,,2026-02-06 10:00:00
r4,c1,csat,0,too low,web,support,2026-02-07 10:00:00
r5,c2,csat,5,helpful agent,web,support,2026-02-08 10:00:00
r6,c3,nps,8,fine,store,,2026-02-09 10:00:00
r7,c4,csat,2,slow answer,,support,2026-03-01 10:00:00
"""
runner = CliRunner()


@pytest.fixture
def responses_csv(tmp_path: Path) -> Path:
    path = tmp_path / "responses.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_ingest_then_per_survey_quarantine_reconciles(tmp_path: Path, responses_csv: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        result = ingest(ws, "survey_responses", responses_csv)
        # The contract's 0-10 range catches the NPS 11 and its CSAT row rule the CSAT 0, both
        # during validation, with their file lines.
        assert (result.read, result.accepted, result.quarantined) == (7, 5, 2)
        assert result.reasons == {"above maximum 10": 1, "CSAT score outside 1-5": 1}
        assert quarantine_invalid_scores(ws.engine) == 0  # nothing left to move
        read, accepted, quarantined = ws.engine.fetch_rows(
            "SELECT rows_read, rows_accepted, rows_quarantined FROM ingest_runs"
        )[0]
        assert (read, accepted, quarantined) == (7, 5, 2)
        # Answers that reach the table another way are still checked after loading.
        ws.engine.execute(
            "INSERT INTO survey_responses (response_id, customer_id, survey, score, comment, "
            "responded_at, _ingest_run) SELECT 'r9', 'c9', 'csat', 9, 'too low', "
            "TIMESTAMP '2026-03-02 10:00:00', _ingest_run FROM survey_responses LIMIT 1"
        )
        assert quarantine_invalid_scores(ws.engine) == 1
        reasons = ws.engine.fetch_rows(
            "SELECT column_name, reason, raw FROM quarantine WHERE row_number = 0"
        )
        assert reasons[0][:2] == ("score", "score 9 is outside 1-5 for csat")
        assert "too low" not in reasons[0][2]  # the comment is not copied around
        ids = [r[0] for r in ws.engine.fetch_rows("SELECT response_id FROM survey_responses")]
        assert sorted(ids) == ["r1", "r2", "r5", "r6", "r7"]

        (nps,) = summarize_feedback(ws.engine, "nps")
        assert (nps.n, nps.score, nps.promoters, nps.detractors) == (3, 0.0, 1, 1)
        by_channel = {r.group: r for r in summarize_feedback(ws.engine, "csat", "channel")}
        assert set(by_channel) == {"web", "(none)"}
        assert by_channel["web"].score == 100.0 and by_channel["(none)"].score == 0.0
        months = [r.group for r in summarize_feedback(ws.engine, "nps", "month")]
        assert months == ["2026-01", "2026-02"]
        with pytest.raises(FeedbackError, match="cvm segments refresh"):
            summarize_feedback(ws.engine, "nps", "segment")
        ws.engine.execute(
            "CREATE TABLE segment_membership AS SELECT * FROM (VALUES "
            "('vip', 'c1', TIMESTAMP '2026-01-01'), ('vip', 'c3', TIMESTAMP '2026-01-01'), "
            "('all', 'c1', TIMESTAMP '2026-01-01'), ('all', 'c2', TIMESTAMP '2026-01-01')) "
            "AS t(segment, customer_id, entered_at)"
        )
        by_segment = {r.group: r for r in summarize_feedback(ws.engine, "nps", "segment")}
        assert (by_segment["vip"].n, by_segment["vip"].score) == (2, 50.0)
        assert (by_segment["all"].n, by_segment["all"].score) == (2, 0.0)
    finally:
        ws.close()


def test_cli_ingest_summary_topics(tmp_path: Path, responses_csv: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    loaded = runner.invoke(
        app, ["feedback", "ingest", str(responses_csv), "--json", "--workspace", str(root)]
    )
    assert loaded.exit_code == 0, loaded.output
    counts = json.loads(loaded.output)
    assert (counts["read"], counts["accepted"], counts["quarantined"]) == (7, 5, 2)
    shown = runner.invoke(app, ["feedback", "summary", "--by", "touchpoint", "-w", str(root)])
    assert shown.exit_code == 0 and "delivery" in shown.output and "95% interval" in shown.output
    csat = runner.invoke(
        app, ["feedback", "summary", "--survey", "csat", "--json", "-w", str(root)]
    )
    assert json.loads(csat.output)[0]["n"] == 2
    bad = runner.invoke(app, ["feedback", "summary", "--by", "colour", "-w", str(root)])
    # `cvm`'s entry point turns this CvmError into exit code 2 and the one-line message.
    assert isinstance(bad.exception, FeedbackError) and bad.exception.exit_code == 2
    assert "--by must be one of" in str(bad.exception)
    again = runner.invoke(app, ["feedback", "check", "--json", "-w", str(root)])
    assert json.loads(again.output) == {"quarantined": 0}
    topics = runner.invoke(app, ["feedback", "topics", "--topics", "2", "--json", "-w", str(root)])
    assert topics.exit_code == 0, topics.output
    found = json.loads(topics.output)
    assert found["comments"] == 5 and sum(t["count"] for t in found["topics"]) == 5
