"""Sessions: get-or-create with peers and their settings, list, update, delete; membership,
per-peer settings, context, summaries and search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from honcho_cli.client import Honcho
from honcho_cli.errors import InvalidInput
from honcho_cli.server import filters as filtering
from honcho_cli.server.routes.common import PathId, client, refuse_configuration
from honcho_cli.server.routes.workspaces import PageNo, Size, search
from honcho_cli.server.schemas import (
    Id,
    ListBody,
    MessageOut,
    Page,
    PeerOut,
    SearchBody,
    SessionContextOut,
    SessionCreate,
    SessionOut,
    SessionPeerConfigIn,
    SessionPeerConfigOut,
    SessionSummariesOut,
    SessionUpdate,
    paginate,
    peer_out,
    session_out,
    summary_out,
)

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/sessions", tags=["sessions"])
PeerConfigs = dict[Id, SessionPeerConfigIn]


def _configs(peers: dict[str, SessionPeerConfigIn] | None) -> dict[str, dict[str, bool | None]]:
    return {peer_id: config.model_dump() for peer_id, config in (peers or {}).items()}


@router.post("", response_model=SessionOut)
def get_or_create_session(body: SessionCreate, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Get-or-create; listed peers are got-or-created and join with their settings; metadata replaces."""
    refuse_configuration(body.configuration, "session")
    session = h.join_session(body.id, _configs(body.peers), create=True, metadata=body.metadata)
    for scope_id in body.scopes or []:  # the session joins these scopes (made if missing)
        h.create_scope(scope_id, sessions=[body.id])
    return session_out(session)


