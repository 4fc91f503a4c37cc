"""The one place that maps errors to HTTP responses.

Domain errors (`cvm.core.errors.CvmError` and subclasses) carry their own ``http_status``;
the body is always JSON ``{"success": false, "code": ..., "message": ...}`` (Segment's SDKs
read ``code`` and ``message``), plus ``errors`` with per-message problems when there are any.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cvm.collect.errors import AuthenticationError, PermissionDeniedError
from cvm.core.errors import CvmError

log = logging.getLogger(__name__)

__all__ = ["AuthenticationError", "PermissionDeniedError", "install_error_handlers"]


def _code(err: CvmError) -> str:
    # MalformedRequestError → "malformed_request"
    name = type(err).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_body(
    code: str, message: str, errors: list[dict[str, object]] | None = None
) -> dict[str, object]:
    body: dict[str, object] = {"success": False, "code": code, "message": message}
    if errors:
        body["errors"] = errors
    return body


async def _cvm_error(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, CvmError)
    details = getattr(err, "details", None)
    headers = {"WWW-Authenticate": 'Basic realm="cvm"'} if err.http_status == 401 else None
    return JSONResponse(
        error_body(_code(err), err.message, details), status_code=err.http_status, headers=headers
    )


async def _validation_error(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "reason": e["msg"]}
        for e in err.errors()
    ]
    first = problems[0] if problems else {"field": "", "reason": "invalid request"}
    return JSONResponse(
        error_body("invalid_request", f"{first['field']}: {first['reason']}", problems),
        status_code=422,
    )


async def _http_error(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, StarletteHTTPException)
    return JSONResponse(
        error_body("http_error", str(err.detail)), status_code=err.status_code, headers=err.headers
    )


async def _unexpected(request: Request, err: Exception) -> JSONResponse:
    # The redacting log filter strips the exception text (it may quote personal data).
    log.error("unexpected %s on %s", type(err).__name__, request.url.path, exc_info=err)
    return JSONResponse(error_body("internal", "internal error; see the server log"), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CvmError, _cvm_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
