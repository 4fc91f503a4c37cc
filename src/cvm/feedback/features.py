"""Survey answers as churn features at a cutoff (joined by `cvm.predict.features`).

Per customer, from the answers given strictly before the cutoff (no leakage):

- ``survey_last_nps``: the latest NPS score (0-10), NULL without one;
- ``survey_last_csat``: the latest CSAT score (1-5), NULL without one;
- ``survey_detractor_answers_180d``: NPS answers of 0-6 in the 180 days before the cutoff
  (0 for customers who answered nothing: the feature builder fills it);
- ``survey_days_since_last``: days from the latest answer of either survey to the cutoff.

Answers outside their survey's range are ignored. The columns exist only when some answer
precedes the training cutoff (`has_responses`, recorded in the `FeatureSpec`), so a workspace
without surveys builds exactly the feature matrix it built before.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlglot.expressions as exp

from cvm.engine.base import Engine
from cvm.engine.sql import bind

DETRACTOR_WINDOW_DAYS = 180
COLUMNS = (
    "survey_last_nps",
    "survey_last_csat",
    "survey_detractor_answers_180d",
    "survey_days_since_last",
)
COUNT_COLUMNS = ("survey_detractor_answers_180d",)

_VALID = """
responded_at < :cutoff AND customer_id IS NOT NULL
AND ((survey = 'nps' AND score BETWEEN 0 AND 10) OR (survey = 'csat' AND score BETWEEN 1 AND 5))
"""

_ANY = "SELECT count(*) FROM survey_responses WHERE " + _VALID  # noqa: S608  (constant)

_FEATURES = (
    """
SELECT customer_id,
       arg_max(score, responded_at) FILTER (WHERE survey = 'nps') AS survey_last_nps,
       arg_max(score, responded_at) FILTER (WHERE survey = 'csat') AS survey_last_csat,
       count(*) FILTER (WHERE survey = 'nps' AND score <= 6 AND responded_at >= :since)
         AS survey_detractor_answers_180d,
       date_diff('day', max(responded_at), :cutoff) AS survey_days_since_last
FROM survey_responses
WHERE """  # noqa: S608  (constant SQL; values are bound)
    + _VALID
    + "GROUP BY customer_id"
)


def has_responses(engine: Engine, cutoff: dt.datetime) -> bool:
    """Whether any valid answer precedes the cutoff (then the feature columns exist)."""
    if not engine.table_exists("survey_responses"):
        return False
    return int(engine.fetch_scalar(bind(_ANY, cutoff=cutoff)) or 0) > 0  # type: ignore[call-overload]


def feedback_features_query(cutoff: dt.datetime) -> exp.Expression:
    """The per-customer feature query (customer_id + `COLUMNS`), values bound."""
    since = cutoff - dt.timedelta(days=DETRACTOR_WINDOW_DAYS)
    return bind(_FEATURES, cutoff=cutoff, since=since)


def survey_features(engine: Engine, cutoff: dt.datetime) -> pd.DataFrame:
    """The features as a frame with a `customer_id` column (empty without answers)."""
    if not has_responses(engine, cutoff):
        return pd.DataFrame(columns=["customer_id"])
    frame = engine.fetch_arrow(feedback_features_query(cutoff)).to_pandas()
    for column in COLUMNS:
        frame[column] = frame[column].astype("float64")
    return frame


def join_survey_features(frame: pd.DataFrame, engine: Engine, cutoff: dt.datetime) -> pd.DataFrame:
    """`frame` (a `customer_id` column) with the survey feature columns left-joined.

    Customers without an answer get NULL scores and recency and 0 detractor answers; the
    columns are added even when no answer precedes this cutoff, so scoring builds the columns
    a model was trained on.
    """
    features = survey_features(engine, cutoff)
    if len(features.columns) <= 1:
        features = pd.DataFrame({c: pd.Series(dtype="float64") for c in ("customer_id", *COLUMNS)})
        features["customer_id"] = features["customer_id"].astype("object")
    joined = frame.merge(features, on="customer_id", how="left")
    for column in COUNT_COLUMNS:
        joined[column] = joined[column].fillna(0.0)
    return joined
