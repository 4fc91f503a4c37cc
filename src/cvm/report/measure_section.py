"""Report sections for measured results: campaigns against their controls (with what the loop
learned from them: offer priors, predicted vs realised uplift) and the whole program against
the global control group.

They read what the measure stage stored (`campaign_results`, `campaign_measurements`,
`offer_priors`, `uplift_calibration`, `program_results`); on a workspace where nothing was
measured yet, the latest campaigns are measured on the fly with `measure.toml`'s settings.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from cvm.core.timewindows import end_of_day
from cvm.report import charts
from cvm.report.measure_charts import decile_chart, lift_forest
from cvm.report.model import ChartBlock, Metric, ReportContext, Section, TableBlock, number

MAX_CAMPAIGNS = 6


def _ok(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(float(v))


def pp(v: Any, sign: bool = True) -> str:
    return f"{100 * float(v):{'+' if sign else ''}.2f} pp" if _ok(v) else "–"


def amount(v: Any, currency: str, sign: bool = False) -> str:
    return f"{float(v):{'+' if sign else ''},.2f} {currency}" if _ok(v) else "–"


def whole(v: Any, currency: str = "", sign: bool = True) -> str:
    return (f"{float(v):{'+' if sign else ''},.0f} {currency}").strip() if _ok(v) else "–"


def interval(low: Any, high: Any, fmt: Any) -> str:
    return f"{fmt(low)} to {fmt(high)}" if _ok(low) and _ok(high) else "–"


def p_text(p: Any) -> str:
    return ("<0.0001" if float(p) < 1e-4 else f"{float(p):.4f}") if _ok(p) else "–"


def _load(ctx: ReportContext) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """(results rows, one row per campaign, stored?) for the latest campaigns."""
    from cvm.results.campaigns import stored_measurements, stored_results

    meta = stored_measurements(ctx.engine)
    if not meta.empty:
        meta = meta.sort_values("assigned_to", ascending=False).head(MAX_CAMPAIGNS)
        results = stored_results(ctx.engine)
        return results[results["campaign_id"].isin(meta["campaign_id"])], meta, True
    from cvm.results.stage import quick_measurements

    moment = end_of_day(ctx.as_of)
    measured = quick_measurements(
        ctx.engine, ctx.workspace_root, ctx.settings.value.margin, as_of=moment
    )
    if not measured:
        return pd.DataFrame(), pd.DataFrame(), False
    results = pd.DataFrame([r for m in measured for r in m.rows()])
    meta = pd.DataFrame(
        [
            {
                "campaign_id": m.campaign_id, "window_days": m.window_days,
                "window_complete": m.window_complete, "assigned_from": m.assigned_from,
                "assigned_to": m.assigned_to, "warnings": json.dumps(m.warnings),
                "arms": json.dumps(m.arms),
            }
            for m in measured
        ]
    )  # fmt: skip
    return results, meta, False


def _overall(results: pd.DataFrame) -> pd.DataFrame:
    """One row per campaign × arm with conversion, revenue and margin side by side."""
    base = results[results["breakdown_column"] == "all"]
    keys = [
        "campaign_id",
        "arm",
        "control_group",
        "n_treatment",
        "n_control",
        "cost",
        "roi",
        "roi_low",
        "roi_high",
    ]
    out = base[base["metric"] == "converted"][keys].copy()
    for metric, prefix in (("converted", "conv"), ("revenue", "rev"), ("margin", "mar")):
        part = base[base["metric"] == metric].set_index(["campaign_id", "arm"])
        for col, name in (
            ("treatment_value", "t"), ("control_value", "c"), ("absolute_lift", "lift"),
            ("absolute_low", "low"), ("absolute_high", "high"), ("p_adjusted", "p"),
            ("incremental", "inc"), ("incremental_low", "inc_low"), ("incremental_high", "inc_high"),
        ):  # fmt: skip
            out[f"{prefix}_{name}"] = [
                part[col].get((c, a), math.nan)
                for c, a in zip(out.campaign_id, out.arm, strict=True)
            ]
    return out.reset_index(drop=True)


def campaign_sentence(campaign: str, window: int, arms: pd.DataFrame, currency: str) -> str:
    """One sentence a head of CRM can repeat: what each arm did, with its uncertainty."""
    parts = []
    for _, r in arms.sort_values("conv_lift", ascending=False).head(2).iterrows():
        certain = _ok(r.conv_low) and r.conv_low > 0
        effect = (
            f"lifted conversion by {pp(r.conv_lift)} (95% CI {pp(r.conv_low)} to {pp(r.conv_high)})"
            if certain
            else f"showed no detectable effect on conversion ({pp(r.conv_lift)}, 95% CI "
            f"{pp(r.conv_low)} to {pp(r.conv_high)})"
        )
        money_part = f", {whole(r.rev_inc, currency)} incremental revenue" if _ok(r.rev_inc) else ""
        roi = ""
        if _ok(r.roi):
            doubt = "" if _ok(r.roi_low) and r.roi_low > 0 else ", not certainly positive"
            roi = f", ROI {r.roi:+.2f} ({r.roi_low:+.2f} to {r.roi_high:+.2f}{doubt})"
        parts.append(f"{r.arm} {effect}{money_part}{roi}")
    return f"Campaign {campaign} ({window}-day window): " + "; ".join(parts) + "."


def _campaign_table(rows: pd.DataFrame, currency: str, title: str) -> TableBlock:
    table = [
        [
            str(r.arm), number(r.n_treatment), number(r.n_control),
            f"{100 * r.conv_t:.2f}% vs {100 * r.conv_c:.2f}%" if _ok(r.conv_t) else "–",
            f"{pp(r.conv_lift)} ({interval(r.conv_low, r.conv_high, pp)})", p_text(r.conv_p),
            f"{amount(r.rev_lift, '', sign=True)} ({interval(r.rev_low, r.rev_high, lambda v: amount(v, '', sign=True))})",
            whole(r.rev_inc, currency), whole(r.mar_inc, currency),
            whole(r.cost, currency, sign=False),
            f"{r.roi:+.2f} ({r.roi_low:+.2f} to {r.roi_high:+.2f})" if _ok(r.roi) else "–",
        ]
        for r in rows.itertuples()
    ]  # fmt: skip
    columns = [
        "arm", "treated", "control", "conversion (treated vs control)",
        "conversion lift (95% CI)", "p (Holm)", f"revenue / customer lift ({currency}, 95% CI)",
        "incremental revenue", "incremental margin", "cost", "ROI (95% CI)",
    ]  # fmt: skip
    return TableBlock(title=title, columns=columns, rows=table)


def _forest_rows(rows: pd.DataFrame, label: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": label.to_numpy(),
            **{
                f"{p}_{k}": rows[f"{p}_{k}"].to_numpy()
                for p in ("conv", "rev")
                for k in ("lift", "low", "high")
            },
        }
    )


def campaign_results_section(ctx: ReportContext) -> Section | None:
    results, meta, stored = _load(ctx)
    if results.empty:
        return None
    cur = ctx.currency
    overall = _overall(results)
    section = Section(
        id="campaigns",
        title="Campaign results",
        intro=(
            "Each treated arm against its randomised control (intent to treat: everyone "
            "assigned counts, contacted or not). Intervals are 95%: Newcombe for conversion, "
            "Welch for revenue; p-values are Holm-adjusted across arms. ROI = (incremental "
            "margin − contact cost) / cost."
            + ("" if stored else " Measured for this report (nothing stored yet).")
        ),
    )
    inc_rev = float(overall["rev_inc"].fillna(0).sum())
    inc_mar = float(overall["mar_inc"].fillna(0).sum())
    cost = float(overall["cost"].fillna(0).sum())
    section.metrics += [
        Metric("Campaigns measured", number(len(meta))),
        Metric("Incremental revenue", whole(inc_rev, cur), help="sum over campaigns and arms"),
        Metric("Incremental margin", whole(inc_mar, cur)),
        Metric("Contact cost", whole(cost, cur, sign=False)),
    ]
    if cost > 0:
        section.metrics.append(Metric("Return on cost", f"{(inc_mar - cost) / cost:+.2f}"))
    labels = overall["campaign_id"].astype(str) + " · " + overall["arm"].astype(str)
    section.blocks.append(
        ChartBlock(
            charts.to_html(
                lift_forest(
                    _forest_rows(overall, labels), cur, "Lift over control, with 95% intervals"
                )
            ),
            "Green: the whole interval is above zero; grey: it includes zero; red: below zero.",
        )
    )
    warnings_rows: list[list[str]] = []
    for m in meta.itertuples():
        rows = overall[overall["campaign_id"] == m.campaign_id]
        if rows.empty:
            continue
        state = "" if m.window_complete else " — interim, window still open"
        section.blocks.append(
            _campaign_table(
                rows, cur,
                f"{m.campaign_id}: assigned {pd.Timestamp(m.assigned_from):%Y-%m-%d}, "
                f"{m.window_days}-day window{state}",
            )
        )  # fmt: skip
        warnings_rows += [[str(m.campaign_id), w] for w in json.loads(m.warnings or "[]")]
    _segment_block(section, results, meta, cur)
    if warnings_rows:
        section.blocks.append(TableBlock("Read with care", ["campaign", "warning"], warnings_rows))
    for m in meta.head(3).itertuples():
        rows = overall[overall["campaign_id"] == m.campaign_id]
        if not rows.empty:
            section.summary.append(
                campaign_sentence(str(m.campaign_id), int(m.window_days), rows, cur)
            )
    _learning_blocks(ctx, section)
    return section


def _segment_block(section: Section, results: pd.DataFrame, meta: pd.DataFrame, cur: str) -> None:
    """Forest plot by lifecycle segment for the latest campaign that has that breakdown."""
    seg = results[results["breakdown_column"] == "segment"]
    for m in meta.itertuples():
        part = seg[seg["campaign_id"] == m.campaign_id]
        if part.empty:
            continue
        rows = _overall(
            part.assign(breakdown_column="all", arm=part["arm"] + " · " + part["breakdown_value"])
        )
        section.blocks.append(
            ChartBlock(
                charts.to_html(
                    lift_forest(
                        _forest_rows(rows, rows["arm"]), cur,
                        f"{m.campaign_id}: lift by lifecycle stage at assignment",
                    )
                ),
                "Segments are the lifecycle stage each customer was in when assigned, so "
                "treated and control are compared within the same stage.",
            )
        )  # fmt: skip
        return


def _learning_blocks(ctx: ReportContext, section: Section) -> None:
    """What the loop learned: offer priors updated, predicted vs realised uplift by decile."""
    from cvm.results.feedback_loop import load_offer_priors

    priors = load_offer_priors(ctx.engine)
    overall = priors[priors["segment"] == "*"]
    if not overall.empty:
        section.blocks.append(
            TableBlock(
                "Offer priors updated from realised results (uplift on conversion)",
                ["offer", "treated", "control", "realised uplift", "declared prior", "posterior (± sd)"],
                [
                    [str(r.offer_id), number(r.treated_trials), number(r.control_trials),
                     pp(r.realised_uplift), pp(r.prior_uplift), f"{pp(r.uplift_mean)} ± {pp(r.uplift_sd, False)}"]
                    for r in overall.itertuples()
                ],
                note="Decisioning starts its next run from the posterior (offer_priors).",
            )
        )  # fmt: skip
    if not ctx.engine.table_exists("uplift_calibration"):
        return
    calib = ctx.engine.fetch_arrow(
        "SELECT * FROM uplift_calibration ORDER BY measured_at DESC, campaign_id, decile"
    ).to_pandas()
    if calib.empty:
        return
    latest = calib[calib["campaign_id"] == calib["campaign_id"].iloc[0]].sort_values("decile")
    first = latest.iloc[0]
    sample = (
        "in-sample: the model was trained on this campaign, which flatters it"
        if bool(first["in_sample"])
        else f"out of sample: trained on {first['model_campaign']}"
    )
    section.blocks.append(
        ChartBlock(
            charts.to_html(
                decile_chart(
                    latest, f"{first['campaign_id']}: predicted vs realised uplift by decile"
                )
            ),
            f"Model {first['model_version']} ({sample}). Rank correlation across deciles "
            f"{first['rank_correlation']:.2f}.",
        )
    )
    top, bottom = latest.iloc[0], latest.iloc[-1]
    section.summary.append(
        f"The uplift model ranks customers: its top decile realised {pp(top['realised'])} vs "
        f"{pp(bottom['realised'])} in the bottom decile (rank correlation "
        f"{first['rank_correlation']:.2f}; {sample.split(':')[0]})."
    )
