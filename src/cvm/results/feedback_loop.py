"""Closing the loop: realised lift flows back into offer priors and uplift models.

* **Offer priors.** Every campaign whose window has ended contributes its evidence (treated and
  control responders per offer, overall and per lifecycle segment at assignment) to the uplift
  posterior of each offer (`cvm.measure.uplift_posterior`), starting from the offer's declared
  prior (``uplift.prior`` / ``uplift.prior_strength``). The posteriors replace the table
  `offer_priors`. `offers_with_priors` hands decisioning offers whose prior is that posterior —
  its mean, or a Thompson draw — for offers scored without a model.
* **Uplift models.** A campaign whose uplift-model attribution window has ended and that has
  no model of its own yet is learned from (`cvm.predict.training.train_uplift`); the newest
  such model is promoted, so the next scoring run uses what the last campaign taught.
* **Calibration.** The promoted uplift model's predictions for a campaign's customers are
  compared with the realised uplift by decile (`cvm.measure.deciles`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.core.timewindows import utc_now as _now
from cvm.decide.offers import Offer
from cvm.engine.base import Engine
from cvm.engine.sql import literal
from cvm.measure.deciles import DecileComparison, uplift_by_decile
from cvm.measure.uplift_posterior import (
    ALL,
    UpliftPosterior,
    evidence_from_frame,
    thompson_uplifts,
    uplift_posteriors,
)
from cvm.results.frames import campaign_frame
from cvm.results.tables import OFFER_PRIORS, UPLIFT_CALIBRATION, ensure_result_tables


def completed_campaigns(
    engine: Engine, as_of: dt.datetime, window_for: Callable[[str], int]
) -> list[str]:
    """Campaigns with treatment and control whose attribution window has ended by ``as_of``."""
    if not engine.table_exists("campaign_assignments"):
        return []
    rows = engine.fetch_rows(
        "SELECT campaign_id, max(assigned_at) FROM campaign_assignments GROUP BY campaign_id "
        "HAVING count(DISTINCT coalesce(is_control, arm = 'control')) = 2 ORDER BY 2, 1"
    )
    return [
        str(c)
        for c, last in rows
        if isinstance(last, dt.datetime) and last + dt.timedelta(days=window_for(str(c))) <= as_of
    ]


def update_offer_priors(
    engine: Engine,
    offers: Sequence[Offer],
    *,
    as_of: dt.datetime,
    window_for: Callable[[str], int],
    margin_rate: float = 0.30,
    default_strength: float = 20.0,
) -> list[UpliftPosterior]:
    """Recompute every offer's uplift posterior from all completed campaigns; store them."""
    frames = []
    used: dict[str, list[str]] = {}
    for cid in completed_campaigns(engine, as_of, window_for):
        frame = campaign_frame(
            engine, cid, window_days=window_for(cid), as_of=as_of, margin_rate=margin_rate
        )
        if frame.loc[~frame["is_control"].astype(bool), "offer_id"].notna().any():
            frames.append(frame.assign(campaign_id=cid))
            for offer in frame["offer_id"].dropna().unique():
                used.setdefault(str(offer), []).append(cid)
    if not frames:
        return []
    evidence = evidence_from_frame(pd.concat(frames, ignore_index=True))
    declared = {o.id: (o.uplift.prior, o.uplift.prior_strength) for o in offers}
    priors = {e.offer: declared.get(e.offer, (0.0, default_strength)) for e in evidence}
    posteriors = uplift_posteriors(evidence, priors)
    store_offer_priors(engine, posteriors, used)
    return posteriors


def store_offer_priors(
    engine: Engine, posteriors: Sequence[UpliftPosterior], campaigns: dict[str, list[str]]
) -> None:
    ensure_result_tables(engine)
    now = _now()
    rows = [
        {
            "offer_id": p.offer, "segment": p.segment, "prior_uplift": p.prior_mean,
            "prior_sd": p.prior_sd, "treated_successes": int(p.treated.alpha - 0.5),
            "treated_trials": p.n_treated, "control_successes": int(p.control.alpha - 0.5),
            "control_trials": p.n_control, "treated_alpha": p.treated.alpha,
            "treated_beta": p.treated.beta, "control_alpha": p.control.alpha,
            "control_beta": p.control.beta, "realised_uplift": p.realised,
            "uplift_mean": p.mean, "uplift_sd": p.sd, "prior_strength": p.strength(),
            "campaigns": json.dumps(campaigns.get(p.offer, [])), "updated_at": now,
        }
        for p in posteriors
    ]  # fmt: skip
    engine.execute(exp.delete(exp.to_table(OFFER_PRIORS.name)))
    if rows:
        engine.write_arrow(OFFER_PRIORS.name, pa.Table.from_pylist(rows))


def load_offer_priors(engine: Engine) -> pd.DataFrame:
    """The stored posteriors (empty frame when nothing was measured yet)."""
    if not engine.table_exists(OFFER_PRIORS.name):
        return pd.DataFrame(columns=[c.name for c in OFFER_PRIORS.columns])
    query = exp.select("*").from_(OFFER_PRIORS.name).order_by("offer_id", "segment")
    return engine.fetch_arrow(query).to_pandas()


