"""Offers and campaigns: the catalogue, the wizard, preview, what-if, test send, launch,
pause, stop, live delivery counts and results against control.

Every action calls what the CLI and `/v1/campaigns` call (`cvm.campaigns.lifecycle`), under
the loader's lock where they write the warehouse, and is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cvm.campaigns.lifecycle import (
    create_campaign,
    launch_campaign,
    pause_campaign,
    preview_message,
    resume_campaign,
    stop_campaign,
    test_send,
)  # fmt: skip
from cvm.campaigns.store import CampaignStore
from cvm.core.errors import CvmError
from cvm.decide.offer_store import load_offers
from cvm.segments.store import open_store
from cvm.state.audit import record_change
from cvm.state.campaign_store import CampaignRows
from cvm.state.outbox import OutboxStore
from cvm.ui import figures
from cvm.ui.auth import Marketer, Viewer
from cvm.ui.campaign_forms import WIZARD_CHANNELS, campaign_from_form, simulate
from cvm.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)
ACTIONS = {"launch": launch_campaign, "pause": pause_campaign, "resume": resume_campaign,
           "stop": stop_campaign}  # fmt: skip


def _services(request: Request) -> Any:
    return request.app.state.services


def _offers(ws: Any) -> list[Any]:
    return load_offers(ws.engine) if ws.engine.table_exists("offers") else []


@router.get("/offers")
def offers(request: Request, session: Viewer) -> Response:
    return render(
        request, "offers.html", page="offers", offers=_offers(_services(request).workspace)
    )


@router.get("/campaigns")
def campaigns(request: Request, session: Viewer) -> Response:
    state = _services(request).workspace.state
    outbox = OutboxStore(state)
    rows = [
        {**s.public(), "messages": outbox.counts(s.campaign.id)} for s in CampaignStore(state).all()
    ]
    return render(request, "campaigns.html", page="campaigns", rows=rows)


def _wizard(request: Request, form: dict[str, Any], error: str | None = None,
            status: int = 200) -> Response:  # fmt: skip
    ws = _services(request).workspace
    return render(
        request, "campaign_new.html", status_code=status, page="campaigns", form=form,
        error=error, segments=open_store(ws).names(), offers=_offers(ws),
        channels=WIZARD_CHANNELS,
    )  # fmt: skip


@router.get("/campaigns/new")
def new_campaign(request: Request, session: Marketer, segment: str = "") -> Response:
    return _wizard(request, {"segment": segment, "mode": "now", "control_share": "10",
                             "channel_email": "on"})  # fmt: skip


@router.post("/campaigns/new")
async def create(request: Request, session: Marketer) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    services = _services(request)
    try:
        campaign = campaign_from_form(form)
        with services.loader.lock:
            create_campaign(services.workspace, campaign)
    except CvmError as err:
        return _wizard(request, form, err.message, 422)
    record_change(services.workspace.state, session.user.username, "campaign.create",
                  campaign.id, campaign.model_dump(mode="json"))  # fmt: skip
    return RedirectResponse(f"/ui/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id}")
def campaign(request: Request, campaign_id: str, session: Viewer) -> Response:
    services = _services(request)
    ws = services.workspace
    stored = CampaignStore(ws.state).get(campaign_id)
    results = request.app.state.ui_cache.get(
        f"results:{campaign_id}", lambda: figures.campaign_results(ws, campaign_id)
    ) if stored.status != "draft" else None  # fmt: skip
    return render(
        request, "campaign.html", page="campaigns", c=stored.campaign, stored=stored,
        counts=OutboxStore(ws.state).counts(campaign_id), runs=CampaignRows(ws.state).runs(campaign_id),
        results=results, definition=stored.campaign.model_dump(mode="json"),
    )  # fmt: skip


@router.get("/campaigns/{campaign_id}/counts")
def counts(request: Request, campaign_id: str, session: Viewer) -> Response:
    state = _services(request).workspace.state
    return render(request, "campaign_counts.html", counts=OutboxStore(state).counts(campaign_id),
                  status=CampaignStore(state).get(campaign_id).status)  # fmt: skip


@router.get("/campaigns/{campaign_id}/preview")
def preview(request: Request, campaign_id: str, session: Viewer, customer_id: str = "") -> Response:
    services = _services(request)
    if not customer_id.strip():
        return render(request, "campaign_preview.html", message=None, error="Enter a customer id.")
    try:
        with services.loader.lock:
            message = preview_message(services.workspace, campaign_id, customer_id.strip())
    except CvmError as err:
        return render(request, "campaign_preview.html", message=None, error=err.message)
    return render(request, "campaign_preview.html", message=message, error=None)


@router.post("/campaigns/{campaign_id}/simulate")
def what_if(request: Request, campaign_id: str, session: Marketer) -> Response:
    services = _services(request)
    campaign = CampaignStore(services.workspace.state).get(campaign_id).campaign
    with services.loader.lock:
        result = simulate(services.workspace, campaign)
    return render(request, "campaign_simulation.html", sim=result)


@router.post("/campaigns/{campaign_id}/test-send")
def send_test(
    request: Request, campaign_id: str, session: Marketer,
    to: Annotated[str, Form()], customer_id: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    services = _services(request)
    try:
        with services.loader.lock:
            result = test_send(services.workspace, campaign_id, to.strip(),
                               customer_id=customer_id.strip() or None)  # fmt: skip
    except CvmError as err:
        return render(request, "notice.html", ok=False, text=err.message)
    record_change(services.workspace.state, session.user.username, "campaign.test_send",
                  campaign_id, {"to": to, "status": result.status})  # fmt: skip
    ok = result.status == "sent"
    return render(request, "notice.html", ok=ok,
                  text=f"Test message {result.status} to {to}" + (f": {result.detail}" if result.detail else ""))  # fmt: skip


@router.post("/campaigns/{campaign_id}/{action}")
def act(request: Request, campaign_id: str, action: str, session: Marketer) -> Response:
    if action not in ACTIONS:
        return render(request, "error.html", status_code=404, status=404,
                      message=f"unknown campaign action {action!r}")  # fmt: skip
    services = _services(request)
    with services.loader.lock:
        summary = ACTIONS[action](services.workspace, campaign_id)
    record_change(services.workspace.state, session.user.username, f"campaign.{action}",
                  campaign_id, _plain(summary))  # fmt: skip
    request.app.state.ui_cache.invalidate("results")
    request.app.state.ui_cache.invalidate("measured")
    return RedirectResponse(f"/ui/campaigns/{campaign_id}", status_code=303)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
