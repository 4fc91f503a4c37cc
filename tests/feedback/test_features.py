"""Survey answers in the churn feature matrix: the columns and values when answers exist
before the cutoff, no leakage from answers after it, and the same matrix as before when the
table is empty."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from cvm.core.contracts import SURVEY_RESPONSES
from cvm.feedback.features import COLUMNS
from cvm.predict.features import FeatureSpec, build_features, choose_spec

CUTOFF = dt.datetime(2025, 6, 1)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from cvm.demo import generate_company, load_company_into
    from cvm.workspace import init_workspace

    workspace = init_workspace(tmp_path_factory.mktemp("features") / "ws")
    load_company_into(workspace.engine, generate_company(60, seed=2))
    yield workspace
    workspace.close()


def _answers(rows: list[tuple[str, str, str, int, dt.datetime]]) -> pa.Table:
    return pa.table(
        {
            "response_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "survey": [r[2] for r in rows],
            "score": pa.array([r[3] for r in rows], pa.int64()),
            "responded_at": pa.array([r[4] for r in rows], pa.timestamp("us")),
        }
    )


def test_features_with_and_without_answers(ws: Any) -> None:
    ws.engine.execute("DROP TABLE IF EXISTS survey_responses")
    spec = choose_spec(ws.engine, CUTOFF)
    assert spec.surveys is False and FeatureSpec.from_dict(spec.to_dict()) == spec
    before = build_features(ws.engine, CUTOFF, spec)
    assert not set(COLUMNS) & set(before.columns)

    ws.engine.ensure_table(SURVEY_RESPONSES)  # present but empty: nothing changes
    empty_spec = choose_spec(ws.engine, CUTOFF)
    assert empty_spec == spec
    pd.testing.assert_frame_equal(build_features(ws.engine, CUTOFF, empty_spec), before)

    a, b = [str(c) for c in before.index[:2]]
    day = dt.timedelta(days=1)
    ws.engine.write_arrow(
        "survey_responses",
        _answers(
            [
                ("1", a, "nps", 9, CUTOFF - 300 * day),  # a detractor answer outside 180 days
                ("2", a, "nps", 3, CUTOFF - 300 * day - dt.timedelta(hours=1)),
                ("3", a, "nps", 4, CUTOFF - 10 * day),  # the latest NPS, a detractor
                ("4", a, "nps", 5, CUTOFF - 20 * day),
                ("5", a, "csat", 2, CUTOFF - 5 * day),
                ("6", a, "nps", 10, CUTOFF + day),  # after the cutoff: must not leak
                ("7", b, "csat", 4, CUTOFF - 40 * day),
                ("8", b, "csat", 9, CUTOFF - 2 * day),  # invalid for csat: ignored
            ]
        ),
        mode="append",
    )
    spec = choose_spec(ws.engine, CUTOFF)
    assert spec.surveys is True
    after = build_features(ws.engine, CUTOFF, spec)
    assert list(after.columns[: len(before.columns)]) == list(before.columns)
    pd.testing.assert_frame_equal(after[before.columns], before)
    got = after.loc[[a, b], list(COLUMNS)]
    assert got.loc[a].tolist() == [4.0, 2.0, 2.0, 5.0]
    assert got.loc[b, "survey_last_nps"] != got.loc[b, "survey_last_nps"]  # NaN: no NPS
    assert got.loc[b].tolist()[1:] == [4.0, 0.0, 40.0]
    others = after.drop(index=[a, b])
    assert (others["survey_detractor_answers_180d"] == 0).all()
    assert others["survey_last_nps"].isna().all()


def test_scoring_spec_keeps_the_columns_before_any_answer(ws: Any, tmp_path: Path) -> None:
    # A model trained with survey features scores at a cutoff before every answer: the
    # columns are still built (empty), so the matrix matches the trained one.
    spec = FeatureSpec(surveys=True)
    early = build_features(ws.engine, dt.datetime(2000, 1, 1), spec)
    assert set(COLUMNS) <= set(early.columns)
