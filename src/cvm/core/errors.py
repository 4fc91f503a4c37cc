"""Domain errors. Each carries a one-sentence message meant for the person at the keyboard.

The CLI maps `CvmError` to its `exit_code` and prints only the message (never a traceback);
the API maps it to an HTTP status in one place (`cvm.api.errors`).
"""

from __future__ import annotations


class CvmError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code: int = 1
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserInputError(CvmError):
    """Bad arguments, a missing or unreadable file, a mapping naming an absent column."""

    exit_code = 2
    http_status = 422


class WorkspaceError(CvmError):
    """No workspace where one was expected, or a broken one."""

    exit_code = 2
    http_status = 500


class NotFoundError(CvmError):
    """A named thing (customer, segment, campaign, model version) does not exist."""

    exit_code = 2
    http_status = 404


class ConflictError(CvmError):
    """The request contradicts the current state (duplicate name, wrong lifecycle step)."""

    exit_code = 2
    http_status = 409


class NotFittedError(CvmError):
    """A model was asked to predict before `fit` was called."""

    exit_code = 1
    http_status = 500
