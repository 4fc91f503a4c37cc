"""Ground truth of the demo company: the latent values the platform is meant to recover.

`truth_customers` holds each customer's BG/NBD and Gamma-Gamma latents, whether they are still
alive at the observation end, and their true future value over the next ``future_weeks``;
`truth_campaign` holds the planted experiment: arm, true individual uplift and outcomes.
The population formulas below are the closed forms the tests check the simulation against.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import hyp2f1

from cvm.core.contracts import CANONICAL
from cvm.demo.arrow_columns import TIMESTAMP_TYPE, contract_schema, money, pick, timestamps
from cvm.demo.campaign import CampaignResult
from cvm.demo.catalogue import CATEGORY_NAMES
from cvm.demo.config import DemoConfig
from cvm.demo.population import ORDER_CHANNELS, Population
from cvm.demo.purchases import PurchaseHistory, expected_purchases_alive

TRUTH_CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("lambda_weekly", pa.float64()),
        ("dropout_p", pa.float64()),
        ("spend_nu", pa.float64()),
        ("mean_order_value", pa.float64()),
        ("signup_at", TIMESTAMP_TYPE),
        ("observed_weeks", pa.float64()),
        ("repeat_purchases", pa.int64()),
        ("dropout_after", pa.int64()),
        ("alive_at_end", pa.bool_()),
        ("expected_purchases_future", pa.float64()),
        ("expected_spend_future", pa.float64()),
        ("simulated_purchases_future", pa.int64()),
        ("simulated_spend_future", pa.float64()),
        ("parent", pa.bool_()),
        ("top_category", pa.string()),
        ("store_share", pa.float64()),
        ("web_share", pa.float64()),
        ("app_share", pa.float64()),
    ]
)

TRUTH_CAMPAIGN_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("campaign_id", pa.string()),
        ("arm", pa.string()),
        ("assigned_at", TIMESTAMP_TYPE),
        ("alive_at_send", pa.bool_()),
        ("recency_days", pa.float64()),
        ("spend_before", pa.float64()),
        ("baseline_probability", pa.float64()),
        ("true_uplift", pa.float64()),
        ("baseline_orders_in_window", pa.int64()),
        ("incremental", pa.bool_()),
        ("incremental_transaction_id", pa.string()),
        ("orders_in_window", pa.int64()),
        ("purchased_in_window", pa.bool_()),
        ("revenue_in_window", pa.decimal128(18, 4)),
    ]
)


def bgnbd_expected_repeat(
    t: npt.ArrayLike, r: float, alpha: float, a: float, b: float
) -> npt.NDArray[np.float64]:
    """Expected repeat purchases in (0, t] of a new customer, BG/NBD population level.

    Fader, Hardie & Lee (2005), eq. (9):
    E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))].
    The expression is analytic in ``a`` and stays valid for 0 < a < 1 (the tests check it
    against the individual-level mean by simulation); it is undefined only at a = 1.
    """
    t = np.asarray(t, dtype=np.float64)
    z = t / (alpha + t)
    return (
        (a + b - 1.0)
        / (a - 1.0)
        * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z))
    )


def truth_customers_table(
    pop: Population,
    history: PurchaseHistory,
    future: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]],
    start: date,
    span_days: int,
    config: DemoConfig,
) -> pa.Table:
    """Latents and true future value per customer (one chunk)."""
    mean_spend = config.spend.p / pop.nu
    expected = np.where(
        history.alive_at_end, expected_purchases_alive(pop.lam, pop.p, config.future_weeks), 0.0
    )
    columns = [
        pop.ids,
        pa.array(pop.lam),
        pa.array(pop.p),
        pa.array(pop.nu),
        pa.array(mean_spend),
        timestamps(start, history.signup_time),
        pa.array((span_days - history.signup_time) / 7.0),
        pa.array(history.repeat_purchases),
        pa.array(history.dropout_after),
        pa.array(history.alive_at_end),
        pa.array(expected),
        pa.array(expected * mean_spend),
        pa.array(future[0]),
        pa.array(future[1]),
        pa.array(pop.parent),
        pick(CATEGORY_NAMES, np.argmax(pop.affinity, axis=1)),
        pa.array(pop.channel_pref[:, ORDER_CHANNELS.index("store")]),
        pa.array(pop.channel_pref[:, ORDER_CHANNELS.index("web")]),
        pa.array(pop.channel_pref[:, ORDER_CHANNELS.index("app")]),
    ]
    return pa.Table.from_arrays(columns, schema=TRUTH_CUSTOMERS_SCHEMA)


def truth_campaign_table(
    pop: Population,
    campaign: CampaignResult,
    incremental_id: pa.Array,
    orders_in_window: npt.NDArray[np.int64],
    revenue_in_window: npt.NDArray[np.float64],
    start: date,
    config: DemoConfig,
) -> pa.Table:
    """The audience with arm, true uplift and outcomes (one chunk)."""
    k = campaign.customer.shape[0]
    columns = [
        pop.ids_of(campaign.customer),
        pick((config.campaign.campaign_id,), np.zeros(k, dtype=np.int64)),
        pick(("control", "treatment"), campaign.treated.astype(np.int64)),
        timestamps(start, campaign.assigned_at),
        pa.array(campaign.alive_at_send),
        pa.array(campaign.recency_days),
        pa.array(campaign.spend_before),
        pa.array(campaign.baseline_probability),
        pa.array(campaign.true_uplift),
        pa.array(campaign.baseline_orders),
        pa.array(campaign.incremental),
        incremental_id,
        pa.array(orders_in_window),
        pa.array(orders_in_window > 0),
        money(revenue_in_window),
    ]
    return pa.Table.from_arrays(columns, schema=TRUTH_CAMPAIGN_SCHEMA)


def describe_truth(
    n_customers: int, seed: int, start: date, end: date, config: DemoConfig, n_products: int
) -> dict[str, Any]:
    """The static part of `truth/params.json`: inputs and the formulas behind the truth."""
    bg, gg, camp = config.bgnbd, config.spend, config.campaign
    span_days = (end - start).days
    send = np.datetime64(start, "D") + np.timedelta64(span_days - camp.days_before_end, "D")
    return {
        "generator": "cvm.demo",
        "n_customers": n_customers,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "currency": config.currency,
        "n_products": n_products,
        "config": config.to_dict(),
        "time_unit_of_model_parameters": "week",
        "bgnbd": {
            "r": bg.r,
            "alpha": bg.alpha,
            "a": bg.a,
            "b": bg.b,
            "mean_lambda_per_week": bg.r / bg.alpha,
            "mean_dropout_p": bg.a / (bg.a + bg.b),
            "expected_repeat_purchases_52w_new_customer": float(
                bgnbd_expected_repeat(52.0, bg.r, bg.alpha, bg.a, bg.b)
            ),
        },
        "gamma_gamma": {
            "p": gg.p,
            "q": gg.q,
            "gamma": gg.gamma,
            "population_mean_order_value": gg.population_mean_spend,
        },
        "campaign": {
            "campaign_id": camp.campaign_id,
            "send_date": str(send),
            "window_days": camp.window_days,
            "window": "whole UTC days [send_date, send_date + window_days)",
            "assignment": "SeedSequence(seed, spawn_key=(3, chunk)): u_audience, u_arm per customer",
            "uplift": "min(floor + peak * lapsing(recency) * mid_value(spend_before), 1 - P0)",
        },
        "formulas": {
            "expected_purchases_future": "alive_at_end * (1 - exp(-lambda * p * t)) / p  [FHL 2005]",
            "expected_spend_future": "expected_purchases_future * p_spend / nu  [Gamma-Gamma mean]",
            "future_weeks": config.future_weeks,
            "repeat_purchases": "BG/NBD repeat orders in the observation period; the campaign's "
            "incremental orders come on top and are listed in truth_campaign",
            "amounts": "order value ~ Gamma-Gamma, split over lines at or below list price; "
            "returns are separate negative lines (receipt R...) and not part of the model",
        },
    }


def campaign_assignments_table(truth_campaign: pa.Table, config: DemoConfig) -> pa.Table:
    """What the retailer itself recorded of the campaign: who was assigned which arm, when,
    with what probability (the canonical `campaign_assignments`). No truth columns."""
    arm = truth_campaign.column("arm")
    is_control = pc.equal(arm, "control")
    share = config.campaign.treatment_share
    n = truth_campaign.num_rows
    columns = {
        "campaign_id": truth_campaign.column("campaign_id"),
        "customer_id": truth_campaign.column("customer_id"),
        "arm": arm,
        "is_control": is_control,
        "assigned_at": truth_campaign.column("assigned_at"),
        "assignment_probability": pc.if_else(is_control, 1.0 - share, share),
        "channel": pa.repeat(pa.scalar("email"), n),
        "offer_id": pa.nulls(n, pa.string()),
    }
    schema = contract_schema(CANONICAL["campaign_assignments"])
    return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)
