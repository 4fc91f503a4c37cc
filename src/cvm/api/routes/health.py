"""Liveness (/healthz: the process answers) and readiness (/readyz: the stores answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cvm.api.deps import ServicesDep
from cvm.state.intake import IntakeLog

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Both stores answer and the background workers run")
def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        checks["intake"] = "pending={pending}".format(
            **IntakeLog(services.workspace.state).counts()
        )
    except Exception as err:
        checks["state"] = f"error: {type(err).__name__}"
    try:
        services.workspace.engine.fetch_scalar("SELECT 1")
        checks["warehouse"] = "ok"
    except Exception as err:
        checks["warehouse"] = f"error: {type(err).__name__}"
    checks["loader"] = "ok" if services.loader_alive else "stopped"
    if services.last_flush_error:
        checks["last_flush"] = f"error: {services.last_flush_error}"
    ready = all(not v.startswith("error") and v != "stopped" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
