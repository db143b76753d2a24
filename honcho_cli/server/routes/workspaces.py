"""Workspaces: get-or-create, list, update, delete; the queue status, message search and dreams."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from honcho_cli.client import Honcho
from honcho_cli.errors import InvalidInput
from honcho_cli.server import filters as filtering
from honcho_cli.server.errors import NotSupported
from honcho_cli.server.routes.common import PathId, client, default_client, refuse_configuration
from honcho_cli.server.schemas import (
    ChatBody,
    ChatOut,
    DreamBody,
    ListBody,
    MessageOut,
    Page,
    QueueStatusOut,
    SearchBody,
    WorkspaceCreate,
    WorkspaceOut,
    WorkspaceUpdate,
    message_out,
    paginate,
    queue_status_out,
    workspace_out,
)

router = APIRouter(prefix="/v3/workspaces", tags=["workspaces"])

PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
Size = Annotated[int, Query(ge=1, le=100)]


@router.post("", response_model=WorkspaceOut)
def get_or_create_workspace(body: WorkspaceCreate, h: Honcho = Depends(default_client)) -> dict[str, Any]:
    refuse_configuration(body.configuration, "workspace")
    return workspace_out(h.in_workspace(body.id).create_workspace(body.id, body.metadata))


@router.post("/list", response_model=Page[WorkspaceOut])
def list_workspaces(
    body: Annotated[ListBody | None, Body()] = None, page: PageNo = 1, size: Size = 50, reverse: bool = False,
    h: Honcho = Depends(default_client),
) -> dict[str, Any]:
    records = [workspace_out(w) for w in h.list_workspaces()]
    return paginate(filtering.apply(records, body.filters if body else None), page, size, reverse=reverse)


@router.put("/{workspace_id}", response_model=WorkspaceOut)
def update_workspace(workspace_id: PathId, body: WorkspaceUpdate, h: Honcho = Depends(client)) -> dict[str, Any]:
    refuse_configuration(body.configuration, "workspace")
    h.inspect_workspace(workspace_id)  # 404 unless it exists (default always does)
    return workspace_out(h.create_workspace(workspace_id, body.metadata))


@router.delete("/{workspace_id}")
def delete_workspace(workspace_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Everything in it goes; `default` is emptied rather than removed."""
    return h.delete_workspace(workspace_id)


@router.get("/{workspace_id}/queue/status", response_model=QueueStatusOut)
def queue_status(
    observer_id: Annotated[str | None, Query()] = None,
    sender_id: Annotated[str | None, Query()] = None,
    session_id: Annotated[str | None, Query()] = None,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    return queue_status_out(h.deriver_status(observer=observer_id, sender=sender_id, session_id=session_id))


def search(h: Honcho, body: SearchBody, *, session_id: str | None = None, peer_id: str | None = None) -> list[dict[str, Any]]:
    """Hybrid message search; `filters` may name session_id and peer_id; `scope` keeps to its sessions."""
    taken, rest = filtering.pop(body.filters, "session_id", "peer_id")
    if rest:
        raise InvalidInput(f"search filters may name session_id and peer_id only, not {', '.join(sorted(rest))}", field="filters")
    for name, fixed in (("session_id", session_id), ("peer_id", peer_id)):
        if fixed is not None and taken.get(name, fixed) != fixed:
            return []
    allowed = None
    if body.scope is not None:
        if session_id is not None or taken.get("session_id") is not None:
            raise InvalidInput("scope and a session are mutually exclusive", field="scope")
        allowed = [s.id for s in h.scope_sessions(body.scope)]
    found = h.search_messages(
        body.query, session_id=session_id or taken.get("session_id"), peer_id=peer_id or taken.get("peer_id"), limit=body.limit,
        sessions=allowed,
    )
    return [message_out(m) for m in found]


@router.post("/{workspace_id}/search", response_model=list[MessageOut])
def search_workspace(body: SearchBody, h: Honcho = Depends(client)) -> list[dict[str, Any]]:
    return search(h, body)


@router.post("/{workspace_id}/chat", response_model=ChatOut, responses={200: {"content": {"text/event-stream": {}}}})
def chat_workspace(body: ChatBody, h: Honcho = Depends(client)) -> Any:
    """An answer from what is known about every peer of the workspace (or through a scope)."""
    from honcho_cli.recall import workspace_chat_context
    from honcho_cli.server.routes.common import recall_bounds
    from honcho_cli.server.routes.dialogue import respond

    if body.response_format is not None:
        raise InvalidInput("response_format is not supported by honcho serve", field="response_format")
    if body.target is not None:
        raise InvalidInput("workspace chat has no target: ask a peer (POST /peers/{peer_id}/chat)", field="target")
    session_id, allowed = recall_bounds(body.session_id, body.filters)
    if allowed is not None:
        raise InvalidInput("workspace chat takes one session_id or a scope, not a session allowlist", field="filters")
    context, level = workspace_chat_context(h, body.query, session_id=session_id, scope=body.scope,
                                            reasoning_level=body.reasoning_level)
    return respond(h, context, level, stream=body.stream, include_evidence=body.include_evidence)


@router.post("/{workspace_id}/schedule_dream", status_code=202)
def schedule_dream(workspace_id: PathId, body: DreamBody, request: Request, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Consolidate one view (observer's view of observed, default its self-view) in the background."""
    for peer_id in {body.observer, body.observed or body.observer}:
        h.get_peer(peer_id)  # 404 for an unknown workspace or peer, before queueing
    worker = request.app.state.worker
    if worker is None:
        raise NotSupported("this server runs without its reasoning worker (--no-worker): run `honcho deriver dream`")
    worker.request_dream(workspace_id, body.observer, body.observed or body.observer)
    return {"scheduled": True, "observer": body.observer, "observed": body.observed or body.observer}
