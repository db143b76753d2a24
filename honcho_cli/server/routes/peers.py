"""Peers: get-or-create, list, update; their sessions, representation, card, context, chat and search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from honcho_cli.client import Honcho
from honcho_cli.errors import InvalidInput
from honcho_cli.server import filters as filtering
from honcho_cli.server.routes.common import PathId, client, recall_bounds
from honcho_cli.server.routes.dialogue import respond
from honcho_cli.server.routes.workspaces import PageNo, Size, search
from honcho_cli.server.schemas import (
    ChatBody,
    ChatOut,
    ListBody,
    MessageOut,
    Page,
    PeerCardIn,
    PeerCardOut,
    PeerContextOut,
    PeerCreate,
    PeerOut,
    PeerUpdate,
    RepresentationBody,
    RepresentationOut,
    SearchBody,
    SessionOut,
    paginate,
    peer_out,
    session_out,
)

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/peers", tags=["peers"])


@router.post("", response_model=PeerOut)
def get_or_create_peer(body: PeerCreate, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Get-or-create; given metadata or observe_me replace the stored ones."""
    observe_me = body.configuration.observe_me if body.configuration else None
    return peer_out(h.create_peer(body.id, body.metadata, observe_me))


@router.post("/list", response_model=Page[PeerOut])
def list_peers(
    body: Annotated[ListBody | None, Body()] = None, page: PageNo = 1, size: Size = 50, reverse: bool = False,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    records = [peer_out(p) for p in h.list_peers()]
    return paginate(filtering.apply(records, body.filters if body else None), page, size, reverse=reverse)


@router.put("/{peer_id}", response_model=PeerOut)
def update_peer(peer_id: PathId, body: PeerUpdate, h: Honcho = Depends(client)) -> dict[str, Any]:
    observe_me = body.configuration.observe_me if body.configuration else None
    return peer_out(h.update_peer(peer_id, body.metadata, observe_me))


@router.post("/{peer_id}/sessions", response_model=Page[SessionOut])
def peer_sessions(
    peer_id: PathId, body: Annotated[ListBody | None, Body()] = None, page: PageNo = 1, size: Size = 50,
    reverse: bool = False, h: Honcho = Depends(client),
) -> dict[str, Any]:
    """Sessions the peer has ever been a member of."""
    records = [session_out(s) for s in h.list_sessions(peer_id)]
    return paginate(filtering.apply(records, body.filters if body else None), page, size, reverse=reverse)


@router.post("/{peer_id}/representation", response_model=RepresentationOut)
def representation(peer_id: PathId, body: RepresentationBody, h: Honcho = Depends(client)) -> dict[str, Any]:
    """The (peer, peer) view, or (peer, target) with a target; a session_id keeps only that session's conclusions."""
    session_id, allowed = recall_bounds(body.session_id, body.filters)
    view = h.representation(
        peer_id, body.target, session_id=session_id, scope=body.scope, sessions=allowed,
        search_query=body.search_query, search_top_k=body.search_top_k, search_max_distance=body.search_max_distance,
        include_most_frequent=bool(body.include_most_frequent), max_conclusions=body.max_conclusions or 25,
    )
    return {"representation": view.markdown(), "observer": view.observer, "observed": view.observed,
            "conclusions": [c.id for c in view.conclusions]}


@router.get("/{peer_id}/card", response_model=PeerCardOut)
def card(peer_id: PathId, target: Annotated[str | None, Query()] = None, h: Honcho = Depends(client)) -> dict[str, Any]:
    """The view's key facts: the card set by hand, else its most reinforced conclusions."""
    found = h.peer_card(peer_id, target)["card"]
    return {"peer_card": found or None}


@router.get("/{peer_id}/context", response_model=PeerContextOut)
def context(
    peer_id: PathId,
    target: Annotated[str | None, Query()] = None,
    search_query: Annotated[str | None, Query(min_length=1)] = None,
    search_top_k: Annotated[int | None, Query(ge=1, le=100)] = None,
    search_max_distance: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    include_most_frequent: Annotated[bool | None, Query()] = None,
    max_conclusions: Annotated[int | None, Query(ge=1, le=100)] = None,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    view = h.representation(
        peer_id, target, search_query=search_query, search_top_k=search_top_k, search_max_distance=search_max_distance,
        include_most_frequent=bool(include_most_frequent), max_conclusions=max_conclusions or 25,
    )
    found = h.peer_card(peer_id, target)["card"]
    return {"peer_id": peer_id, "target_id": target or peer_id, "representation": view.markdown(), "peer_card": found or None}


@router.post("/{peer_id}/search", response_model=list[MessageOut])
def search_peer(peer_id: PathId, body: SearchBody, h: Honcho = Depends(client)) -> list[dict[str, Any]]:
    """Messages this peer wrote, found by words and meaning."""
    h.get_peer(peer_id)
    return search(h, body, peer_id=peer_id)


@router.put("/{peer_id}/card", response_model=PeerCardOut)
def set_card(
    peer_id: PathId, body: PeerCardIn, target: Annotated[str | None, Query()] = None, h: Honcho = Depends(client)
) -> dict[str, Any]:
    """Set the view's card by hand (the SDK's set_card); an empty list goes back to the derived card."""
    found = h.set_peer_card(peer_id, body.peer_card, target)["card"]
    return {"peer_card": found or None}


@router.post("/{peer_id}/chat", response_model=ChatOut, responses={200: {"content": {"text/event-stream": {}}}})
def chat(peer_id: PathId, body: ChatBody, h: Honcho = Depends(client)) -> Any:
    """An answer from one view only (or through a scope); `stream: true` sends it as server-sent events."""
    if body.response_format is not None:
        raise InvalidInput("response_format is not supported by honcho serve", field="response_format")
    session_id, allowed = recall_bounds(body.session_id, body.filters)
    context, level = h.chat_context(
        peer_id, body.query, target=body.target, session_id=session_id, reasoning_level=body.reasoning_level,
        scope=body.scope, sessions=allowed,
    )
    return respond(h, context, level, stream=body.stream, include_evidence=body.include_evidence)
