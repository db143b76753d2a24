"""Request and response models in the shapes the official SDK (`honcho-ai`) sends and parses.

Field names, defaults and bounds follow the SDK's `honcho.api_types`; responses carry
a few extra fields of ours (the SDK ignores unknown fields). Converters from the
client's records live here too, so routes stay one call and one conversion.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from honcho_cli.core.validation import parse_metadata
from honcho_cli.errors import InvalidInput

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
Id = Annotated[str, Field(min_length=1, max_length=100, pattern=ID_PATTERN)]


def _metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        return parse_metadata(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
Filters = dict[str, Any]
Configuration = dict[str, Any]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC; hand them out with their zone."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# -- errors ---------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """`detail` is the message (a list of problems for a malformed request); `error` as the CLI prints it."""

    detail: str | list[dict[str, Any]]
    error: ErrorInfo | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what}
    for status, what in (
        (400, "the body is not JSON"), (401, "missing or wrong API key"), (404, "workspace, peer, session, message or conclusion not found"),
        (409, "state forbids it (not a member, deleted for good, ...)"), (422, "invalid input"),
        (502, "the model answered nonsense"), (503, "store busy (retry) or model not installed"),
    )
}


# -- pagination ----------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int
    pages: int


def paginate(items: list[Any], page: int, size: int, *, reverse: bool = False) -> dict[str, Any]:
    """One page of an already ordered list: the SDK's `{items, total, page, size, pages}`."""
    if reverse:
        items = list(reversed(items))
    total = len(items)
    start = (page - 1) * size
    return {"items": items[start : start + size], "total": total, "page": page, "size": size,
            "pages": (total + size - 1) // size}


class ListBody(Strict):
    filters: Filters | None = None


# -- workspaces --------------------------------------------------------------------------


class WorkspaceCreate(Strict):
    id: Id
    metadata: Metadata | None = None
    configuration: Configuration | None = None


class WorkspaceUpdate(Strict):
    metadata: Metadata | None = None
    configuration: Configuration | None = None


class WorkspaceOut(BaseModel):
    id: str
    metadata: dict[str, Any]
    configuration: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None


def workspace_out(ws: Any) -> dict[str, Any]:
    return {"id": ws.id, "metadata": ws.metadata, "configuration": {}, "created_at": utc(ws.created_at)}


# -- peers ------------------------------------------------------------------------------------


class PeerConfigIn(Strict):
    observe_me: bool | None = None


class PeerCreate(Strict):
    id: Id
    metadata: Metadata | None = None
    configuration: PeerConfigIn | None = None


class PeerUpdate(Strict):
    metadata: Metadata | None = None
    configuration: PeerConfigIn | None = None


class PeerConfigOut(BaseModel):
    observe_me: bool | None = None


class PeerOut(BaseModel):
    id: str
    workspace_id: str
    created_at: datetime
    metadata: dict[str, Any]
    configuration: PeerConfigOut


def peer_out(peer: Any) -> dict[str, Any]:
    return {"id": peer.id, "workspace_id": peer.workspace_id, "created_at": utc(peer.created_at),
            "metadata": peer.metadata, "configuration": {"observe_me": peer.observe_me}}


class RepresentationBody(Strict):
    session_id: Id | None = None
    target: Id | None = None
    search_query: str | None = Field(None, min_length=1)
    search_top_k: int | None = Field(None, ge=1, le=100)
    search_max_distance: float | None = Field(None, ge=0.0, le=1.0)
    include_most_frequent: bool | None = None
    max_conclusions: int | None = Field(25, ge=1, le=100)
    filters: Filters | None = None
    scope: str | list[str] | None = None


class RepresentationOut(BaseModel):
    representation: str
    observer: str
    observed: str
    conclusions: list[str] = Field(default_factory=list, description="ids of the conclusions shown")


class PeerCardOut(BaseModel):
    peer_card: list[str] | None = None


class PeerCardIn(Strict):
    peer_card: list[str] = Field(max_length=100)


class PeerContextOut(BaseModel):
    peer_id: str
    target_id: str
    representation: str | None = None
    peer_card: list[str] | None = None


ReasoningLevel = Literal["minimal", "low", "medium", "high", "max"]


class ChatBody(Strict):
    query: str = Field(min_length=1, max_length=10_000)
    session_id: Id | None = None
    target: Id | None = None
    stream: bool = False
    reasoning_level: ReasoningLevel = "low"
    response_format: dict[str, Any] | None = None
    include_evidence: bool = False
    filters: Filters | None = None
    scope: str | list[str] | None = None


class EvidenceConclusion(BaseModel):
    id: str
    level: str
    content: str
    created_at: datetime
    session_id: str | None = None
    observer_id: str | None = None
    observed_id: str | None = None
    source_ids: list[str] = Field(default_factory=list)


class EvidenceMessage(BaseModel):
    id: str
    session_id: str
    peer_id: str
    created_at: datetime


class Evidence(BaseModel):
    conclusions: list[EvidenceConclusion] = Field(default_factory=list)
    messages: list[EvidenceMessage] = Field(default_factory=list)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    reasoning_trace_id: str | None = None


class ChatOut(BaseModel):
    content: str | None
    evidence: Evidence | None = None


def evidence_of(context: Any) -> dict[str, Any]:
    return {
        "conclusions": [
            {"id": c.id, "level": c.level, "content": c.content, "created_at": utc(c.created_at), "session_id": c.session_id,
             "observer_id": c.observer, "observed_id": c.observed, "source_ids": list(c.premise_ids or [])}
            for c in context.representation.conclusions
        ],
        "messages": [
            {"id": m.id, "session_id": m.session_id, "peer_id": m.peer_id, "created_at": utc(m.created_at)}
            for m in context.messages
        ],
        "tool_calls": [],
        "reasoning_trace_id": None,
    }


# -- sessions ---------------------------------------------------------------------------------


class SessionPeerConfigIn(Strict):
    observe_me: bool | None = None
    observe_others: bool | None = None


class SessionPeerConfigOut(BaseModel):
    observe_me: bool | None = None
    observe_others: bool | None = None
    effective_observe_me: bool | None = None


class SessionCreate(Strict):
    id: Id
    metadata: Metadata | None = None
    peers: dict[Id, SessionPeerConfigIn] | None = None
    configuration: Configuration | None = None
    scopes: list[str] | None = None


class SessionUpdate(Strict):
    metadata: Metadata | None = None
    configuration: Configuration | None = None


class SessionOut(BaseModel):
    id: str
    is_active: bool
    workspace_id: str
    metadata: dict[str, Any]
    configuration: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    peers: list[str] = Field(default_factory=list, description="active members")


def session_out(session: Any) -> dict[str, Any]:
    return {"id": session.id, "is_active": session.is_active, "workspace_id": session.workspace_id,
            "metadata": session.metadata, "configuration": {}, "created_at": utc(session.created_at),
            "peers": list(session.peers)}


class SummaryOut(BaseModel):
    content: str
    message_id: str
    summary_type: str
    created_at: str
    token_count: int


def summary_out(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """From a summary record's dict (kind, last_message_id, ...) to the SDK's Summary."""
    if not summary:
        return None
    return {"content": summary["content"], "message_id": summary["last_message_id"], "summary_type": summary["kind"],
            "created_at": summary["created_at"], "token_count": summary["token_count"]}


class SessionSummariesOut(BaseModel):
    id: str
    short_summary: SummaryOut | None = None
    long_summary: SummaryOut | None = None


# -- messages --------------------------------------------------------------------------------


class MessageIn(Strict):
    content: str = Field(max_length=25_000)
    peer_id: Id
    metadata: Metadata | None = None
    configuration: Configuration | None = None
    created_at: datetime | None = None


class MessagesCreate(Strict):
    messages: list[MessageIn] = Field(min_length=1, max_length=100)


class MessageUpdate(Strict):
    metadata: Metadata


class MessageOut(BaseModel):
    id: str
    content: str
    peer_id: str
    session_id: str
    metadata: dict[str, Any]
    created_at: datetime
    workspace_id: str
    token_count: int
    seq_in_session: int | None = None
    score: float | None = None


def message_out(message: Any) -> dict[str, Any]:
    return {"id": message.id, "content": message.content, "peer_id": message.peer_id, "session_id": message.session_id,
            "metadata": message.metadata, "created_at": utc(message.created_at), "workspace_id": message.workspace_id,
            "token_count": message.token_count, "seq_in_session": message.seq_in_session,
            "score": getattr(message, "score", None)}


class SearchBody(Strict):
    query: str = Field(min_length=1)
    filters: Filters | None = None
    limit: int = Field(10, ge=1, le=100)
    scope: str | None = None


class ScopeCreate(Strict):
    id: str = Field(min_length=1, max_length=93, pattern=ID_PATTERN)
    metadata: Metadata | None = None


class ScopeUpdate(Strict):
    metadata: Metadata


class ScopeOut(BaseModel):
    id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


def scope_out(scope: Any) -> dict[str, Any]:
    return {"id": scope.id, "metadata": scope.metadata, "created_at": utc(scope.created_at)}


class ScopeSessionsIn(Strict):
    session_ids: list[Id] = Field(min_length=1, max_length=100)


class ScopeBackfillOut(BaseModel):
    state: Literal["pending", "completed", "failed"]
    updated_at: datetime
    docs_copied: int | None = None


class ScopeStatusOut(BaseModel):
    backfill_status: dict[str, ScopeBackfillOut] = Field(default_factory=dict)


class SessionContextOut(BaseModel):
    id: str
    messages: list[MessageOut]
    summary: SummaryOut | None = None
    peer_representation: str | None = None
    peer_card: list[str] | None = None
    token_count: int | None = None


# -- conclusions ------------------------------------------------------------------------------


class ConclusionIn(Strict):
    content: str = Field(min_length=1, max_length=65_535)
    observer_id: Id
    observed_id: Id
    session_id: Id | None = None


class ConclusionsCreate(Strict):
    conclusions: list[ConclusionIn] = Field(min_length=1, max_length=100)


class ConclusionQuery(Strict):
    query: str = Field(min_length=1)
    top_k: int = Field(10, ge=1, le=100)
    distance: float | None = Field(None, ge=0.0, le=1.0)
    filters: Filters | None = None


class ConclusionOut(BaseModel):
    id: str
    content: str
    observer_id: str
    observed_id: str
    session_id: str | None = None
    level: str = "explicit"
    source_ids: list[str] | None = None
    times_derived: int = 1
    created_at: datetime
    source_message_ids: list[str] = Field(default_factory=list)
    distance: float | None = None


def conclusion_out(c: Any) -> dict[str, Any]:
    """`source_ids` are premises (conclusions), as the SDK's get_many/derived expect; the
    messages a fact was read from are in `source_message_ids`."""
    return {"id": c.id, "content": c.content, "observer_id": c.observer, "observed_id": c.observed,
            "session_id": c.session_id, "level": c.level, "source_ids": list(c.premise_ids or []),
            "times_derived": c.times_derived, "created_at": utc(c.created_at),
            "source_message_ids": list(c.source_message_ids or []), "distance": getattr(c, "distance", None)}


# -- queue and dreams ---------------------------------------------------------------------------


class SessionQueueStatus(BaseModel):
    session_id: str | None = None
    total_work_units: int
    completed_work_units: int
    in_progress_work_units: int
    pending_work_units: int
    failed_work_units: int = 0


class QueueStatusOut(BaseModel):
    total_work_units: int
    completed_work_units: int
    in_progress_work_units: int
    pending_work_units: int
    failed_work_units: int = 0
    sessions: dict[str, SessionQueueStatus] | None = None


def queue_status_out(status: dict[str, Any]) -> dict[str, Any]:
    out = dict(status)
    out["sessions"] = {sid: {"session_id": sid, **counts} for sid, counts in (status.get("sessions") or {}).items()}
    return out


class DreamBody(Strict):
    observer: Id
    observed: Id | None = None
    session_id: Id | None = None
    dream_type: str | None = None
