"""Scopes: named sets of sessions that bound recall (core.scopes), as the SDK's Scope calls them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from honcho_cli.client import Honcho
from honcho_cli.server.routes.common import PathId, client
from honcho_cli.server.routes.workspaces import PageNo, Size
from honcho_cli.server.schemas import (
    Page,
    ScopeCreate,
    ScopeOut,
    ScopeSessionsIn,
    ScopeStatusOut,
    ScopeUpdate,
    SessionOut,
    paginate,
    scope_out,
    session_out,
    utc,
)

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/scopes", tags=["scopes"])
ScopeId = Annotated[str, PathId]


@router.post("", response_model=ScopeOut)
def get_or_create_scope(body: ScopeCreate, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Get-or-create; given metadata replaces the stored metadata."""
    return scope_out(h.create_scope(body.id, body.metadata))


@router.post("/list", response_model=Page[ScopeOut])
def list_scopes(
    page: PageNo = 1, size: Size = 50, reverse: bool = False, h: Honcho = Depends(client),
) -> dict[str, Any]:
    """Oldest first (`reverse`: newest first)."""
    return paginate([scope_out(s) for s in h.list_scopes()], page, size, reverse=reverse)


@router.get("/{scope_id}", response_model=ScopeOut)
def get_scope(scope_id: ScopeId, h: Honcho = Depends(client)) -> dict[str, Any]:
    return scope_out(h.get_scope(scope_id))


@router.put("/{scope_id}", response_model=ScopeOut)
def update_scope(scope_id: ScopeId, body: ScopeUpdate, h: Honcho = Depends(client)) -> dict[str, Any]:
    return scope_out(h.update_scope(scope_id, body.metadata))


@router.delete("/{scope_id}")
def delete_scope(scope_id: ScopeId, h: Honcho = Depends(client)) -> dict[str, Any]:
    """The scope, its membership and its view (the sessions themselves stay)."""
    return h.delete_scope(scope_id)


@router.get("/{scope_id}/status", response_model=ScopeStatusOut)
def scope_status(scope_id: ScopeId, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Per member session: its copies are made at once here, so `completed` with their count."""
    found = h.scope_status(scope_id)
    return {"backfill_status": {sid: {**job, "updated_at": utc(job["updated_at"])} for sid, job in found.items()}}


@router.post("/{scope_id}/sessions")
def add_sessions(scope_id: ScopeId, body: ScopeSessionsIn, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Sessions join (members stay); what was already concluded in them is copied into the scope's view."""
    return h.scope_add_sessions(scope_id, body.session_ids)


@router.post("/{scope_id}/sessions/list", response_model=Page[SessionOut])
def scope_sessions(
    scope_id: ScopeId, page: PageNo = 1, size: Size = 50, reverse: bool = False, h: Honcho = Depends(client),
) -> dict[str, Any]:
    """Longest-standing member first (`reverse`: most recently added first)."""
    return paginate([session_out(s) for s in h.scope_sessions(scope_id, reverse=reverse)], page, size)


@router.delete("/{scope_id}/sessions/{session_id}")
def remove_session(scope_id: ScopeId, session_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    """The session leaves; its copies, and what was reasoned in the scope from them, go."""
    return h.scope_remove_session(scope_id, session_id)
