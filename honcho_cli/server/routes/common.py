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


def recall_bounds(session_id: str | None, filters: dict[str, Any] | None) -> tuple[str | None, list[str] | None]:
    """The recall endpoints' `filters: {"session_id": ...}`: one session, or an allowlist of several."""
    if not filters:
        return session_id, None
    unknown = set(filters) - {"session_id"}
    if unknown:
        raise InvalidInput(f"filters here may only name session_id, not {', '.join(sorted(unknown))}", field="filters")
    allowed = filters["session_id"]
    if isinstance(allowed, str):
        allowed = [allowed]
    if isinstance(allowed, dict) and set(allowed) == {"in"}:
        allowed = allowed["in"]
    if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) for a in allowed):
        raise InvalidInput("filters.session_id must be a session id or a non-empty list of them", field="filters")
    if len(allowed) == 1 and session_id in (None, allowed[0]):
        return allowed[0], None
    if session_id is not None:
        raise InvalidInput("session_id and a filters.session_id allowlist are mutually exclusive", field="filters")
    return None, allowed
