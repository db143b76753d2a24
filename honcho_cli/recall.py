"""Recall bounded by scopes or session allowlists, workspace-wide chat, and keeping a scope's
view in step: the SDK's newest read options, over the same views and dialectic.

- `scope="name"`: the scope's own view (core.scopes) of the target, brought up to date
  with the conclusions drawn in its sessions since it was last read.
- `scope=[...]` or `sessions=[...]`: the asking view itself, cut to explicit conclusions
  drawn in those sessions (and, as evidence, the messages of that view sent in them).
- workspace chat: the self views of every peer in the workspace (or of a scope), and the
  workspace's messages nearest the question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from honcho_cli.core import scopes as scopes_core
from honcho_cli.core.representation import LEVEL_TITLES, Representation
from honcho_cli.errors import InvalidInput

if TYPE_CHECKING:
    from honcho_cli.client import Honcho
    from honcho_cli.core.entities import Message


def check_bounds(scope: Any, sessions: Any, session_id: str | None = None) -> None:
    """The SDK's rules: scope, sessions and a single session exclude one another."""
    given = [name for name, value in (("scope", scope), ("sessions", sessions), ("session", session_id)) if value]
    if len(given) > 1:
        raise InvalidInput(f"{' and '.join(given)} are mutually exclusive", field=given[0])
    if isinstance(scope, list) and not scope:
        raise InvalidInput("scope must name at least one scope", field="scope")
    if sessions is not None and not sessions:
        raise InvalidInput("sessions must name at least one session", field="sessions")


def sync_scope(h: Honcho, scope_id: str, *, force: bool = False) -> None:
    """Bring the scope's copies in step (only when they lag), then its vector index."""
    with h.store.read() as conn:
        scopes_core.get_scope(conn, h.workspace, scope_id)
        stale = force or scopes_core.is_stale(conn, h.workspace, scope_id)
    if not stale:
        return
    with h.store.write() as conn:
        changed = scopes_core.sync(conn, h.workspace, scope_id)
    index_conclusions(h, changed)


def index_conclusions(h: Honcho, ids: list[str], removed: list[str] | None = None) -> None:
    """After a commit that made, changed or removed scope copies: catch the vector index up
    (the rows carry their sync markers, store/index_sync), best effort as for every writer,
    so reads use the index rather than DuckDB's exact scan."""
    if ids or removed:
        h._catch_up_index()


def allowed_sessions(h: Honcho, scope: Any, sessions: list[str] | None) -> list[str] | None:
    """The session allowlist a list of scopes or a `sessions` option stands for."""
    if sessions is not None:
        with h.store.read() as conn:
            from honcho_cli.core.sessions import get_session

            for session_id in sessions:
                get_session(conn, h.workspace, session_id)
        return list(dict.fromkeys(sessions))
    if isinstance(scope, list):
        with h.store.read() as conn:
            return scopes_core.union_sessions(conn, h.workspace, [scopes_core.check_scope_id(s) for s in scope])
    return None


def bounded_representation(
    h: Honcho,
    peer_id: str,
    target: str | None,
    *,
    scope: Any,
    sessions: list[str] | None,
    search_query: str | None = None,
    max_conclusions: int = 25,
    **options: Any,
) -> Any:
    """A representation through a scope's eyes, or cut to an allowlist of sessions."""
    from honcho_cli.core import representation as rep
    from honcho_cli.core.peers import get_peer

    check_bounds(scope, sessions)
    if isinstance(scope, str):
        scopes_core.check_scope_id(scope)
        sync_scope(h, scope)
        with h.store.read() as conn:
            get_peer(conn, h.workspace, peer_id)
        view = h.representation(scopes_core.scope_peer(scope), target or peer_id, search_query=search_query,
                                max_conclusions=max_conclusions, **options)
        return ScopeView(observer=view.observer, observed=view.observed, conclusions=view.conclusions,
                         sessions=view.sessions, scope=scope)
    allowed = allowed_sessions(h, scope, sessions)
    observed = target or peer_id
    rep.RepresentationQuery(observer=peer_id, observed=observed, search_query=search_query,
                            max_conclusions=max_conclusions).check()
    vector = [float(x) for x in h.embedder().embed([search_query])[0]] if search_query else None
    with h.store.read() as conn:
        get_peer(conn, h.workspace, peer_id)
        get_peer(conn, h.workspace, observed)
        chosen = explicit_in_sessions(conn, h.workspace, peer_id, observed, allowed or [], vector, max_conclusions)
    return rep.Representation(observer=peer_id, observed=observed, conclusions=chosen,
                              sessions=sorted({c.session_id for c in chosen if c.session_id}))


