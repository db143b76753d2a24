"""The MCP server object: tools and resources over a warm engine, with its reasoning worker.

The warm engine (one serialized store connection, models loaded once and taken in
turns; honcho_cli/engine.py) and the background worker are what `honcho serve` uses
too (server/worker.py): tool calls run on worker threads like HTTP requests do, and other
`honcho` processes keep using the same data directory while the server is up.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from honcho_cli.engine import Engine
from honcho_cli.errors import HonchoError, InvalidInput
from honcho_cli.mcp.perspective import Perspective
from honcho_cli.mcp.tools import MemoryTools
from honcho_cli.server.worker import ReasoningWorker

if TYPE_CHECKING:
    from honcho_cli.config import Settings


def instructions(perspective: Perspective, workspace: str) -> str:
    who = (f"It is the memory of peer {perspective.peer!r}: every read is that peer's view and messages are written as it."
           if perspective.pinned else "Any peer's view can be read; pass peer_id to say whose.")
    return (
        f"Local Honcho memory (workspace {workspace!r}). Peers talk in sessions; add_messages records what they said, "
        "and a local model reasons over it in the background into conclusions. A peer's view of another holds only "
        f"what it witnessed in sessions it was in. {who} Use get_representation to read a view, chat to ask a "
        "question of it, get_session_context to fill a prompt. Results say when memory is still catching up."
    )


def build_server(
    settings: Settings,
    *,
    peer: str | None = None,
    worker: bool = True,
    dream: bool = False,
    poll_seconds: float = 1.0,
    log_level: str = "WARNING",
) -> MCPServer:
    """The server over one data directory and workspace; `peer` pins it to that peer's memory."""
    from honcho_cli import __version__

    perspective = Perspective(peer)
    engine = Engine(settings, warm=True)  # models load once and stay for the server's life
    reasoning = ReasoningWorker(engine, poll_seconds=poll_seconds, dream=dream) if worker else None
    tools = MemoryTools(engine, reasoning, perspective)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        engine.preload()  # the first question should not wait for the models to load
        if reasoning is not None:
            reasoning.start()
        try:
            yield
        finally:
            if reasoning is not None:
                await anyio.to_thread.run_sync(reasoning.stop)
            engine.close()

    server = MCPServer(
        "honcho",
        title="honcho (local memory)",
        instructions=instructions(perspective, settings.workspace),
        version=__version__,
        lifespan=lifespan,
        log_level=log_level.upper(),  # type: ignore[arg-type]
    )
    tools.register(server)
    _register_resources(server, tools)
    return server


def _register_resources(server: MCPServer, tools: MemoryTools) -> None:
    """Browsable lists for clients that show resources; the same reads as the list tools."""

    def as_json(result: Any) -> str:
        return json.dumps(result.structured_content, ensure_ascii=False, indent=1)

    async def read(fn: Any, *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except HonchoError as err:
            raise ResourceError(f"{err.code}: {err.message}") from None

    @server.resource("honcho://peers", name="peers", description="The peers of this workspace.", mime_type="application/json")
    async def peers() -> str:
        return as_json(await read(tools.list_peers))

    @server.resource("honcho://sessions", name="sessions", description="Sessions and their current members.",
                     mime_type="application/json")
    async def sessions() -> str:
        return as_json(await read(tools.list_sessions))

    @server.resource("honcho://sessions/{session_id}/peers", name="session-peers",
                     description="Everyone who was ever in a session, with when they joined and left and their settings.",
                     mime_type="application/json")
    async def session_peers(session_id: str) -> str:
        def members() -> list[dict[str, Any]]:
            found = [m.to_dict() for m in tools.honcho().session_peers(session_id, include_history=True)]
            if tools.perspective.pinned and tools.perspective.peer not in {m["peer_id"] for m in found}:
                raise InvalidInput(f"this server acts for {tools.perspective.peer}, who was never in session {session_id}",
                                   session_id=session_id)
            return found

        return json.dumps(await read(members), ensure_ascii=False, indent=1)
