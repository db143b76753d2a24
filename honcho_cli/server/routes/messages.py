"""Messages of a session: create 1-100 (senders join as they speak), list, get, update metadata."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from honcho_cli.client import Honcho
from honcho_cli.errors import MessageNotFound
from honcho_cli.server import filters as filtering
from honcho_cli.server.routes.common import PathId, client, refuse_configuration, wake_worker
from honcho_cli.server.routes.workspaces import PageNo, Size
from honcho_cli.server.schemas import ListBody, MessageOut, MessagesCreate, MessageUpdate, Page, message_out, paginate

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/sessions/{session_id}/messages", tags=["messages"])


@router.post("", response_model=list[MessageOut], status_code=201)
def create_messages(
    session_id: PathId, body: MessagesCreate, request: Request, h: Honcho = Depends(client)
) -> list[dict[str, Any]]:
    """All or nothing. A sender that is not a member is created if needed and joins before
    its first message (it witnesses from then on); reasoning starts at once in the background."""
    items = []
    for i, message in enumerate(body.messages, start=1):
        refuse_configuration(message.configuration, f"message {i}")
        item: dict[str, Any] = {"peer": message.peer_id, "content": message.content, "metadata": message.metadata}
        if message.created_at is not None:
            item["created_at"] = message.created_at
        items.append(item)
    created = h.add_messages(session_id, items, join=True)
    wake_worker(request)
    return [message_out(m) for m in created]


@router.post("/list", response_model=Page[MessageOut])
def list_messages(
    session_id: PathId, body: Annotated[ListBody | None, Body()] = None, page: PageNo = 1, size: Size = 50,
    reverse: bool = False, h: Honcho = Depends(client),
) -> dict[str, Any]:
    """In session order (`reverse`: newest first); `filters` may be any message field."""
    taken, rest = filtering.pop(body.filters if body else None, "peer_id")
    records = [message_out(m) for m in h.list_messages(session_id, peer_id=taken.get("peer_id"))]
    return paginate(filtering.apply(records, rest), page, size, reverse=reverse)


def _in_session(h: Honcho, session_id: str, message_id: str) -> Any:
    h.get_session(session_id)
    message = h.get_message(message_id)
    if message.session_id != session_id:
        raise MessageNotFound(f"message {message_id!r} is not in session {session_id!r}", message_id=message_id)
    return message


@router.get("/{message_id}", response_model=MessageOut)
def get_message(session_id: PathId, message_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    return message_out(_in_session(h, session_id, message_id))


@router.put("/{message_id}", response_model=MessageOut)
def update_message(
    session_id: PathId, message_id: PathId, body: MessageUpdate, h: Honcho = Depends(client)
) -> dict[str, Any]:
    """Metadata only: what was said, and so what was reasoned from it, never changes."""
    _in_session(h, session_id, message_id)
    return message_out(h.update_message(message_id, body.metadata))


@router.delete("/{message_id}")
def delete_message(session_id: PathId, message_id: PathId, h: ServerHoncho = Depends(client)) -> dict[str, Any]:
    """Not in the reference's API (its SDK 2.7 has no call for it): the message with its queued
    work, vectors, full-text entries, later summaries and the conclusions drawn only from it."""
    _in_session(h, session_id, message_id)
    return h.delete_message(message_id)