class ScopeView(Representation):
    """A scope's view: read like a self view of the target, limited to the scope's sessions."""

    def __init__(self, *, scope: str, **fields: Any) -> None:
        super().__init__(**fields)
        self.scope = scope

    def markdown(self) -> str:
        lines = [f"# What scope {self.scope} holds about {self.observed}"]
        if not self.conclusions:
            return "\n".join([*lines, "", "Nothing is known yet in this scope's sessions."])
        for level, heading in LEVEL_TITLES.items():
            group = [c for c in self.conclusions if c.level == level]
            if group:
                lines += ["", f"## {heading}"]
                lines += [f"- {c.content[:1].upper() + c.content[1:]} ({', '.join(filter(None, [c.session_id, c.created_at.strftime('%Y-%m-%d')]))}"
                          + (f"; seen {c.times_derived} times)" if c.times_derived > 1 else ")") for c in group]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"scope": self.scope}


# A conclusion drawn in one of the sessions (params: the sessions, the workspace, the sessions):
# filed under one, or stated again in one (a fact first said elsewhere and repeated there).
SAID_IN = """(list_contains(?, session_id) OR list_has_any(source_message_ids,
    (SELECT coalesce(list(id), []::VARCHAR[]) FROM messages WHERE workspace_id = ? AND list_contains(?, session_id))))"""


def explicit_in_sessions(conn, workspace_id: str, observer: str, observed: str, sessions: list[str],
                         vector: list[float] | None, limit: int) -> list[Any]:
    """Explicit conclusions of one view drawn in the given sessions (SAID_IN): nearest first
    with a vector, else newest first."""
    from honcho_cli.core.conclusions import SELECT, conclusion_from_row, vector_text

    if not sessions:
        return []
    order = "created_at DESC, id"
    params: list[Any] = [workspace_id, observer, observed, sessions, workspace_id, sessions]
    distance = ""
    if vector is not None:
        distance = f", list_cosine_distance(embedding, {vector_text(vector)}::FLOAT[]) AS distance"
        order = "distance NULLS LAST, id"
    rows = conn.execute(
        f"""SELECT {SELECT}{distance} FROM conclusions
            WHERE workspace_id = ? AND observer = ? AND observed = ? AND level = 'explicit' AND deleted_at IS NULL
              AND {SAID_IN}
            ORDER BY {order} LIMIT {int(limit)}""",
        params,
    ).fetchall()
    found = []
    for row in rows:
        conclusion = conclusion_from_row(row)
        if vector is not None and row[-1] is not None:
            conclusion.distance = round(float(row[-1]), 6)
        found.append(conclusion)
    return found


def messages_in_sessions_nearest(conn, workspace_id: str, observer: str | None, observed: str | None, sessions: list[str] | None,
                                 vector: list[float], limit: int) -> list[Message]:
    """Messages nearest in meaning, of a view (witness rows) or of the whole workspace,
    optionally only those sent in the given sessions."""
    from honcho_cli.core.conclusions import vector_text
    from honcho_cli.core.messages import MESSAGE_SELECT, message_from_row

    if limit <= 0 or (sessions is not None and not sessions):
        return []
    clauses, params = ["m.workspace_id = ?"], [workspace_id]
    join = ""
    if observer is not None:
        join = "JOIN message_witnesses w ON w.message_id = m.id AND w.workspace_id = m.workspace_id"
        clauses += ["w.observer = ?", "w.observed = ?"]
        params += [observer, observed]
    if sessions is not None:
        clauses.append("list_contains(?, m.session_id)")
        params.append(sessions)
    rows = conn.execute(
        f"""SELECT {', '.join('m.' + c.strip() for c in MESSAGE_SELECT.split(','))}
            FROM messages m JOIN message_embeddings e ON e.message_id = m.id {join}
            WHERE {' AND '.join(clauses)}
            ORDER BY list_cosine_distance(e.embedding, {vector_text(vector)}::FLOAT[]), m.id
            LIMIT {int(limit)}""",
        params,
    ).fetchall()
    return [message_from_row(r) for r in rows]


def _level(reasoning_level: str) -> Any:
    from honcho_cli.reasoning import dialectic

    if reasoning_level not in dialectic.REASONING_LEVELS:
        raise InvalidInput(f"reasoning level must be one of {', '.join(dialectic.REASONING_LEVELS)}", field="reasoning_level")
    return dialectic.REASONING_LEVELS[reasoning_level]


