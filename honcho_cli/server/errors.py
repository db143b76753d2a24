"""HonchoError -> HTTP status and JSON body.

The body carries the message under `detail`, where the official SDK looks first,
and the same `{"error": {"code", "message", "details"}}` envelope the CLI prints,
so a script can branch on `PEER_NOT_FOUND` whichever face it uses.
"""

from __future__ import annotations

import logging
from typing import Any

from honcho_cli.errors import (
    Conflict,
    DiskFull,
    HonchoError,
    InvalidInput,
    ModelError,
    ModelNotFound,
    NotFound,
    StoreBusy,
)

log = logging.getLogger("honcho.server")


class NotSupported(HonchoError):
    """A route or option of the reference that `honcho serve` does not offer."""

    code = "NOT_SUPPORTED"


class Unauthorized(HonchoError):
    code = "UNAUTHORIZED"


def status_of(err: HonchoError) -> int:
    if isinstance(err, Unauthorized):
        return 401
    if isinstance(err, NotSupported):
        return 501
    if isinstance(err, ModelNotFound):  # before NotFound: the route exists, the model is not installed
        return 503
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, InvalidInput):
        return 422
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, StoreBusy):
        return 503
    if isinstance(err, ModelError):
        return 502
    if isinstance(err, DiskFull):
        return 507
    return 500


def error_body(err: HonchoError) -> dict[str, Any]:
    return {"detail": err.message, **err.to_dict()}


def headers_of(err: HonchoError) -> dict[str, str] | None:
    if isinstance(err, StoreBusy):
        return {"Retry-After": "1"}
    if isinstance(err, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    return None


def install(app: Any) -> None:
    """Exception handlers: HonchoError by its type; anything else is a bug, logged, 500."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.exception_handler(HonchoError)
    async def honcho_error(request: Request, err: HonchoError) -> JSONResponse:
        status = status_of(err)
        if status >= 500 and status != 501:
            log.warning("%s %s -> %s %s: %s", request.method, request.url.path, status, err.code, err.message)
        return JSONResponse(error_body(err), status_code=status, headers=headers_of(err))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        body = {"detail": "internal error (a bug: see the server log)",
                "error": {"code": "INTERNAL", "message": f"{type(err).__name__}: {err}", "details": {}}}
        return JSONResponse(body, status_code=500)
