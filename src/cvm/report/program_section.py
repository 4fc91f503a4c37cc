"""Report section for the program-level result: all marketing against the global control."""

from __future__ import annotations

from cvm.report import charts
from cvm.report.measure_charts import program_chart
from cvm.report.measure_section import amount, interval, p_text, pp, whole
from cvm.report.model import ChartBlock, Metric, ReportContext, Section, TableBlock, number


def program_section(ctx: ReportContext) -> Section | None:
    if not ctx.engine.table_exists("program_results"):
        return None
    rows = ctx.engine.fetch_arrow("SELECT * FROM program_results ORDER BY period").to_pandas()
    if rows.empty:
        return None
    cur = ctx.currency
    revenue = rows[rows["metric"] == "revenue"].set_index("period")
    conversion = rows[rows["metric"] == "converted"].set_index("period")
    months = revenue.drop(index="all", errors="ignore").reset_index()
    section = Section(
        id="program",
        title="Program impact: all marketing vs the global control group",
        intro=(
            "The global control group is a random share of customers that marketing never "
            "contacts. The difference between everyone else and them is what the whole "
            "program adds, month by month (customers who existed at the start of the month)."
        ),
    )
    if "all" in revenue.index:
        rev, conv = revenue.loc["all"], conversion.loc["all"]
        section.metrics += [
            Metric(
                "Incremental revenue",
                whole(rev["incremental"], cur),
                help=f"95% CI {interval(rev['incremental_low'], rev['incremental_high'], lambda v: whole(v, cur))}",
            ),
            Metric("Revenue per customer lift", amount(rev["absolute_lift"], cur, sign=True)),
            Metric("Conversion lift", pp(conv["absolute_lift"])),
            Metric("Customers in global control", number(rev["n_control"])),
        ]
        section.summary.append(program_sentence(len(months), rev, cur))
    section.blocks.append(ChartBlock(charts.to_html(program_chart(months, cur))))
    table = []
    for period in [*months["period"], *(["all"] if "all" in revenue.index else [])]:
        r, c = revenue.loc[period], conversion.loc[period]
        table.append(
            [
                "whole period" if period == "all" else str(period), number(r["n_marketing"]),
                number(r["n_control"]),
                f"{100 * c['treatment_value']:.2f}% vs {100 * c['control_value']:.2f}%",
                f"{pp(c['absolute_lift'])} ({interval(c['absolute_low'], c['absolute_high'], pp)})",
                f"{amount(r['treatment_value'], cur)} vs {amount(r['control_value'], cur)}",
                f"{amount(r['absolute_lift'], '', sign=True)} ({interval(r['absolute_low'], r['absolute_high'], lambda v: amount(v, '', sign=True))})",
                p_text(r["p_value"]), whole(r["incremental"], cur),
            ]
        )  # fmt: skip
    section.blocks.append(
        TableBlock(
            "By month",
            [
                "month", "marketing", "global control", "conversion", "conversion lift (95% CI)",
                "revenue / customer", f"lift ({cur}, 95% CI)", "p", "incremental revenue",
            ],
            table,
            note="Conversion: any purchase in the month. The whole period sums each customer's "
            "months, so its interval accounts for customers being measured repeatedly.",
        )
    )  # fmt: skip
    return section


def program_sentence(n_months: int, rev: object, cur: str) -> str:
    """What the whole program added, in words, with its interval."""
    lift, low, high = (float(rev[k]) for k in ("absolute_lift", "absolute_low", "absolute_high"))  # type: ignore[index]
    ci = interval(low, high, lambda v: amount(v, cur, sign=True))
    more = "more" if lift >= 0 else "less"
    head = (
        f"Over {n_months} month(s), customers exposed to marketing spent "
        f"{amount(abs(lift), cur)} {more} per customer than the global control (95% CI {ci})"
    )
    if low > 0:
        return f"{head}: about {whole(rev['incremental'], cur)} of incremental revenue from the program."  # type: ignore[index]
    if high < 0:
        return f"{head}: marketing is costing sales; review contact pressure."
    return f"{head}; the interval includes zero, so the program's effect is not established yet."
