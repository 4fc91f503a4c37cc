"""Feedback as profile fields: each customer's latest NPS and CSAT answer, their NPS group and
how often they were a detractor, as the view `feedback_profile` over `survey_responses`.

`cvm.profiles.views` joins it into `customer_360`, so segments and offer rules can use
`feedback_nps_group = 'detractor'` (a win-back or service audience) like any profile field.
A view, not a table: it is current as soon as answers are loaded, with no stage to run.
"""

from __future__ import annotations

import sqlglot
import sqlglot.expressions as exp

from cvm.engine.base import Engine

FEEDBACK_PROFILE = "feedback_profile"

_SELECT = """
SELECT customer_id, feedback_last_response_at, feedback_last_nps, feedback_last_csat,
       feedback_detractor_answers,
       CASE WHEN feedback_last_nps IS NULL THEN NULL
            WHEN feedback_last_nps >= 9 THEN 'promoter'
            WHEN feedback_last_nps >= 7 THEN 'passive'
            ELSE 'detractor' END AS feedback_nps_group
FROM (
  SELECT customer_id,
         max(responded_at) AS feedback_last_response_at,
         arg_max(score, responded_at) FILTER (WHERE survey = 'nps') AS feedback_last_nps,
         arg_max(score, responded_at) FILTER (WHERE survey = 'csat') AS feedback_last_csat,
         count(*) FILTER (WHERE survey = 'nps' AND score <= 6) AS feedback_detractor_answers
  FROM survey_responses
  GROUP BY customer_id
) AS answers
"""


def ensure_feedback_profile(engine: Engine) -> bool:
    """(Re)create the view when answers can exist; returns whether it exists."""
    if not engine.table_exists("survey_responses"):
        return False
    select = sqlglot.parse_one(_SELECT, read="duckdb")
    engine.execute(
        exp.Create(
            this=exp.to_table(FEEDBACK_PROFILE), kind="VIEW", replace=True, expression=select
        )
    )
    return True
