"""Errors of the collection API; each carries its HTTP status for `cvm.api.errors`."""

from __future__ import annotations

from cvm.core.errors import CvmError


class AuthenticationError(CvmError):
    """No API key, an unknown one, or a revoked one."""

    exit_code = 2
    http_status = 401


class PermissionDeniedError(CvmError):
    """A valid key whose scope does not allow the call (a write key reading profiles)."""

    exit_code = 2
    http_status = 403


class MalformedRequestError(CvmError):
    """The body is not JSON, not an object, has no valid event, or cannot be decompressed."""

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        # Per-message problems (index + reason), returned in the JSON error body.
        self.details = details or []


class PayloadTooLargeError(CvmError):
    """An event over 32 KB sent alone, or a request over 500 KB."""

    exit_code = 2
    http_status = 413
