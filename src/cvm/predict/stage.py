"""The prediction stage of the loop: train what has no promoted model yet, then score."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cvm.core.errors import UserInputError
from cvm.engine.base import Engine
from cvm.predict.registry import promoted_version
from cvm.predict.scoring import score_profiles
from cvm.predict.training import (
    campaigns_with_assignments,
    train_churn,
    train_recommender,
    train_uplift,
)


def run_prediction_stage(
    engine: Engine,
    models_dir: Path,
    as_of: dt.date,
    churn_window_days: int,
    *,
    retrain: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train missing (or, with ``retrain``, all) models, then score every profile.

    A model that cannot be trained for lack of data is reported as skipped with the reason;
    the other scores still land.
    """
    step = progress or (lambda _m: None)
    trained: dict[str, str] = {}
    skipped: dict[str, str] = {}

    def attempt(kind: str, train: Callable[[], str]) -> None:
        if not retrain and promoted_version(models_dir, kind):
            return
        step(f"training {kind}")
        try:
            trained[kind] = train()
        except UserInputError as err:
            skipped[kind] = err.message

    attempt(
        "churn", lambda: train_churn(engine, models_dir, as_of, churn_window_days, promote=True)
    )
    campaigns = campaigns_with_assignments(engine)
    if campaigns:
        attempt(
            "uplift", lambda: train_uplift(engine, models_dir, campaigns[-1], as_of, promote=True)
        )
    else:
        skipped["uplift"] = "no campaign with treatment and control assignments yet"
    attempt("recommend", lambda: train_recommender(engine, models_dir, as_of, promote=True))
    step("scoring profiles")
    scored = score_profiles(engine, models_dir, as_of)
    return {"trained": trained, "skipped": skipped, **scored}
