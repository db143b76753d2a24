"""What every router needs: the workspace's client, and the checks on options we do not offer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request

from honcho_cli.client import Honcho
from honcho_cli.errors import InvalidInput
from honcho_cli.server.schemas import ID_PATTERN

PathId = Annotated[str, Path(min_length=1, max_length=100, pattern=ID_PATTERN)]


def client(request: Request, workspace_id: PathId) -> Honcho:
    """The ordinary client on the path's workspace, on the server's warm engine (a
    dependency of every workspace route)."""
    return Honcho(engine=request.app.state.engine, workspace=workspace_id)


def default_client(request: Request) -> Honcho:
    """The client on the `default` workspace, for routes outside any workspace."""
    return Honcho(engine=request.app.state.engine, workspace="default")


def wake_worker(request: Request) -> None:
    worker = request.app.state.worker
    if worker is not None:
        worker.wake()


def _has_values(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_values(v) for v in value.values())
    if isinstance(value, list):
        return bool(value)
    return value is not None


def refuse_configuration(configuration: dict[str, Any] | None, what: str) -> None:
    """Settings we cannot honour are refused, not silently dropped."""
    if configuration and _has_values(configuration):
        raise InvalidInput(
            f"{what} configuration is not supported by honcho serve (reasoning, summaries and peer cards are always on; "
            "use peer observe_me and session peer observe_me/observe_others to choose what is reasoned over)",
            field="configuration",
        )


def refuse_scope(scope: Any) -> None:
    if scope is not None:
        raise InvalidInput("scopes are not supported by honcho serve", field="scope")


def single_session(session_id: str | None, filters: dict[str, Any] | None) -> str | None:
    """The recall endpoints' `filters: {"session_id": ...}` allowlist, when it names one session."""
    if not filters:
        return session_id
    unknown = set(filters) - {"session_id"}
    if unknown:
        raise InvalidInput(f"filters here may only name session_id, not {', '.join(sorted(unknown))}", field="filters")
    allowed = filters["session_id"]
    if isinstance(allowed, str):
        allowed = [allowed]
    if not isinstance(allowed, list) or len(allowed) != 1 or not isinstance(allowed[0], str):
        raise InvalidInput("a session allowlist of more than one session is not supported by honcho serve; "
                           "give one session_id", field="filters")
    if session_id is not None and session_id != allowed[0]:
        raise InvalidInput("session_id and filters.session_id disagree", field="filters")
    return allowed[0]
