"""The MCP tools: each one a `Honcho` client call with the CLI's limits, described for a model.

Arguments carry the CLI's limits in their JSON schema (id pattern, content length,
ranges, enums), so a client can see them before calling; the client's own checks then
run as usual. A `HonchoError` becomes a tool error reading `CODE: message`, which a
model can act on; the server keeps running whatever a call does. Every result has a
short text for the model and the full record as structured content.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from honcho_cli.client import Honcho
from honcho_cli.core.validation import ID_PATTERN, MAX_CONTENT_CHARS
from honcho_cli.errors import HonchoError, InvalidInput
from honcho_cli.reasoning.dialectic import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from honcho_cli.mcp.perspective import Perspective
    from honcho_cli.engine import Engine
    from honcho_cli.server.worker import ReasoningWorker

_ID = dict(pattern=ID_PATTERN.pattern, min_length=1, max_length=100)
PeerId = Annotated[str, Field(description="A peer id: 1-100 letters, digits, '_' or '-'.", **_ID)]
SessionId = Annotated[str, Field(description="A session id: 1-100 letters, digits, '_' or '-'.", **_ID)]
OptionalPeer = Annotated[str | None, Field(**_ID)]
OptionalSession = Annotated[str | None, Field(description="Only what was drawn from this session.", **_ID)]
Level = Literal["minimal", "low", "medium", "high", "max"]


class NewMessageIn(BaseModel):
    """One message as a tool argument: who said it, what, and optionally when."""

    model_config = ConfigDict(extra="forbid")
    peer_id: PeerId = Field(description="Who said it.")
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS, description="What was said.")
    metadata: dict[str, Any] | None = Field(default=None, description="Any JSON object kept with the message.")
    created_at: str | None = Field(
        default=None, description="When it was said, ISO 8601 (e.g. importing history); default: now."
    )


def _result(text: str, data: Any) -> CallToolResult:
    structured = data if isinstance(data, dict) else {"items": data}
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


class MemoryTools:
    """The tools of one server: its warm engine, background worker and perspective."""

    def __init__(self, engine: Engine, worker: ReasoningWorker | None, perspective: Perspective) -> None:
        self.engine = engine
        self.worker = worker
        self.perspective = perspective
        self.workspace = engine.settings.workspace

    def honcho(self) -> Honcho:
        """A client on the server's engine: cheap, one per call."""
        return Honcho(engine=self.engine, workspace=self.workspace)

    # -- how far reasoning has got -------------------------------------------------------

    def memory_status(self, h: Honcho, *, observer: str, observed: str | None = None) -> dict[str, Any]:
        """Whether the view read has messages still waiting to be reasoned over."""
        status = h.deriver_status(observer=observer, sender=observed)
        waiting = status["pending_work_units"] + status["in_progress_work_units"]
        out: dict[str, Any] = {"up_to_date": waiting == 0, "messages_waiting": waiting,
                               "messages_failed": status["failed_work_units"]}
        if waiting:
            view = f"{observer}'s view of {observed}" if observed not in (None, observer) else f"{observer}'s memory"
            out["note"] = (f"memory is still catching up: {waiting} message(s) for {view} are not reasoned over yet; "
                           "ask again shortly (queue_status shows progress)")
        problem = self.reasoning_problem()
        if problem:
            out["reasoning"] = problem
            if waiting:
                out["note"] += f"; {problem}"
        return out

    def reasoning_problem(self) -> str | None:
        if self.worker is None:
            return "background reasoning is off (honcho mcp --no-worker): run `honcho deriver run`"
        error = self.worker.state.get("last_error")
        return f"reasoning is paused: {error}" if error else None

    @staticmethod
    def _with_note(text: str, memory: dict[str, Any]) -> str:
        return f"{text}\n\n({memory['note']})" if memory.get("note") else text

    # -- sessions and messages --------------------------------------------------------------

    def create_session(
        self,
        session_id: SessionId,
        peers: Annotated[list[PeerId], Field(min_length=1, max_length=100, description="Peers to put in the session; created if new.")],
        observe_others: Annotated[
            list[PeerId],
            Field(max_length=100, description="Those of `peers` that form their own view of the others from what they witness here."),
        ] = [],  # noqa: B006 - pydantic copies defaults
        metadata: Annotated[dict[str, Any] | None, Field(description="JSON object that replaces the session's metadata.")] = None,
    ) -> CallToolResult:
        """Create a session (or reuse one with this id) and put peers in it.

        A peer listed in `observe_others` builds a view of each other member from the
        messages written while it is present; everyone else is only remembered about
        themselves. Set this before messages are added: nothing is learned retroactively.
        """
        unknown = [p for p in observe_others if p not in peers]
        if unknown:
            raise InvalidInput(f"observe_others names peers not in `peers`: {', '.join(unknown)}", field="observe_others")
        config = {p: {"observe_others": True} if p in observe_others else {} for p in peers}
        h = self.honcho()
        session = h.join_session(session_id, config, create=True, metadata=metadata)
        members = [m.to_dict() for m in h.session_peers(session_id)]
        data = {"session": session.to_dict(), "members": members}
        lines = [f"session {session.id}: " + ", ".join(
            f"{m['peer_id']}{' (observes others)' if m['observe_others'] else ''}" for m in members)]
        return _result("\n".join(lines), data)

    def set_peer_config(
        self,
        session_id: SessionId,
        peer_id: PeerId,
        observe_others: Annotated[bool | None, Field(description="Form views of the other members from now on.")] = None,
        observe_me: Annotated[bool | None, Field(description="Whether this peer's own messages here are reasoned over.")] = None,
    ) -> CallToolResult:
        """Change one member's observation settings in one session (from now on, never retroactively)."""
        config = self.honcho().set_peer_config(session_id, peer_id, observe_me, observe_others)
        return _result(_json(config.to_dict()), config.to_dict())

    def add_messages(
        self,
        session_id: SessionId,
        messages: Annotated[list[NewMessageIn], Field(min_length=1, max_length=1000, description="In the order they were said.")],
        join: Annotated[
            bool, Field(description="Create a sender that does not exist and add an absent one to the session first "
                                    "(it then witnesses from its first message on).")
        ] = False,
    ) -> CallToolResult:
        """Record what peers said in a session, all or none; memory is reasoned from them in the background.

        Each sender must be a member of the session unless `join` is true. Who can learn
        from each message is fixed now, by who is present and observing.
        """
        for item in messages:
            self.perspective.sender(item.peer_id)
        items = [{"peer": m.peer_id, "content": m.content, "metadata": m.metadata,
                  **({"created_at": m.created_at} if m.created_at is not None else {})} for m in messages]
        h = self.honcho()
        created = h.add_messages(session_id, items, join=join)
        if self.worker is not None:
            self.worker.wake()
        status = h.deriver_status(session_id=session_id)
        queued = status["pending_work_units"] + status["in_progress_work_units"]
        data = {"messages": [m.to_dict() for m in created], "queued_for_reasoning": queued}
        problem = self.reasoning_problem()
        if problem:
            data["reasoning"] = problem
        text = f"added {len(created)} message(s) to {session_id}"
        if queued:
            text += f"; {queued} message(s) of this session are waiting to be reasoned over (memory catches up in the background)"
        if problem:
            text += f"; {problem}"
        return _result(text, data)

    def search_messages(
        self,
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="Words or a description of what was said.")],
        session_id: OptionalSession = None,
        peer_id: Annotated[str | None, Field(description="Only messages this peer sent.", **_ID)] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        mode: Annotated[Literal["hybrid", "fulltext", "semantic"], Field(description="By words, meaning, or both.")] = "hybrid",
    ) -> CallToolResult:
        """Find messages by words and meaning (the raw conversation, not the reasoned memory)."""
        h = self.honcho()
        found = h.search_messages(query, session_id=session_id, peer_id=peer_id, limit=limit, mode=mode,
                                  present=self.perspective.present())
        rows = [m.to_dict() for m in found]
        data: dict[str, Any] = {"messages": rows}
        if getattr(h, "search_note", None):
            data["note"] = h.search_note
        text = "\n".join(f"[{m['session_id']} #{m['seq_in_session']}] {m['peer_id']}: {m['content']}" for m in rows)
        return _result(text or "no message matches", data)

    def get_session_context(
        self,
        session_id: SessionId,
        tokens: Annotated[int, Field(ge=1, le=100_000, description="Token budget for everything returned.")] = 2048,
        peer_target: Annotated[str | None, Field(description="Include this peer's view and key facts.", **_ID)] = None,
        peer_perspective: Annotated[str | None, Field(description="Seen through this peer's eyes: only what it witnessed.", **_ID)] = None,
        search_query: Annotated[str | None, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="Rank the view's conclusions by this.")] = None,
        summary: Annotated[bool, Field(description="Include a session summary when one fits.")] = True,
    ) -> CallToolResult:
        """What to put in a prompt for this session, within a token budget: a peer's view and
        key facts, a summary, then as many recent messages as fit."""
        if self.perspective.pinned:
            peer_perspective = self.perspective.observer(peer_perspective, field="peer_perspective")
            peer_target = peer_target or peer_perspective
        found = self.honcho().session_context(
            session_id, tokens=tokens, peer_target=peer_target, peer_perspective=peer_perspective,
            search_query=search_query, summary=summary,
        )
        parts = []
        if found["representation"]:
            parts.append(found["representation"])
        if found["peer_card"]:
            parts.append("Key facts:\n" + "\n".join(f"- {fact}" for fact in found["peer_card"]))
        if found["summary"]:
            parts.append("Summary:\n" + found["summary"]["content"])
        if found["messages"]:
            parts.append("Recent messages:\n" + "\n".join(f"{m['peer_id']}: {m['content']}" for m in found["messages"]))
        return _result("\n\n".join(parts) or "this session holds nothing yet", found)

    # -- reading memory ---------------------------------------------------------------------

    def get_representation(
        self,
        peer_id: Annotated[str | None, Field(description="Whose memory (the observer).", **_ID)] = None,
        target: Annotated[str | None, Field(description="The peer it is about; omit for what is known about peer_id itself.", **_ID)] = None,
        session_id: OptionalSession = None,
        search_query: Annotated[str | None, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="Rank conclusions by closeness in meaning to this.")] = None,
        search_top_k: Annotated[int | None, Field(ge=1, le=100, description="How many semantic hits to include (needs search_query).")] = None,
        search_max_distance: Annotated[float | None, Field(ge=0.0, le=1.0, description="Only hits within this cosine distance (needs search_query).")] = None,
        include_most_frequent: Annotated[bool, Field(description="Add the most often reinforced conclusions.")] = False,
        max_conclusions: Annotated[int, Field(ge=1, le=100)] = 25,
    ) -> CallToolResult:
        """What one peer knows: peer_id's view of `target` (only what peer_id witnessed target say),
        or without a target what is known about peer_id across all sessions. Returns conclusions
        with the session each was heard in."""
        observer = self.perspective.observer(peer_id)
        h = self.honcho()
        view = h.representation(
            observer, target, session_id=session_id, search_query=search_query, search_top_k=search_top_k,
            search_max_distance=search_max_distance, include_most_frequent=include_most_frequent,
            max_conclusions=max_conclusions,
        )
        memory = self.memory_status(h, observer=observer, observed=target or observer)
        if self.worker is not None:
            view.hint = None  # its advice (run the deriver) is the worker's job here; `memory` says how far it got
        data = {**view.to_dict(), "memory": memory}
        return _result(self._with_note(view.markdown(), memory), data)

    def chat(
        self,
        question: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question, in plain language.")],
        peer_id: Annotated[str | None, Field(description="Whose memory answers.", **_ID)] = None,
        target: Annotated[str | None, Field(description="Answer only from peer_id's view of this peer.", **_ID)] = None,
        session_id: Annotated[str | None, Field(description="Also use this session's recent messages peer_id was present for.", **_ID)] = None,
        reasoning_level: Annotated[Level, Field(description="More context and a longer answer at higher levels.")] = "low",
    ) -> CallToolResult:
        """Ask a question and get an answer drawn only from one peer's memory (its conclusions and
        the messages it witnessed), by the local model. "I don't know." when that memory holds nothing."""
        from honcho_cli.reasoning import dialectic

        observer = self.perspective.observer(peer_id)
        h = self.honcho()
        context, level = h.chat_context(observer, question, target=target, session_id=session_id,
                                        reasoning_level=reasoning_level, present_only=self.perspective.pinned)
        answer = dialectic.answer(h.chat_model() if not context.is_empty else None, context, level)
        memory = self.memory_status(h, observer=observer, observed=target or observer)
        view = context.representation
        data = {
            **dialectic.chat_result(answer, context),
            "view": {"observer": view.observer, "observed": view.observed},
            "conclusions_read": [{"id": c.id, "content": c.content, "session_id": c.session_id} for c in view.conclusions],
            "session_messages_read": [m.id for m in context.messages],
            "memory": memory,
        }
        return _result(self._with_note(data["answer"], memory), data)

    # -- curating conclusions -----------------------------------------------------------------

    def list_conclusions(
        self,
        observer: Annotated[str | None, Field(description="Whose view.", **_ID)] = None,
        observed: Annotated[str | None, Field(description="About whom; omit for all of observer's views.", **_ID)] = None,
        session_id: OptionalSession = None,
        query: Annotated[str | None, Field(min_length=1, max_length=MAX_QUERY_CHARS, description="Rank by closeness in meaning to this (nearest first).")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 25,
    ) -> CallToolResult:
        """List the conclusions (facts) in a view, oldest first, or nearest in meaning to `query`."""
        observer = self.perspective.observer(observer, field="observer")
        h = self.honcho()
        if query is not None:
            found = h.search_conclusions(query, observer=observer, observed=observed, limit=limit, session_id=session_id)
        else:
            found = h.list_conclusions(observer=observer, observed=observed, session_id=session_id, limit=limit)
        rows = [c.to_dict() for c in found]
        text = "\n".join(f"{c['id']} [{c['observer']} -> {c['observed']}, {c['session_id'] or 'no session'}] {c['content']}" for c in rows)
        return _result(text or "no conclusions", {"conclusions": rows})

    def create_conclusion(
        self,
        observed: PeerId,
        content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS, description="The fact, naming its subject.")],
        observer: Annotated[str | None, Field(description="Whose view it goes into.", **_ID)] = None,
        session_id: OptionalSession = None,
    ) -> CallToolResult:
        """Write a fact by hand into exactly one view (observer's view of observed)."""
        observer = self.perspective.observer(observer, field="observer")
        h = self.honcho()
        found = h.create_conclusion(observer, observed, content, session_id=session_id, embedder=h.embedder())
        return _result(f"stored {found.id} in {observer}'s view of {observed}", found.to_dict())

    def delete_conclusion(
        self,
        conclusion_id: Annotated[str, Field(min_length=1, max_length=100, description="The id from list_conclusions.")],
    ) -> CallToolResult:
        """Delete a conclusion for good: reasoning will not write it back."""
        h = self.honcho()
        if self.perspective.pinned:
            self.perspective.observer(h.get_conclusion(conclusion_id).observer, field="conclusion_id")
        found = h.delete_conclusion(conclusion_id)
        return _result(f"deleted {found.id} from {found.observer}'s view of {found.observed}", {"deleted": found.to_dict()})

    # -- the rest -------------------------------------------------------------------------------

    def queue_status(
        self,
        observer: Annotated[str | None, Field(description="Only messages this peer's views learn from.", **_ID)] = None,
        sender: OptionalPeer = None,
        session_id: OptionalSession = None,
    ) -> CallToolResult:
        """How far background reasoning has got: messages waiting, in progress, done and failed."""
        if self.perspective.pinned:
            observer = self.perspective.observer(observer, field="observer")
        status = self.honcho().deriver_status(observer=observer, sender=sender, session_id=session_id)
        status["worker"] = dict(self.worker.state) if self.worker is not None else None
        problem = self.reasoning_problem()
        text = (f"{status['pending_work_units']} waiting, {status['in_progress_work_units']} in progress, "
                f"{status['completed_work_units']} done, {status['failed_work_units']} failed")
        return _result(text + (f"; {problem}" if problem else ""), status)

    def list_peers(self) -> CallToolResult:
        """List the peers (the people, agents or characters who speak) of this workspace, with their settings."""
        rows = [p.to_dict() for p in self.honcho().list_peers()]
        return _result(", ".join(p["id"] for p in rows) or "no peers", {"peers": rows})

    def list_sessions(self, peer_id: Annotated[str | None, Field(description="Only sessions this peer is or was in.", **_ID)] = None) -> CallToolResult:
        """The sessions of this workspace, with their current members."""
        if self.perspective.pinned:
            peer_id = self.perspective.observer(peer_id)
        rows = [s.to_dict() for s in self.honcho().list_sessions(peer_id)]
        return _result("\n".join(f"{s['id']}: {', '.join(s['peers'])}" for s in rows) or "no sessions", {"sessions": rows})

    # -- registration ----------------------------------------------------------------------------

    def register(self, server: MCPServer) -> None:
        read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
        writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
        tools: list[tuple[Callable[..., CallToolResult], str, ToolAnnotations]] = [
            (self.create_session, "Create or join a session", writes),
            (self.set_peer_config, "Set a member's observation", writes),
            (self.add_messages, "Add messages", writes),
            (self.get_representation, "Read a peer's view", read_only),
            (self.chat, "Ask a peer's memory", read_only),
            (self.search_messages, "Search messages", read_only),
            (self.get_session_context, "Session context for a prompt", read_only),
            (self.list_conclusions, "List conclusions", read_only),
            (self.create_conclusion, "Add a conclusion", writes),
            (self.delete_conclusion, "Delete a conclusion",
             ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)),
            (self.queue_status, "Reasoning progress", read_only),
            (self.list_peers, "List peers", read_only),
            (self.list_sessions, "List sessions", read_only),
        ]
        for fn, title, annotations in tools:
            server.add_tool(_as_tool_errors(fn), name=fn.__name__, title=title, annotations=annotations,
                            structured_output=False)


def _as_tool_errors(fn: Callable[..., CallToolResult]) -> Callable[..., CallToolResult]:
    """The same signature and docstring; a HonchoError comes back as `CODE: message`."""
    import functools

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            return fn(*args, **kwargs)
        except HonchoError as err:
            raise ToolError(f"{err.code}: {err.message}") from None

    return call
