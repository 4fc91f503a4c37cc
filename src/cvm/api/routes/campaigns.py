"""Campaigns over HTTP (admin keys): create, list, show, launch, pause, resume, stop, preview,
test-send, and run the day's scheduled campaigns.

The server owns the warehouse, so launches run here (under the loader's lock, so a launch and
a micro-batch never write the warehouse at the same time); sending is done by
``cvm campaigns dispatch`` workers that need only the state store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from cvm.api.deps import AdminKey, ServicesDep
from cvm.api.services import Services
from cvm.campaigns.campaign import parse_campaign
from cvm.campaigns.config import load_campaign_settings
from cvm.campaigns.feedback import Feedback
from cvm.campaigns.launch import link_signer
from cvm.campaigns.lifecycle import (
    create_campaign,
    launch_campaign,
    pause_campaign,
    preview_message,
    resume_campaign,
    run_campaigns,
    stop_campaign,
    test_send,
)
from cvm.campaigns.store import CampaignStore
from cvm.campaigns.triggers import TriggerEvaluator
from cvm.state.campaign_store import CampaignRows
from cvm.state.outbox import OutboxStore

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


class TestSend(BaseModel):
    to: str
    customer_id: str | None = None
    channel: str | None = None


def install(app: FastAPI, services: Services) -> None:
    """Attach the campaign runtime: tracking/feedback, and the trigger evaluator that runs
    after every loader micro-batch."""
    ws = services.workspace
    settings = load_campaign_settings(ws.root)
    identity = services.settings.identity
    app.state.campaign_settings = settings
    app.state.feedback = Feedback(
        ws.state, link_signer(ws, settings), identity.default_phone_country,
        identity.max_user_ids_per_identifier, services.loader.lock,
    )  # fmt: skip
    evaluator = TriggerEvaluator(ws)
    app.state.trigger_evaluator = evaluator
    services.loader.batch_hooks.append(evaluator.on_batch)


@router.post("", status_code=201, summary="Create a campaign (a draft)")
def create(
    body: dict[str, Any], services: ServicesDep, _: AdminKey, replace: bool = False
) -> dict[str, Any]:
    campaign = parse_campaign(body, "body")
    with services.loader.lock:
        return create_campaign(services.workspace, campaign, replace=replace).public()


@router.get("", summary="List campaigns")
def list_campaigns(services: ServicesDep, _: AdminKey) -> list[dict[str, Any]]:
    return [s.public() for s in CampaignStore(services.workspace.state).all()]


@router.get("/{campaign_id}", summary="A campaign: definition, status, messages by status, runs")
def show(campaign_id: str, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    state = services.workspace.state
    stored = CampaignStore(state).get(campaign_id)
    return {
        **stored.public(),
        "definition": stored.campaign.model_dump(mode="json"),
        "messages": OutboxStore(state).counts(campaign_id),
        "runs": CampaignRows(state).runs(campaign_id),
    }


@router.post("/{campaign_id}/launch", summary="Activate (and enqueue a now/at audience)")
def launch(
    campaign_id: str, services: ServicesDep, _: AdminKey, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    with services.loader.lock:
        return launch_campaign(services.workspace, campaign_id, as_of=as_of)


@router.post("/{campaign_id}/pause", summary="Hold queued messages")
def pause(campaign_id: str, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    return pause_campaign(services.workspace, campaign_id)


@router.post("/{campaign_id}/resume", summary="Release held messages")
def resume(campaign_id: str, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    return resume_campaign(services.workspace, campaign_id)


@router.post("/{campaign_id}/stop", summary="Stop for good (queued messages are cancelled)")
def stop(campaign_id: str, services: ServicesDep, _: AdminKey) -> dict[str, Any]:
    return stop_campaign(services.workspace, campaign_id)


@router.get("/{campaign_id}/preview", summary="The message one customer would get")
def preview(
    campaign_id: str,
    services: ServicesDep,
    _: AdminKey,
    customer_id: str = Query(...),
    channel: str | None = None,
) -> dict[str, Any]:
    with services.loader.lock:
        return preview_message(services.workspace, campaign_id, customer_id, channel)


@router.post("/{campaign_id}/test-send", summary="Send one [TEST] copy to an address")
def send_test(
    campaign_id: str, body: TestSend, services: ServicesDep, _: AdminKey
) -> dict[str, Any]:
    with services.loader.lock:
        result = test_send(
            services.workspace,
            campaign_id,
            body.to,
            customer_id=body.customer_id,
            channel=body.channel,
        )
    return {"status": result.status, "provider_id": result.provider_id, "detail": result.detail}


@router.get("/{campaign_id}/messages", summary="Outbox rows of a campaign")
def messages(
    campaign_id: str,
    services: ServicesDep,
    _: AdminKey,
    status: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    CampaignStore(services.workspace.state).get(campaign_id)
    keep = ("idempotency_key", "customer_id", "channel", "address", "status", "not_before",
            "attempts", "sent_at", "provider_id", "last_error")  # fmt: skip
    rows = OutboxStore(services.workspace.state).messages(campaign_id, status, limit)
    return [{k: r[k] for k in keep} for r in rows]


run_router = APIRouter(prefix="/v1/campaign-runs", tags=["campaigns"])


@run_router.post("", summary="Run the day's scheduled campaigns and batch triggers")
def run_day(services: ServicesDep, _: AdminKey, as_of: dt.datetime | None = None) -> dict[str, Any]:
    with services.loader.lock:
        return run_campaigns(services.workspace, as_of)
