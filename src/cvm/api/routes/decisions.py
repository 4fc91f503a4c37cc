"""Real-time next best action: ``GET /v1/decisions/{customer_id}?channel=…&context=…``.

The logic lives in `cvm.decide.realtime`; this route only parses, calls the decider and
renders. The decider (offers, policy and every customer's decision features in memory) is
built once per app, on the first request or by `attach_decider` at start-up, and refreshes
itself in a background thread.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from cvm.api.deps import authorize, key_from_header
from cvm.decide.realtime import RealtimeDecider, open_decider
from cvm.state.keys import ApiKey

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])
_lock = threading.Lock()


def attach_decider(app: FastAPI, decider: RealtimeDecider) -> None:
    """Install a decider (tests, benchmarks, or an app that builds it at start-up)."""
    app.state.decider = decider


async def read_key(request: Request) -> ApiKey:
    """The read-key check of `cvm.api.deps` (the same `authorize`, same scopes and errors) as
    an *async* dependency. FastAPI runs a synchronous dependency in its thread pool; for this
    route that hop cost more than the decision itself (about 0.25 of 0.45 ms CPU per request,
    benchmarks/results/decide.md). The check is a cached dictionary lookup; on a cache miss
    (once per key every few seconds) it reads the key's row from the state store on the event
    loop, and once a minute records the key's use."""
    services = request.app.state.services
    return authorize(services, key_from_header(request.headers.get("authorization")), "read")


RealtimeReadKey = Annotated[ApiKey, Depends(read_key)]


def get_decider(request: Request) -> RealtimeDecider:
    decider = getattr(request.app.state, "decider", None)
    if decider is None:
        with _lock:
            decider = getattr(request.app.state, "decider", None)
            if decider is None:
                decider = open_decider(request.app.state.services.workspace, start=True)
                request.app.state.decider = decider
    return decider  # type: ignore[no-any-return]


@router.get(
    "/{customer_id}",
    summary="Next best action for one customer, now",
    response_class=JSONResponse,
    responses={200: {"description": "The decision (see docs/decisioning.md, Real time)."}},
)
async def next_best_action(
    customer_id: str,
    request: Request,
    _: RealtimeReadKey,
    channel: str = Query(..., description="email, sms, push, messenger, phone, web, app, …"),
    context: str | None = Query(None, description="Placement or moment, e.g. `homepage`."),
    explain: bool = Query(False, description="Include every offer considered and why."),
) -> Response:
    # A decision is a dictionary lookup and a few multiplications (tens of microseconds), so
    # it runs on the event loop rather than paying a thread hop; only the very first request
    # builds the decider (blocking once). The body is plain JSON types already (`to_dict`):
    # encoding it here skips FastAPI's response validation and encoder, which cost more per
    # request than the decision itself.
    decider = get_decider(request)
    body = decider.decide(customer_id, channel, context).to_dict()
    if not explain:
        body.pop("considered")
    content = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(content.encode("utf-8"), media_type="application/json")