def _check_question(query: Any) -> None:
    from honcho_cli.reasoning import dialectic

    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the question is empty", field="query")
    if len(query) > dialectic.MAX_QUERY_CHARS:
        raise InvalidInput(f"the question has {len(query):,} characters; the limit is {dialectic.MAX_QUERY_CHARS:,}", field="query")


def bounded_chat_context(h: Honcho, peer_id: str, query: str, *, target: str | None, scope: Any,
                         sessions: list[str] | None, reasoning_level: str) -> tuple[Any, Any]:
    """What the dialectic sees for a question asked through a scope or an allowlist."""
    from honcho_cli.reasoning import dialectic

    _check_question(query)
    level = _level(reasoning_level)
    view = bounded_representation(h, peer_id, target, scope=scope, sessions=sessions, search_query=query,
                                  max_conclusions=level.max_conclusions)
    observed = target or peer_id
    vector = [float(x) for x in h.embedder().embed([query])[0]]
    with h.store.read() as conn:
        if isinstance(scope, str):  # the scope sees what was said in its sessions: the target's own messages there
            members = [s.id for s in scopes_core.member_sessions(conn, h.workspace, scope)]
            evidence = messages_in_sessions_nearest(conn, h.workspace, observed, observed, members, vector, level.evidence_messages)
        else:
            allowed = allowed_sessions_in(conn, h, scope, sessions)
            evidence = messages_in_sessions_nearest(conn, h.workspace, peer_id, observed, allowed, vector, level.evidence_messages)
    return dialectic.ChatContext(question=query, representation=view, evidence=evidence), level


def allowed_sessions_in(conn, h: Honcho, scope: Any, sessions: list[str] | None) -> list[str]:
    if sessions is not None:
        return list(sessions)
    return scopes_core.union_sessions(conn, h.workspace, list(scope))


def workspace_chat_context(h: Honcho, query: str, *, session_id: str | None = None, scope: Any = None,
                           reasoning_level: str = "low") -> tuple[Any, Any]:
    """Workspace-wide chat: what honcho knows about every peer (or what a scope saw),
    ranked by meaning, with the messages nearest the question."""
    from honcho_cli.core import representation as rep
    from honcho_cli.core.conclusions import SELECT, conclusion_from_row, vector_text
    from honcho_cli.core.peers import RESERVED_PREFIX
    from honcho_cli.reasoning import dialectic
    from honcho_cli.reasoning.workspace_dialectic import WorkspaceChatContext

    _check_question(query)
    check_bounds(scope, None, session_id)
    level = _level(reasoning_level)
    if isinstance(scope, str):
        scopes_core.check_scope_id(scope)
        sync_scope(h, scope)
    vector = [float(x) for x in h.embedder().embed([query])[0]]
    clauses = ["workspace_id = ?", "deleted_at IS NULL"]
    params: list[Any] = [h.workspace]
    with h.store.read() as conn:
        from honcho_cli.core.workspaces import require_workspace

        require_workspace(conn, h.workspace)
        allowed = None
        if isinstance(scope, str):
            clauses.append("observer = ?")
            params.append(scopes_core.scope_peer(scope))
            allowed = [s.id for s in scopes_core.member_sessions(conn, h.workspace, scope)]
        else:
            clauses += ["observer = observed", f"NOT starts_with(observer, '{RESERVED_PREFIX}')"]
            if isinstance(scope, list):
                allowed = scopes_core.union_sessions(conn, h.workspace, [scopes_core.check_scope_id(s) for s in scope])
                clauses += ["level = 'explicit'", SAID_IN]
                params += [allowed, h.workspace, allowed]
        rows = conn.execute(
            f"""SELECT {SELECT}, list_cosine_distance(embedding, {vector_text(vector)}::FLOAT[]) AS distance
                FROM conclusions WHERE {' AND '.join(clauses)}
                ORDER BY distance NULLS LAST, times_derived DESC, id LIMIT {int(level.max_conclusions)}""",
            params,
        ).fetchall()
        evidence = messages_in_sessions_nearest(conn, h.workspace, None, None, allowed, vector, level.evidence_messages)
    chosen = []
    for row in rows:
        conclusion = conclusion_from_row(row)
        conclusion.distance = None if row[-1] is None else round(float(row[-1]), 6)
        chosen.append(conclusion)
    view = rep.Representation(observer=h.workspace, observed=h.workspace, conclusions=chosen)
    recent: list[Message] = []
    if session_id is not None:
        recent = dialectic.fit_messages(h.list_messages(session_id, last=200), level.message_tokens)
    recent_ids = {m.id for m in recent}
    evidence = [m for m in evidence if m.id not in recent_ids]
    return WorkspaceChatContext(question=query, representation=view, messages=recent, evidence=evidence), level