def offers_with_priors(
    offers: Sequence[Offer],
    priors: pd.DataFrame,
    *,
    mode: str = "mean",
    seed: int | None = None,
) -> list[Offer]:
    """Offers whose ``uplift.prior`` is the posterior (segment ``*``): its mean, or with
    ``mode="thompson"`` one seeded draw per offer. Offers without evidence are unchanged."""
    if mode not in ("mean", "thompson"):
        raise UserInputError(f"mode must be 'mean' or 'thompson', got {mode!r}")
    overall = priors[priors["segment"] == ALL].set_index("offer_id")
    draws: dict[str, float] = {}
    if mode == "thompson":
        if seed is None:
            raise UserInputError("Thompson sampling needs an explicit seed")
        posts = [_posterior_stub(str(o), r) for o, r in overall.iterrows()]
        draws = {k[0]: v for k, v in thompson_uplifts(posts, seed=seed).items()}
    out = []
    for offer in offers:
        if offer.id not in overall.index:
            out.append(offer)
            continue
        row = overall.loc[offer.id]
        value = draws.get(offer.id, float(row["uplift_mean"]))
        uplift = offer.uplift.model_copy(
            update={
                "prior": min(max(value, -1.0), 1.0),
                "prior_strength": float(row["prior_strength"]),
            }
        )
        out.append(offer.model_copy(update={"uplift": uplift}))
    return out


def _posterior_stub(offer: str, row: pd.Series) -> UpliftPosterior:
    from cvm.measure.feedback import BetaPrior

    return UpliftPosterior(
        offer=offer, segment=ALL, prior_mean=float(row["prior_uplift"]),
        prior_sd=float(row["prior_sd"]),
        treated=BetaPrior(float(row["treated_alpha"]), float(row["treated_beta"])),
        control=BetaPrior(float(row["control_alpha"]), float(row["control_beta"])),
        mean=float(row["uplift_mean"]), sd=float(row["uplift_sd"]),
        n_treated=int(row["treated_trials"]), n_control=int(row["control_trials"]),
    )  # fmt: skip


def models_by_campaign(models_dir: Path) -> dict[str, str]:
    """Campaign id → newest registered uplift model version trained on it."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted((models_dir / "uplift").glob("*/manifest.json")):
        manifest = json.loads(path.read_text())
        cid, created = str(manifest.get("campaign_id")), str(manifest.get("created_at"))
        if cid not in out or created > out[cid][1]:
            out[cid] = (str(manifest["version"]), created)
    return {k: v[0] for k, v in out.items()}


def retrain_uplift_models(
    engine: Engine, models_dir: Path, as_of: dt.datetime, *, seed: int = 0
) -> dict[str, str]:
    """Train an uplift model on every completed campaign that has none; promote the newest.

    Returns campaign id → new version, or → ``skipped: reason``.
    """
    from cvm.predict.training import ATTRIBUTION_DAYS, train_uplift

    done = models_by_campaign(models_dir)
    todo = [
        c for c in completed_campaigns(engine, as_of, lambda _c: ATTRIBUTION_DAYS) if c not in done
    ]
    out: dict[str, str] = {}
    for i, cid in enumerate(todo):
        try:
            out[cid] = train_uplift(
                engine, models_dir, cid, as_of.date(), promote=i == len(todo) - 1, seed=seed
            )
        except UserInputError as err:
            out[cid] = f"skipped: {err.message}"
    return out


@dataclass(frozen=True)
class CalibrationCheck:
    campaign_id: str
    model_version: str
    model_campaign: str
    in_sample: bool
    comparison: DecileComparison


def check_uplift_calibration(
    engine: Engine, models_dir: Path, campaign_id: str, *, window_days: int, as_of: dt.datetime
) -> CalibrationCheck | None:
    """Promoted uplift model's predictions vs realised uplift by decile (None: no model)."""
    from cvm.predict.features import FeatureSpec, build_features
    from cvm.predict.registry import load_manifest, model_folder, promoted_version
    from cvm.predict.uplift import UpliftModel

    version = promoted_version(models_dir, "uplift")
    if version is None:
        return None
    manifest = load_manifest(models_dir, version)
    model = UpliftModel.load(model_folder(models_dir, version) / "model")
    frame = campaign_frame(
        engine, campaign_id, window_days=window_days, as_of=as_of, margin_rate=0.0
    )
    cutoff = pd.Timestamp(frame["assigned_at"].min()).normalize().to_pydatetime()
    spec = FeatureSpec.from_dict(manifest["features"]["spec"])
    ids = pd.Index(frame["customer_id"], name="customer_id")
    x = build_features(engine, cutoff, spec, customer_ids=ids)[manifest["features"]["columns"]]
    predicted = model.predict(x, treatment="treatment")
    comparison = uplift_by_decile(
        pd.Series(predicted).to_numpy(dtype=float),
        ~frame["is_control"].astype(bool).to_numpy(),
        frame["converted"].to_numpy(),
    )
    model_campaign = str(manifest.get("campaign_id"))
    return CalibrationCheck(
        campaign_id, version, model_campaign, model_campaign == campaign_id, comparison
    )


def store_calibration(engine: Engine, check: CalibrationCheck) -> None:
    ensure_result_tables(engine)
    now = _now()
    records: list[dict[str, Any]] = [
        {
            **{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()},
            "campaign_id": check.campaign_id, "model_version": check.model_version,
            "model_campaign": check.model_campaign, "in_sample": check.in_sample,
            "rank_correlation": check.comparison.rank_correlation, "measured_at": now,
        }
        for r in check.comparison.table.drop(columns=["treated_rate", "control_rate"]).to_dict("records")
    ]  # fmt: skip
    engine.execute(
        exp.delete(exp.to_table(UPLIFT_CALIBRATION.name)).where(
            exp.column("campaign_id").eq(literal(check.campaign_id))
        )
    )
    engine.write_arrow(UPLIFT_CALIBRATION.name, pa.Table.from_pylist(records))
