"""`cvm score`: promoted models score every customer and the scores land on `profiles`.

Writes ``churn_propensity`` (customers with a purchase history), ``uplift`` (JSON: model key,
i.e. campaign or offer → estimated effect on conversion), ``top_products`` (JSON array, best
first) and ``score_versions`` (JSON: which model version produced each score).

Built for millions of customers (issue #6: churn, uplift and top-10 products for 1,000,000
customers in under a minute), with results identical to scoring row by row:

- features are built once per feature spec and shared by every model that uses it;
- rows go to the models in chunks of ``chunk_rows``: each chunk is encoded once per distinct
  encoding (churn and uplift trained on the same features share it) and LightGBM predicts on
  the float64 matrix, so memory stays bounded and no pandas row object is made;
- recommendations come back as a (customers x n) array of product positions
  (`Recommender.recommend_positions`), with no per-customer grouping, computed in a
  background thread while the features are built (they need none);
- the JSON columns are assembled from precomputed pieces (product ids encoded once, numbers
  rounded and printed as Python's `json` prints them), and everything is written with one
  Arrow table and one UPDATE.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.predict.features import FeatureSpec, build_features
from cvm.predict.registry import load_manifest, model_folder, promoted_version
from cvm.profiles.views import ensure_profile_tables

_UPDATE = """
UPDATE profiles SET
  churn_propensity = s.churn_propensity,
  uplift = CAST(s.uplift AS JSON),
  top_products = CAST(s.top_products AS JSON),
  score_versions = CAST(s.score_versions AS JSON)
FROM __scores AS s WHERE profiles.customer_id = s.customer_id
"""
CHUNK_ROWS = 250_000
# Predictions are a function of (model, features) only, so they do not depend on the number
# of threads; two is the machine this was tuned on (benchmarks/results/predict_scoring.md).
SCORING_THREADS = 2


class Stopwatch:
    """Seconds spent per named part, summed over repeated entries."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class _Tabular:
    """One promoted tabular model (churn or uplift) with what scoring needs of it."""

    def __init__(self, version: str, manifest: dict[str, Any], model: Any) -> None:
        self.version = version
        self.manifest = manifest
        self.model = model
        self.spec_key = json.dumps(manifest["features"]["spec"], sort_keys=True)
        self.encoding_key = (self.spec_key, json.dumps(model.encoder_.to_dict(), sort_keys=True))


def _load_tabular(models_dir: Path, kind: str) -> _Tabular | None:
    version = promoted_version(models_dir, kind)
    if not version:
        return None
    folder = model_folder(models_dir, version) / "model"
    if kind == "churn":
        from cvm.predict.churn import ChurnModel

        model: Any = ChurnModel.load(folder)
    else:
        from cvm.predict.uplift import UpliftModel

        model = UpliftModel.load(folder)
    return _Tabular(version, load_manifest(models_dir, version), model)


def _profile_ids(engine: Engine) -> pd.Index:
    table = engine.fetch_arrow("SELECT customer_id FROM profiles ORDER BY customer_id")
    return pd.Index(table.column(0).to_pandas(), name="customer_id")


def score_profiles(
    engine: Engine,
    models_dir: Path,
    as_of: dt.date,
    *,
    top_n: int = 10,
    chunk_rows: int = CHUNK_ROWS,
    num_threads: int = SCORING_THREADS,
    stopwatch: Stopwatch | None = None,
) -> dict[str, Any]:
    """Score every profile with the promoted models; returns counts and versions used.

    ``stopwatch``, when given, receives the seconds spent per part (features, encoding,
    churn, uplift, recommendations, json, write); recommendations run alongside features,
    encoding, churn and uplift, so the parts add up to more than the elapsed time.
    """
    watch = stopwatch or Stopwatch()
    ensure_profile_tables(engine)
    ids = _profile_ids(engine)
    if ids.empty:
        return {"skipped": "no profiles yet: run the value stage first"}
    with watch.part("load models"):
        churn = _load_tabular(models_dir, "churn")
        uplift = _load_tabular(models_dir, "uplift")
        recommender = _load_recommender(models_dir, num_threads)
    versions: dict[str, Any] = {}
    if churn:
        versions["churn"] = churn.version
    if uplift:
        versions["uplift"] = {uplift.manifest["model_key"]: uplift.version}
    top_products: pa.Array = pa.nulls(len(ids), pa.string())
    # The recommender needs no features: its top-k (compute bound, threads of its own) runs
    # in the background while the features are built and the tabular models predict.
    with ThreadPoolExecutor(max_workers=1) as background:
        pending: Future[pa.Array] | None = None
        if recommender is not None:
            model, versions["recommend"] = recommender
            pending = background.submit(_top_products, model, ids.copy(), top_n, watch)
        features: dict[str, pd.DataFrame] = {}
        with watch.part("features"):
            cutoff = end_of_day(as_of)
            for scorer in (churn, uplift):
                if scorer and scorer.spec_key not in features:
                    spec = FeatureSpec.from_dict(scorer.manifest["features"]["spec"])
                    features[scorer.spec_key] = build_features(
                        engine, cutoff, spec, customer_ids=ids
                    )
        churn_p, uplift_cols = _tabular_scores(features, churn, uplift, len(ids), chunk_rows, watch)
        if pending is not None:
            top_products = pending.result()
    with watch.part("json"):
        uplift_json = json_number_objects(uplift_cols, len(ids))
        table = pa.table(
            {
                "customer_id": pa.array(ids.to_numpy(dtype=object), pa.string()),
                "churn_propensity": pa.array(churn_p, pa.float64()),
                "uplift": uplift_json,
                "top_products": top_products,
                "score_versions": pa.repeat(pa.scalar(json.dumps(versions)), len(ids)),
            }
        )
    with watch.part("write"):
        engine.register_arrow("__scores", table)
        try:
            engine.execute(_UPDATE)
        finally:
            engine.unregister("__scores")
    return {
        "profiles": len(ids),
        "churn_scored": int(np.count_nonzero(~np.isnan(churn_p))),
        "uplift_models": len(uplift_cols),
        "recommendations": len(ids) - top_products.null_count,
        "versions": versions,
    }


