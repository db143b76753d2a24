"""`honcho serve`: the reference's v3 HTTP API over this data directory, for the official SDKs."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; loopback unless you mean otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=0, max=65535)] = 8000,
    api_key: Annotated[
        Optional[str],
        typer.Option("--api-key", envvar="HONCHO_API_KEY", show_envvar=True,
                     help="Require `Authorization: Bearer KEY` on every request (env HONCHO_API_KEY)."),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Reason over new messages in the background.")] = True,
    dream: Annotated[bool, typer.Option("--dream", help="The worker also consolidates views with new conclusions.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="critical|error|warning|info|debug")] = "info",
) -> None:
    """Serve Honcho's v3 HTTP API (the official SDKs' routes) over the local store.

    Point an SDK at it with HONCHO_URL=http://127.0.0.1:8000. Reasoning runs in the
    background as messages arrive; `honcho deriver run` and every other command keep
    working on the same data directory while the server is up.
    """
    import uvicorn

    from honcho_cli.server.app import create_app

    settings = state.settings()
    if not _is_loopback(host) and not api_key:
        typer.echo(f"warning: serving {host} without --api-key: anyone who can reach this address can read and write the store", err=True)
    app = create_app(settings, api_key=api_key or None, worker=worker, dream=dream)
    typer.echo(f"honcho serve: data dir {settings.data_dir}, http://{host}:{port} (auth: {'bearer key' if api_key else 'none'})", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=log_level.lower() == "debug")
