"""Event triggers: the abandoned cart, both ways (a purchase cancels; no purchase sends),
property filters, re-entry, and the dispatcher waiting for the watermark."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest

from cvm.campaigns.campaign import PropertyFilter, parse_campaign
from cvm.campaigns.lifecycle import create_campaign, launch_campaign
from cvm.campaigns.triggers import TriggerEvaluator, passes
from cvm.state.outbox import OutboxStore
from tests.campaigns.conftest import RecordingChannel, dispatcher_for, drain

CART = {
    "id": "cart", "name": "Abandoned cart",
    "trigger": {"event": "cart_abandoned", "where": [{"property": "value", "op": "gt", "value": 50}],
                "delay": "1h", "unless": "order_completed", "reentry": "once"},
    "channels": ["email"],
    "content": {"email": {"en": {"subject": "Your cart, {{ first_name | default('friend') }}",
                                 "text": "Worth {{ event.properties.value | money }}"}}},
}  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def batch(*events: tuple[str, str, dt.datetime, dict[str, Any]]) -> pa.Table:
    return pa.table(
        {
            "event_id": [f"e{i}-{name}-{cid}" for i, (name, cid, _, _) in enumerate(events)],
            "customer_id": [cid for _, cid, _, _ in events],
            "name": [name for name, _, _, _ in events],
            "occurred_at": pa.array([at for _, _, at, _ in events], pa.timestamp("us")),
            "properties": [json.dumps(props) for _, _, _, props in events],
        }
    )


def reachable_customers(ws: Any, n: int) -> list[str]:
    rows = ws.engine.fetch_rows(
        "SELECT customer_id FROM consents WHERE channel = 'email' AND purpose = 'marketing' "
        "GROUP BY customer_id HAVING max(CASE WHEN status='granted' THEN occurred_at END) > "
        "coalesce(max(CASE WHEN status='denied' THEN occurred_at END), TIMESTAMP '1900-01-01') "
        "ORDER BY customer_id"
    )
    return [str(r[0]) for r in rows[:n]]


@pytest.fixture
def no_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cvm.campaigns.triggers.WATERMARK_SLACK", dt.timedelta(0))


@pytest.mark.usefixtures("no_slack")
def test_abandoned_cart_purchase_cancels_and_silence_sends(demo_ws: Any) -> None:
    buyer, forgetful, small = reachable_customers(demo_ws, 3)
    create_campaign(demo_ws, parse_campaign(CART))
    launch_campaign(demo_ws, "cart")
    evaluator = TriggerEvaluator(demo_ws)
    channel = RecordingChannel()
    dispatcher = dispatcher_for(demo_ws, channel)
    carted = _now() - dt.timedelta(hours=2)  # the hour's wait is already over
    counts = evaluator.on_batch(
        batch(
            ("cart_abandoned", buyer, carted, {"value": 80}),
            ("cart_abandoned", forgetful, carted, {"value": 120.5}),
            ("cart_abandoned", small, carted, {"value": 20}),  # under the filter
        )
    )
    assert counts["fired"] == 2
    # The purchase has not been looked at yet: the dispatcher must not send the buyer's
    # message (the watermark is behind its due time), whatever the clock says.
    drain(dispatcher)
    assert channel.sent == []
    evaluator.on_batch(batch(("order_completed", buyer, carted + dt.timedelta(minutes=30), {})))
    evaluator.on_batch(None)  # a later flush moves the watermark past the due time
    drain(dispatcher)
    store = OutboxStore(demo_ws.state)
    by_customer = {m["customer_id"]: m for m in store.messages("cart")}
    assert by_customer[buyer]["status"] == "cancelled"
    assert by_customer[forgetful]["status"] == "sent"
    assert small not in by_customer
    (message,) = channel.sent
    assert message.customer_id == forgetful
    assert message.body is not None and message.body.startswith("Worth 120.50\n\nUnsubscribe: ")
    # Re-entry "once": another abandoned cart adds nothing.
    again = evaluator.on_batch(batch(("cart_abandoned", forgetful, _now(), {"value": 99})))
    assert again["fired"] == 0
    assert len(store.messages("cart")) == 2


@pytest.mark.usefixtures("no_slack")
def test_a_purchase_before_the_cart_does_not_cancel(demo_ws: Any) -> None:
    (customer,) = reachable_customers(demo_ws, 1)
    create_campaign(
        demo_ws, parse_campaign({**CART, "trigger": {**CART["trigger"], "delay": "0s"}})
    )  # type: ignore[dict-item]
    launch_campaign(demo_ws, "cart")
    evaluator = TriggerEvaluator(demo_ws)
    carted = _now() - dt.timedelta(minutes=5)
    evaluator.on_batch(
        batch(
            ("order_completed", customer, carted - dt.timedelta(minutes=1), {}),
            ("cart_abandoned", customer, carted, {"value": 70}),
        )
    )
    evaluator.on_batch(None)
    channel = RecordingChannel()
    drain(dispatcher_for(demo_ws, channel))
    assert [m.customer_id for m in channel.sent] == [customer]


@pytest.mark.usefixtures("no_slack")
def test_reentry_every_n_days_and_paused_campaigns(demo_ws: Any) -> None:
    (customer,) = reachable_customers(demo_ws, 1)
    definition = {**CART, "trigger": {"event": "browse", "reentry": {"every_days": 7}}}
    create_campaign(demo_ws, parse_campaign(definition))
    launch_campaign(demo_ws, "cart")
    evaluator = TriggerEvaluator(demo_ws, refresh_seconds=0)
    first = _now() - dt.timedelta(days=10)
    assert evaluator.on_batch(batch(("browse", customer, first, {"value": 1})))["fired"] == 1
    assert (
        evaluator.on_batch(batch(("browse", customer, first + dt.timedelta(days=2), {})))["fired"]
        == 0
    )
    assert (
        evaluator.on_batch(batch(("browse", customer, first + dt.timedelta(days=8), {})))["fired"]
        == 1
    )
    from cvm.campaigns.lifecycle import pause_campaign

    pause_campaign(demo_ws, "cart")
    assert evaluator.on_batch(batch(("browse", customer, _now(), {})))["fired"] == 0


def test_property_filters() -> None:
    props = {"value": "75", "cart": {"items": 3}, "currency": "EUR"}
    assert passes(props, [PropertyFilter(property="value", op="gt", value=50)])
    assert not passes(props, [PropertyFilter(property="value", op="lte", value=50)])
    assert passes(props, [PropertyFilter(property="cart.items", op="gte", value=3)])
    assert passes(props, [PropertyFilter(property="currency", op="in", value=["EUR", "USD"])])
    assert not passes(props, [PropertyFilter(property="missing", op="eq", value=1)])
    assert passes(props, [PropertyFilter(property="missing", op="exists", value=False)])
    assert not passes(
        props, [PropertyFilter(property="currency", op="gt", value=3)]
    )  # not a number