def _tabular_scores(
    features: dict[str, pd.DataFrame],
    churn: _Tabular | None,
    uplift: _Tabular | None,
    n_rows: int,
    chunk_rows: int,
    watch: Stopwatch,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Churn propensity (NaN for customers without purchases) and uplift columns, chunk by
    chunk; each chunk is encoded once per distinct (features, encoder) pair."""
    churn_p = np.full(n_rows, np.nan)
    uplift_cols: dict[str, np.ndarray] = {}
    if uplift:
        uplift_cols[uplift.manifest["model_key"]] = np.empty(n_rows, dtype=np.float64)
    for start in range(0, n_rows, max(chunk_rows, 1)):
        rows = slice(start, min(start + chunk_rows, n_rows))
        encoded: dict[tuple[str, str], np.ndarray] = {}
        if churn:
            x = _encoded(churn, features, rows, encoded, watch)
            with watch.part("churn"):
                p = churn.model.predict_proba_encoded(x)[:, 1]
                # Churn is defined among buyers: customers with no purchase get no propensity.
                has_orders = features[churn.spec_key]["orders"].iloc[rows].notna().to_numpy()
                churn_p[rows] = np.where(has_orders, p, np.nan)
        if uplift:
            x = _encoded(uplift, features, rows, encoded, watch)
            with watch.part("uplift"):
                effect = uplift.model.predict_encoded(x, "treatment")
                uplift_cols[uplift.manifest["model_key"]][rows] = effect
    return churn_p, uplift_cols


def _top_products(model: Any, ids: pd.Index, top_n: int, watch: Stopwatch) -> pa.Array:
    """The JSON top-`top_n` list of every customer (runs in a background thread)."""
    with watch.part("recommendations"):
        positions, _, _ = model.recommend_positions(ids, n=top_n)
        return json_string_lists(model.product_ids_, positions)


def _encoded(
    scorer: _Tabular,
    features: dict[str, pd.DataFrame],
    rows: slice,
    cache: dict[tuple[str, str], np.ndarray],
    watch: Stopwatch,
) -> np.ndarray:
    """The chunk's matrix for `scorer`, encoded once for all models with the same encoding."""
    if scorer.encoding_key not in cache:
        with watch.part("encode"):
            chunk = features[scorer.spec_key].iloc[rows]
            cache[scorer.encoding_key] = scorer.model.encoder_.transform(chunk)
    return cache[scorer.encoding_key]


def _load_recommender(models_dir: Path, num_threads: int) -> tuple[Any, str] | None:
    version = promoted_version(models_dir, "recommend")
    if not version:
        return None
    from cvm.predict.recommend import load_recommender

    model = load_recommender(model_folder(models_dir, version) / "model")
    # Scoring threads are a run-time choice, not part of what was learned.
    for part in [model, *getattr(model, "components_", [])]:
        if "num_threads" in part.get_params(deep=False):
            part.set_params(num_threads=num_threads)
    return model, version


def json_string_lists(labels: np.ndarray, positions: np.ndarray) -> pa.Array:
    """Row i: the JSON array of ``labels[p]`` as strings for the non-negative ``p`` of row i,
    spelled exactly as ``json.dumps([str(label), ...])`` does."""
    quoted = pa.array([json.dumps(str(label)) for label in labels.tolist()], pa.string())
    valid = positions >= 0
    offsets = np.zeros(len(positions) + 1, dtype=np.int64)
    np.cumsum(valid.sum(axis=1), out=offsets[1:])
    values = quoted.take(pa.array(positions[valid].astype(np.int64)))
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
    joined = pc.binary_join(lists, ", ")
    return pc.binary_join_element_wise("[", joined, "]", "")


def json_number_objects(columns: dict[str, np.ndarray], n_rows: int) -> pa.Array:
    """Row i: ``json.dumps({key: round(float(column[i]), 6), ...})``, or null with no column."""
    if not columns:
        return pa.nulls(n_rows, pa.string())
    keys = [json.dumps(str(key)) for key in columns]
    printed = [_json_numbers(values) for values in columns.values()]
    if len(keys) == 1:
        head = "{" + keys[0] + ": "
        return pa.array([head + number + "}" for number in printed[0]], pa.string())
    template = "{" + ", ".join(key.replace("%", "%%") + ": %s" for key in keys) + "}"
    return pa.array([template % row for row in zip(*printed, strict=True)], pa.string())


def _json_numbers(values: np.ndarray) -> list[str]:
    """Each value rounded to 6 decimals (Python's correctly rounded `round`) as `json` prints
    it: `float.__repr__` for finite numbers, NaN / Infinity / -Infinity otherwise."""
    rounded = [round(v, 6) for v in values.tolist()]
    if np.isfinite(values).all():
        return list(map(float.__repr__, rounded))
    spell: Callable[[float], str] = json.dumps
    return list(map(spell, rounded))
