"""Dependency aliases: `ServicesDep`, and `ReadKey` / `AdminKey` for scoped access.

Keys come as HTTP Basic (the key as user name, empty password: what Segment SDKs send) or as
``Authorization: Bearer <key>``. Scopes: write keys send events; read keys read profiles;
admin keys do everything, including consents, privacy requests and key management.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from cvm.api.services import Services
from cvm.collect.errors import AuthenticationError, PermissionDeniedError
from cvm.state.keys import ApiKey

ALLOWED = {"write": ("write", "admin"), "read": ("read", "admin"), "admin": ("admin",)}


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def key_from_header(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationError(
                "Authorization header is not valid Basic credentials"
            ) from None
        return user or None
    raise AuthenticationError("Authorization must be Basic (key as user name) or Bearer")


def authorize(services: Services, secret: str | None, scope: str) -> ApiKey:
    if not secret:
        raise AuthenticationError(
            "missing API key: send it as HTTP Basic user name (empty password) or Bearer token"
        )
    key = services.keys.authenticate(secret)
    if key is None:
        raise AuthenticationError("unknown or revoked API key")
    if key.scope not in ALLOWED[scope]:
        raise PermissionDeniedError(f"a {key.scope} key cannot do this; it needs a {scope} key")
    return key


def _scoped(scope: str):  # type: ignore[no-untyped-def]
    # Async, so a cached key is checked on the event loop: a sync dependency costs a thread hop
    # on every request. Only a cache miss (the store lookup, the use record) goes to a thread.
    async def dependency(request: Request, services: ServicesDep) -> ApiKey:
        secret = key_from_header(request.headers.get("authorization"))
        if not secret or services.keys.answers_without_io(secret):
            return authorize(services, secret, scope)
        return await run_in_threadpool(authorize, services, secret, scope)

    return dependency


ReadKey = Annotated[ApiKey, Depends(_scoped("read"))]
AdminKey = Annotated[ApiKey, Depends(_scoped("admin"))]
