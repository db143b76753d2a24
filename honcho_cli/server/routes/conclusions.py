"""Conclusions: create by hand, list with filters, query by meaning, get, delete (for good)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from honcho_cli.client import Honcho
from honcho_cli.errors import ConclusionNotFound, InvalidInput, ModelNotFound
from honcho_cli.server import filters as filtering
from honcho_cli.server.routes.common import PathId, client
from honcho_cli.server.routes.workspaces import PageNo, Size
from honcho_cli.server.schemas import (
    ConclusionOut,
    ConclusionQuery,
    ConclusionsCreate,
    ListBody,
    Page,
    conclusion_out,
    paginate,
)

router = APIRouter(prefix="/v3/workspaces/{workspace_id}/conclusions", tags=["conclusions"])
ALIASES = {"observer": "observer_id", "observed": "observed_id"}


def _take(filters: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    """observer/observed/session_id given as plain ids go to the client; the rest filter its records."""
    rest = dict(filters or {})
    taken: dict[str, str] = {}
    for name, target in (("observer_id", "observer"), ("observer", "observer"), ("observed_id", "observed"),
                         ("observed", "observed"), ("session_id", "session_id")):
        value = rest.get(name)
        if isinstance(value, str) and value != "*":
            if taken.get(target, value) != value:
                raise InvalidInput(f"filters name two different {target}s", field="filters")
            taken[target] = rest.pop(name)
    return taken, rest


@router.post("", response_model=list[ConclusionOut], status_code=201)
def create_conclusions(body: ConclusionsCreate, h: Honcho = Depends(client)) -> list[dict[str, Any]]:
    """Written into (observer, observed) as explicit conclusions, all or nothing, embedded for
    search when the embedding model is installed."""
    try:
        embedder = h.embedder()
    except ModelNotFound:
        embedder = None
    items = [{"observer": c.observer_id, "observed": c.observed_id, "content": c.content, "session_id": c.session_id}
             for c in body.conclusions]
    return [conclusion_out(c) for c in h.create_conclusions(items, embedder=embedder)]


@router.post("/list", response_model=Page[ConclusionOut])
def list_conclusions(
    body: Annotated[ListBody | None, Body()] = None, page: PageNo = 1, size: Size = 50, reverse: bool = False,
    h: Honcho = Depends(client),
) -> dict[str, Any]:
    """Newest first (`reverse`: oldest first)."""
    taken, rest = _take(body.filters if body else None)
    found = h.list_conclusions(observer=taken.get("observer"), observed=taken.get("observed"), session_id=taken.get("session_id"))
    records = [conclusion_out(c) for c in reversed(found)]
    return paginate(filtering.apply(records, rest, aliases=ALIASES), page, size, reverse=reverse)


@router.post("/query", response_model=list[ConclusionOut])
def query_conclusions(body: ConclusionQuery, h: Honcho = Depends(client)) -> list[dict[str, Any]]:
    """Nearest by meaning within one view: filters must name observer_id (observed_id defaults to it)."""
    taken, rest = _take(body.filters)
    if "observer" not in taken:
        raise InvalidInput("filters.observer_id is required: conclusions are searched within one view", field="filters")
    found = h.search_conclusions(
        body.query, observer=taken["observer"], observed=taken.get("observed"), limit=body.top_k,
        session_id=taken.get("session_id"),
    )
    if body.distance is not None:
        found = [c for c in found if c.distance is None or c.distance <= body.distance]
    return filtering.apply([conclusion_out(c) for c in found], rest, aliases=ALIASES)


@router.get("/{conclusion_id}", response_model=ConclusionOut)
def get_conclusion(conclusion_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    found = h.get_conclusion(conclusion_id)
    if found is None:
        raise ConclusionNotFound(f"conclusion {conclusion_id!r} does not exist", conclusion_id=conclusion_id)
    return conclusion_out(found)


@router.delete("/{conclusion_id}")
def delete_conclusion(conclusion_id: PathId, h: Honcho = Depends(client)) -> dict[str, Any]:
    """Deleted for good: the deriver will not write the same statement back into that view."""
    return {"deleted": conclusion_out(h.delete_conclusion(conclusion_id)).get("id")}