@router.post("/list", response_model=Page[SessionOut])
def list_sessions(
    body: Annotated[ListBody | None, Body()] = None, page: PageNo = 1, size: Size = 50, reverse: bool = False,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    records = [session_out(s) for s in h.list_sessions()]
    return paginate(filtering.apply(records, body.filters if body else None), page, size, reverse=reverse)


@router.put("/{session_id}", response_model=SessionOut)
def update_session(session_id: PathId, body: SessionUpdate, h: Honcho = Depends(client)) -> dict[str, Any]:
    refuse_configuration(body.configuration, "session")
    return session_out(h.update_session(session_id, body.metadata))


@router.post("/{session_id}/clone", response_model=SessionOut)
def clone_session(
    session_id: PathId, message_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    """A copy under a new id: members (with their history), settings and messages, up to and
    including `message_id` when given. The copied messages are not reasoned over again."""
    return session_out(h.clone_session(session_id, message_id=message_id))


@router.delete("/{session_id}")
def delete_session(session_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    """The session with its messages, membership history, queued work, conclusions and summaries."""
    return h.delete_session(session_id)


# -- membership --------------------------------------------------------------------------------


def _members(h: Honcho, session_id: str) -> list[dict[str, Any]]:
    ids = [m.peer_id for m in h.session_peers(session_id)]
    by_id = {p.id: p for p in h.list_peers()}
    return [peer_out(by_id[i]) for i in ids if i in by_id]


@router.get("/{session_id}/peers", response_model=Page[PeerOut])
def session_peers(session_id: PathId, page: PageNo = 1, size: Size = 100, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Active members, in joining order."""
    return paginate(_members(h, session_id), page, size)


@router.post("/{session_id}/peers", response_model=SessionOut)
def add_peers(session_id: PathId, body: Annotated[PeerConfigs, Body()], h: Honcho = Depends(client)) -> dict[str, Any]:
    """Peers join (got-or-created; members stay) and their given settings apply."""
    return session_out(h.join_session(session_id, _configs(body)))


@router.put("/{session_id}/peers", response_model=SessionOut)
def set_peers(session_id: PathId, body: Annotated[PeerConfigs, Body()], h: Honcho = Depends(client)) -> dict[str, Any]:
    """Exactly these peers: the unlisted leave (their stint is closed, not erased), the listed join."""
    return session_out(h.join_session(session_id, _configs(body), replace=True))


@router.delete("/{session_id}/peers", response_model=SessionOut)
def remove_peers(
    session_id: PathId, body: Annotated[list[Id], Body(min_length=1, max_length=100)], h: Honcho = Depends(client)
) -> dict[str, Any]:
    h.remove_peers(session_id, body)
    return session_out(h.get_session(session_id))


@router.get("/{session_id}/peers/{peer_id}/config", response_model=SessionPeerConfigOut)
def get_peer_config(session_id: PathId, peer_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    config = h.get_peer_config(session_id, peer_id)
    return {"observe_me": config.observe_me, "observe_others": config.observe_others,
            "effective_observe_me": config.effective_observe_me}


@router.put("/{session_id}/peers/{peer_id}/config", response_model=SessionPeerConfigOut)
def set_peer_config(
    session_id: PathId, peer_id: PathId, body: SessionPeerConfigIn, h: Honcho = Depends(client)
) -> dict[str, Any]:
    """Only what is given changes; it applies to messages created from now on."""
    config = h.set_peer_config(session_id, peer_id, body.observe_me, body.observe_others)
    return {"observe_me": config.observe_me, "observe_others": config.observe_others,
            "effective_observe_me": config.effective_observe_me}


# -- what an agent reads -------------------------------------------------------------------------


@router.get("/{session_id}/context", response_model=SessionContextOut)
def session_context(
    session_id: PathId,
    tokens: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    summary: bool = True,
    peer_target: Annotated[str | None, Query()] = None,
    peer_perspective: Annotated[str | None, Query()] = None,
    search_query: Annotated[str | None, Query(min_length=1)] = None,
    limit_to_session: bool = False,
    search_top_k: Annotated[int | None, Query(ge=1, le=100)] = None,
    search_max_distance: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    include_most_frequent: Annotated[bool | None, Query()] = None,
    max_conclusions: Annotated[int | None, Query(ge=1, le=100)] = None,
    scope: Annotated[str | None, Query()] = None,
    sessions: Annotated[list[str] | None, Query()] = None,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    """Representation and card of peer_target (through peer_perspective's eyes), a summary,
    then the newest messages, within `tokens` (default 2,048). The search_top_k,
    search_max_distance, include_most_frequent and max_conclusions knobs are accepted and
    not applied; limit_to_session, scope and sessions are refused."""
    if limit_to_session:
        raise InvalidInput("limit_to_session is not supported by honcho serve's session context", field="limit_to_session")
    if sessions:
        if scope is not None:
            raise InvalidInput("sessions and scope are mutually exclusive", field="sessions")
        if session_id not in sessions:
            raise InvalidInput("the session must be one of the sessions of the allowlist", field="sessions")
    if peer_target is None and search_query is not None:
        raise InvalidInput("search_query needs peer_target", field="search_query")
    out = h.session_context(
        session_id, tokens=tokens or 2048, peer_target=peer_target, peer_perspective=peer_perspective,
        search_query=search_query, summary=summary, scope=scope, sessions=sessions or None,
    )
    return {
        "id": session_id,
        "messages": out["messages"],  # message records as dicts: the same fields as MessageOut
        "summary": summary_out(out["summary"]),
        "peer_representation": out["representation"],
        "peer_card": out["peer_card"],
        "token_count": out.get("token_count"),
    }


@router.get("/{session_id}/summaries", response_model=SessionSummariesOut)
def session_summaries(session_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    found = h.session_summaries(session_id)
    return {"id": session_id, "short_summary": summary_out(found["short_summary"]),
            "long_summary": summary_out(found["long_summary"])}


@router.post("/{session_id}/search", response_model=list[MessageOut])
def search_session(session_id: PathId, body: SearchBody, h: Honcho = Depends(client)) -> list[dict[str, Any]]:
    h.get_session(session_id)
    return search(h, body, session_id=session_id)
