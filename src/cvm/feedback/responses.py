"""The warehouse `survey_responses` table: filled from API events, checked per survey.

Two roads lead into the table:

- **files**, through `cvm ingest survey_responses FILE` (the contract's checks: required
  fields, `survey` in nps|csat, score 0-10). The contract has one score range for both
  questions, so `quarantine_invalid_scores` then moves CSAT answers outside 1-5 to the
  `quarantine` table (with the run, source, reason and the row as JSON) and corrects the run's
  reconciliation counts: read = accepted + quarantined still holds.
- **the API**: `POST /v1/surveys/responses` stores each accepted answer as a
  ``Survey Responded`` track event in the intake log (durable before the answer, and the
  campaign triggers see it); after each loader batch `copy_responses_from_events` copies new
  ones (by `response_id`, so a retried post is stored once) with the customer the identity
  graph resolved.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from cvm.core.contracts import SURVEY_RESPONSES
from cvm.core.timewindows import utc_now as _now
from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.engine.warehouse import INGEST_RUNS, QUARANTINE

SURVEY_EVENT = "Survey Responded"
API_SOURCE = "api"

# Invalid per-survey: the contract already refuses scores outside 0-10 and unknown surveys.
_INVALID = "(survey = 'csat' AND (score < 1 OR score > 5))"

_COPY_FROM_EVENTS = """
INSERT INTO survey_responses (response_id, customer_id, survey, score, comment, channel,
                              touchpoint, responded_at, _source, _ingest_run, _loaded_at)
SELECT response_id, customer_id, survey, score, comment, channel, touchpoint, responded_at,
       :source, _ingest_run, :loaded_at
FROM (
  SELECT json_extract_string(e.properties, '$.response_id') AS response_id,
         e.customer_id,
         json_extract_string(e.properties, '$.survey') AS survey,
         CAST(json_extract_string(e.properties, '$.score') AS BIGINT) AS score,
         json_extract_string(e.properties, '$.comment') AS comment,
         json_extract_string(e.properties, '$.channel') AS channel,
         json_extract_string(e.properties, '$.touchpoint') AS touchpoint,
         e.occurred_at AS responded_at,
         e._ingest_run,
         row_number() OVER (
           PARTITION BY json_extract_string(e.properties, '$.response_id')
           ORDER BY e.received_at, e.event_id) AS pick
  FROM events AS e
  WHERE e.name = :event AND e.customer_id IS NOT NULL
) AS incoming
WHERE pick = 1 AND response_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM survey_responses AS s WHERE s.response_id = incoming.response_id)
"""

_COUNT = "SELECT count(*) FROM survey_responses"

_QUARANTINE_INVALID = f"""
INSERT INTO quarantine (ingest_run, table_name, source, row_number, column_name, reason, raw,
                        quarantined_at)
SELECT coalesce(_ingest_run, ''), 'survey_responses', coalesce(_source, ''), 0, 'score',
       'score ' || CAST(score AS VARCHAR) || ' is outside 1-5 for csat',
       to_json(struct_pack(response_id := response_id, customer_id := customer_id,
                           survey := survey, score := score))::VARCHAR,
       :at
FROM survey_responses WHERE {_INVALID}
"""  # noqa: S608  (constant SQL: the condition is ours, nothing from input)

_INVALID_BY_RUN = f"""
SELECT coalesce(_ingest_run, '') AS run, count(*) AS n FROM survey_responses
WHERE {_INVALID} GROUP BY 1
"""  # noqa: S608

_FIX_RUN = """
UPDATE ingest_runs SET rows_accepted = rows_accepted - :n,
                       rows_quarantined = rows_quarantined + :n,
                       rows_inserted = greatest(rows_inserted - :n, 0)
WHERE ingest_run = :run
"""

_DELETE_INVALID = f"DELETE FROM survey_responses WHERE {_INVALID}"  # noqa: S608


def ensure_responses_table(engine: Engine) -> None:
    engine.ensure_table(SURVEY_RESPONSES)


def response_count(engine: Engine) -> int:
    ensure_responses_table(engine)
    return int(engine.fetch_scalar(_COUNT) or 0)  # type: ignore[call-overload]


def copy_responses_from_events(engine: Engine) -> int:
    """Copy API answers (``Survey Responded`` events) not yet in the table; returns how many.

    Idempotent: a response id already present is skipped, and of several events with the same
    id (a client retry) the first received wins.
    """
    ensure_responses_table(engine)
    if not engine.table_exists("events"):
        return 0
    before = response_count(engine)
    engine.execute(bind(_COPY_FROM_EVENTS, event=SURVEY_EVENT, source=API_SOURCE, loaded_at=_now()))
    return response_count(engine) - before


def quarantine_invalid_scores(engine: Engine) -> int:
    """Move answers whose score is outside their survey's range to the quarantine.

    The row's line in the source file is no longer known after loading, so `row_number` is 0
    and `raw` holds the response's id, customer, survey and score (never the comment).
    """
    ensure_responses_table(engine)
    for contract in (QUARANTINE, INGEST_RUNS):
        engine.ensure_table(contract)
    runs = [(str(run), int(str(n))) for run, n in engine.fetch_rows(_INVALID_BY_RUN)]
    if not runs:
        return 0
    engine.execute("BEGIN TRANSACTION")
    try:
        engine.execute(bind(_QUARANTINE_INVALID, at=_now()))
        for run, n in runs:
            engine.execute(bind(_FIX_RUN, n=n, run=run))
        engine.execute(_DELETE_INVALID)
        engine.execute("COMMIT")
    except BaseException:
        engine.execute("ROLLBACK")
        raise
    return sum(n for _, n in runs)


def on_loaded_batch(engine: Engine) -> Callable[[pa.Table | None], int]:
    """A loader batch hook: copy new survey answers after each micro-batch that has some."""

    def hook(table: pa.Table | None) -> int:
        if table is None or table.num_rows == 0:
            return 0
        if SURVEY_EVENT not in set(table.column("name").to_pylist()):
            return 0
        return copy_responses_from_events(engine)

    return hook
