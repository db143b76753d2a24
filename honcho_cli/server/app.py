"""The FastAPI app: routers, error mapping, the optional bearer key and the reasoning worker."""

from __future__ import annotations

import hmac
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from honcho_cli.server import errors
from honcho_cli.server.schemas import ERROR_RESPONSES
from honcho_cli.server.worker import ReasoningWorker

if TYPE_CHECKING:
    from honcho_cli.config import Settings


class BearerAuth:
    """Every request must carry `Authorization: Bearer <key>`; otherwise 401 before any route
    runs, so nothing is read or written. Compared in constant time."""

    def __init__(self, app: Any, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode("utf-8")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
            err = errors.Unauthorized("missing or wrong API key: send Authorization: Bearer <key>")
            response = JSONResponse(errors.error_body(err), status_code=401, headers=errors.headers_of(err))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    api_key: str | None = None,
    worker: bool = True,
    dream: bool = False,
    poll_seconds: float = 1.0,
) -> FastAPI:
    """The app over one data directory. `worker=False` leaves reasoning to `honcho deriver run`."""
    from honcho_cli import __version__
    from honcho_cli.config import resolve_settings
    from honcho_cli.server.routes import conclusions, messages, peers, scopes, sessions, unsupported, workspaces

    from honcho_cli.engine import Engine

    engine = Engine(settings or resolve_settings(), warm=True)  # models load once and stay for the server's life
    reasoning = ReasoningWorker(engine, poll_seconds=poll_seconds, dream=dream) if worker else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.preload()  # the first question should not wait for the models to load
        if reasoning is not None:
            reasoning.start()
        try:
            yield
        finally:
            if reasoning is not None:
                reasoning.stop()
            engine.close()

    app = FastAPI(
        title="honcho (local)",
        version=__version__,
        summary="Honcho's v3 HTTP API over a local store and local models.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.engine = engine
    app.state.worker = reasoning
    errors.install(app)
    if api_key:
        app.add_middleware(BearerAuth, api_key=api_key)
    for module in (workspaces, peers, sessions, messages, conclusions, scopes, unsupported):
        app.include_router(module.router)

    @app.get("/health", tags=["server"])
    def health(request: Request) -> dict[str, Any]:
        """Not part of the reference: the server is up; the worker's state (running, units done, last error)."""
        state = dict(request.app.state.worker.state) if request.app.state.worker is not None else None
        return {"status": "ok", "data_dir": str(engine.settings.data_dir), "worker": state}

    return app
