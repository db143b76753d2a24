"""The error types every layer raises and the CLI turns into messages and exit codes.

One place, so the codes a script sees (`PEER_NOT_FOUND`, exit 3, ...) are a contract
kept in a single file rather than scattered through the commands.
"""

from __future__ import annotations

from typing import Any


class ExitCode:
    """Process exit codes, documented in the README."""

    OK = 0
    INTERNAL = 1  # a bug: please report it
    INVALID = 2  # bad input or usage (Typer also uses 2 for usage errors)
    NOT_FOUND = 3  # workspace, peer, session, message, conclusion or model missing
    CONFLICT = 4  # state forbids it: not a member, already exists, needs --yes
    BUSY = 5  # the store stayed locked by other processes past the timeout
    MODEL = 6  # the model is missing, failed to load or answered nonsense
    UNHEALTHY = 7  # `honcho doctor` found problems it did not repair
    STORE_UNUSABLE = 8  # the store file is not a honcho store, or was written by a newer version
    DISK_FULL = 9  # the disk (or quota) is full: nothing was written
    REMOTE = 10  # a Honcho server refused or failed a push / pull request


class HonchoError(Exception):
    """Base of every error meant for a user: carries a stable code and details."""

    code = "ERROR"
    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(HonchoError):
    code = "INVALID_INPUT"
    exit_code = ExitCode.INVALID


class NotFound(HonchoError):
    code = "NOT_FOUND"
    exit_code = ExitCode.NOT_FOUND


class WorkspaceNotFound(NotFound):
    code = "WORKSPACE_NOT_FOUND"


class PeerNotFound(NotFound):
    code = "PEER_NOT_FOUND"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


class MessageNotFound(NotFound):
    code = "MESSAGE_NOT_FOUND"


class ConclusionNotFound(NotFound):
    code = "CONCLUSION_NOT_FOUND"


class ModelNotFound(NotFound):
    code = "MODEL_NOT_FOUND"


class Conflict(HonchoError):
    code = "CONFLICT"
    exit_code = ExitCode.CONFLICT


class PeerNotInSession(Conflict):
    code = "PEER_NOT_IN_SESSION"


class ConfirmationRequired(Conflict):
    code = "CONFIRMATION_REQUIRED"


class StoreBusy(HonchoError):
    code = "STORE_BUSY"
    exit_code = ExitCode.BUSY


class ModelError(HonchoError):
    code = "MODEL_ERROR"
    exit_code = ExitCode.MODEL


class Unhealthy(HonchoError):
    code = "STORE_INCONSISTENT"
    exit_code = ExitCode.UNHEALTHY


class StoreUnusable(HonchoError):
    """The data file cannot be used as it is; honcho leaves it untouched."""

    code = "STORE_UNUSABLE"
    exit_code = ExitCode.STORE_UNUSABLE


class DiskFull(HonchoError):
    """A write ran out of space; its transaction was rolled back, so the store is as before."""

    code = "DISK_FULL"
    exit_code = ExitCode.DISK_FULL
