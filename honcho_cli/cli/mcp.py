"""`honcho mcp`: this data directory's memory as MCP tools for an agent, over stdio."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state


def mcp(
    peer: Annotated[
        Optional[str],
        typer.Option("--peer", "-p", help="Act for this peer only: its views, its messages, what it was present for."),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Reason over new messages in the background.")] = True,
    dream: Annotated[bool, typer.Option("--dream", help="The worker also consolidates views with new conclusions.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="critical|error|warning|info|debug (on stderr)")] = "warning",
) -> None:
    """Serve the memory as Model Context Protocol tools on stdin/stdout (register it in an MCP client).

    Tools: create_session, add_messages, get_representation, chat, search_messages,
    get_session_context, list/create/delete conclusions, queue_status, ... Reasoning runs in
    the background while the server is up; every other honcho command keeps working on the
    same data directory.
    """
    from honcho_cli.core.validation import check_id
    from honcho_cli.errors import InvalidInput

    if log_level.lower() not in ("critical", "error", "warning", "info", "debug"):
        raise InvalidInput(f"--log-level must be critical, error, warning, info or debug, got {log_level!r}", field="log_level")
    if peer is not None:
        check_id("peer", peer)
    state.client().list_peers()  # an unknown workspace fails here, once, not in every tool call
    from honcho_cli.mcp.server import build_server

    settings = state.settings()
    server = build_server(settings, peer=peer, worker=worker, dream=dream, log_level=log_level)
    typer.echo(
        f"honcho mcp: data dir {settings.data_dir}, workspace {settings.workspace}"
        + (f", acting for {peer}" if peer else "") + " (MCP over stdio)",
        err=True,
    )
    server.run("stdio")
