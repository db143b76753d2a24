"""Scopes: named sets of sessions that bound recall (the SDK's `honcho.scope(...)`).

A scope's own view of a peer is held by a reserved peer, `scope__<id>`, hidden from
peer lists and refused as a name for ordinary peers. Its conclusions are copies of
what honcho concluded about each peer (the peer's self view) that the scope's sessions
witnessed, with only the provenance they witnessed (see _PLAN). `sync` brings the
copies in step with the sessions and later reasoning (new conclusions, reinforcements,
deletions, sessions joining or leaving, deleted sessions); a copy that no longer
stands on the scope's sessions goes, with the conclusions reasoned in the scope from
it. Everything else (representation, chat, search by meaning, dreams) then works on
the scope's view as on any other.

Several scopes at once mean only the union of their sessions: explicit conclusions of
the asking view drawn in those sessions, as the SDK documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from honcho_cli.core.conclusions import new_conclusion_id
from honcho_cli.core.entities import Record, Session, load_json
from honcho_cli.core.sessions import get_session
from honcho_cli.core.validation import check_id, utcnow
from honcho_cli.core.peers import RESERVED_PREFIX
from honcho_cli.errors import InvalidInput, NotFound
from honcho_cli.store.bulk import insert_rows
from honcho_cli.store.index_sync import remove_later
from honcho_cli.store.vectors import collection_table

if TYPE_CHECKING:
    import duckdb

PREFIX = RESERVED_PREFIX
MAX_SESSIONS_PER_CALL = 100


class ScopeNotFound(NotFound):
    code = "SCOPE_NOT_FOUND"


@dataclass
class Scope(Record):
    id: str
    workspace_id: str
    metadata: dict[str, Any]
    created_at: datetime


def is_reserved(peer_id: str) -> bool:
    return peer_id.startswith(PREFIX)


def scope_peer(scope_id: str) -> str:
    """The reserved peer whose view is the scope's."""
    return PREFIX + scope_id


def check_scope_id(value: Any) -> str:
    check_id("scope", value)
    if is_reserved(value):
        raise InvalidInput(f"a scope id must not start with the reserved prefix {PREFIX!r} (scope ids are unprefixed)",
                           field="scope")
    if len(value) > 100 - len(PREFIX):
        raise InvalidInput(f"a scope id has at most {100 - len(PREFIX)} characters", field="scope")
    return value


def _row(row: tuple) -> Scope:
    return Scope(id=row[0], workspace_id=row[1], metadata=load_json(row[2]), created_at=row[3])


def find_scope(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> Scope | None:
    row = conn.execute(
        "SELECT id, workspace_id, metadata, created_at FROM scopes WHERE workspace_id = ? AND id = ?", [workspace_id, scope_id]
    ).fetchone()
    return _row(row) if row else None


def get_scope(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> Scope:
    check_scope_id(scope_id)
    found = find_scope(conn, workspace_id, scope_id)
    if found is None:
        raise ScopeNotFound(
            f"scope {scope_id!r} does not exist in workspace {workspace_id!r} (create it with: honcho scope create {scope_id})",
            scope_id=scope_id,
        )
    return found


def create_scope(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str, metadata: dict[str, Any] | None = None) -> Scope:
    """Get-or-create; given metadata replaces the stored metadata."""
    check_scope_id(scope_id)
    existing = find_scope(conn, workspace_id, scope_id)
    if existing is not None:
        if metadata is not None:
            conn.execute("UPDATE scopes SET metadata = ? WHERE workspace_id = ? AND id = ?", [json.dumps(metadata), workspace_id, scope_id])
            existing.metadata = metadata
        return existing
    now = utcnow()
    conn.execute("INSERT INTO scopes VALUES (?, ?, ?, ?)", [workspace_id, scope_id, json.dumps(metadata or {}), now])
    conn.execute(
        "INSERT INTO peers VALUES (?, ?, ?, FALSE, ?) ON CONFLICT DO NOTHING",
        [workspace_id, scope_peer(scope_id), json.dumps({"scope": scope_id}), now],
    )
    return get_scope(conn, workspace_id, scope_id)


def list_scopes(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> list[Scope]:
    rows = conn.execute(
        "SELECT id, workspace_id, metadata, created_at FROM scopes WHERE workspace_id = ? ORDER BY created_at, id", [workspace_id]
    ).fetchall()
    return [_row(r) for r in rows]


def delete_scope(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> list[str]:
    """The scope, its membership, its view and its reserved peer; returns the removed conclusion ids."""
    get_scope(conn, workspace_id, scope_id)
    peer = scope_peer(scope_id)
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM conclusions WHERE workspace_id = ? AND observer = ?", [workspace_id, peer]
    ).fetchall()]
    for (observed,) in conn.execute(
        "SELECT DISTINCT observed FROM conclusions WHERE workspace_id = ? AND observer = ?", [workspace_id, peer]
    ).fetchall():
        remove_later(conn, collection_table(workspace_id, peer, observed), None)
    for table, column in (("conclusions", "observer"), ("peer_cards", "observer"), ("collection_state", "observer")):
        conn.execute(f"DELETE FROM {table} WHERE workspace_id = ? AND {column} = ?", [workspace_id, peer])
    for table in ("scope_copies", "scope_sessions"):
        conn.execute(f"DELETE FROM {table} WHERE workspace_id = ? AND scope_id = ?", [workspace_id, scope_id])
    conn.execute("DELETE FROM scopes WHERE workspace_id = ? AND id = ?", [workspace_id, scope_id])
    conn.execute("DELETE FROM peers WHERE workspace_id = ? AND id = ?", [workspace_id, peer])
    return ids


def member_sessions(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str, *, reverse: bool = False) -> list[Session]:
    """Longest-standing member first (newest first with `reverse`)."""
    get_scope(conn, workspace_id, scope_id)
    order = "DESC" if reverse else "ASC"
    ids = [r[0] for r in conn.execute(
        f"SELECT session_id FROM scope_sessions WHERE workspace_id = ? AND scope_id = ? ORDER BY added_at {order}, session_id",
        [workspace_id, scope_id],
    ).fetchall()]
    return [get_session(conn, workspace_id, i) for i in ids]


def union_sessions(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_ids: list[str]) -> list[str]:
    """The sessions of all these scopes (each must exist)."""
    for scope_id in scope_ids:
        get_scope(conn, workspace_id, scope_id)
    rows = conn.execute(
        "SELECT DISTINCT session_id FROM scope_sessions WHERE workspace_id = ? AND list_contains(?, scope_id) ORDER BY 1",
        [workspace_id, list(scope_ids)],
    ).fetchall()
    return [r[0] for r in rows]


def status(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> dict[str, dict[str, Any]]:
    get_scope(conn, workspace_id, scope_id)
    rows = conn.execute(
        "SELECT session_id, state, docs_copied, updated_at FROM scope_sessions WHERE workspace_id = ? AND scope_id = ? "
        "ORDER BY added_at, session_id",
        [workspace_id, scope_id],
    ).fetchall()
    return {r[0]: {"state": r[1], "docs_copied": r[2], "updated_at": r[3]} for r in rows}


def add_sessions(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str, session_ids: list[str]) -> list[str]:
    """Sessions join (existing members stay); what was drawn from them is copied in.
    Returns the copies made or changed."""
    get_scope(conn, workspace_id, scope_id)
    if not session_ids:
        raise InvalidInput("name at least one session", field="session_ids")
    if len(session_ids) > MAX_SESSIONS_PER_CALL:
        raise InvalidInput(f"at most {MAX_SESSIONS_PER_CALL} sessions per call, got {len(session_ids)}", field="session_ids")
    now = utcnow()
    for session_id in dict.fromkeys(session_ids):
        get_session(conn, workspace_id, session_id)
        conn.execute(
            "INSERT INTO scope_sessions VALUES (?, ?, ?, ?, 'completed', 0, ?) ON CONFLICT DO NOTHING",
            [workspace_id, scope_id, session_id, now, now],
        )
    return sync(conn, workspace_id, scope_id)


def remove_session(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str, session_id: str) -> list[str]:
    """The session leaves; copies that no longer stand on what the scope witnessed go, and so
    does what was reasoned in the scope from them. Returns the removed conclusion ids."""
    get_scope(conn, workspace_id, scope_id)
    get_session(conn, workspace_id, session_id)
    member = conn.execute(
        "SELECT count(*) FROM scope_sessions WHERE workspace_id = ? AND scope_id = ? AND session_id = ?",
        [workspace_id, scope_id, session_id],
    ).fetchone()[0]
    if not member:
        raise NotFound(f"session {session_id!r} is not in scope {scope_id!r}", scope_id=scope_id, session_id=session_id)
    conn.execute("DELETE FROM scope_sessions WHERE workspace_id = ? AND scope_id = ? AND session_id = ?", [workspace_id, scope_id, session_id])
    return _drop_copies(conn, workspace_id, scope_id, _gone(conn, workspace_id, scope_id))


# What the scope witnessed of each self view: the conclusions of its sessions, with the
# provenance it saw. An explicit conclusion is witnessed when one of its statements was
# made in a member session (a statement repeated elsewhere neither adds to nor hides it);
# a derived one only when everything it stands on was, so nothing reasoned from another
# session reaches the scope. A conclusion with no source message (written by hand) goes
# by the session it was filed under. The copy keeps only the in-scope sources, counts only
# those, and names the first member session they were said in.
_PLAN = f"""
WITH members AS (
    SELECT session_id FROM scope_sessions WHERE workspace_id = $ws AND scope_id = $scope),
own AS (
    SELECT * FROM conclusions
    WHERE workspace_id = $ws AND observer = observed AND NOT starts_with(observer, '{PREFIX}')),
sources AS (
    SELECT id, unnest(source_message_ids) AS mid, generate_subscripts(source_message_ids, 1) AS pos FROM own),
inside AS (
    SELECT s.id, list(s.mid ORDER BY s.pos) AS mids, arg_min(m.session_id, s.pos) AS first_session, count(*) AS n
    FROM sources s JOIN messages m ON m.id = s.mid AND m.workspace_id = $ws
    WHERE m.session_id IN (SELECT session_id FROM members)
    GROUP BY s.id),
wanted AS (
    SELECT o.id AS origin_id, o.observed, o.content, o.normalized, o.level,
           CASE WHEN o.session_id IN (SELECT session_id FROM members) THEN o.session_id ELSE i.first_session END AS session_id,
           coalesce(i.mids, []::VARCHAR[]) AS source_message_ids,
           o.premise_ids AS origin_premises,
           CASE WHEN len(o.source_message_ids) = 0 THEN o.times_derived ELSE i.n END AS times_derived,
           o.embedding, o.created_at, o.updated_at, o.deleted_at
    FROM own o LEFT JOIN inside i ON i.id = o.id
    WHERE CASE WHEN len(o.source_message_ids) = 0 THEN o.session_id IN (SELECT session_id FROM members)
               WHEN o.level = 'explicit' THEN i.n > 0
               ELSE coalesce(i.n, 0) = len(o.source_message_ids) END),
premises AS (  -- a copy's premises are the scope's copies of its origin's premises
    SELECT p.origin_id, list(m.copy_id ORDER BY p.pos) AS ids
    FROM (SELECT origin_id, unnest(origin_premises) AS pid, generate_subscripts(origin_premises, 1) AS pos FROM wanted) p
    JOIN scope_copies m ON m.workspace_id = $ws AND m.scope_id = $scope AND m.origin_id = p.pid
    GROUP BY p.origin_id),
plan AS (
    SELECT w.* EXCLUDE (origin_premises), coalesce(p.ids, []::VARCHAR[]) AS premise_ids, m.copy_id,
           c.id IS NOT NULL AS present,
           c.id IS NOT NULL AND (
               c.content IS DISTINCT FROM w.content OR c.level IS DISTINCT FROM w.level
               OR c.session_id IS DISTINCT FROM w.session_id
               OR c.source_message_ids IS DISTINCT FROM w.source_message_ids
               OR c.premise_ids IS DISTINCT FROM coalesce(p.ids, []::VARCHAR[])
               OR c.times_derived IS DISTINCT FROM w.times_derived
               OR c.embedding IS DISTINCT FROM w.embedding
               OR (w.deleted_at IS NOT NULL AND c.deleted_at IS NULL)) AS differs
    FROM wanted w
    LEFT JOIN scope_copies m ON m.workspace_id = $ws AND m.scope_id = $scope AND m.origin_id = w.origin_id
    LEFT JOIN premises p ON p.origin_id = w.origin_id
    LEFT JOIN conclusions c ON c.id = m.copy_id)
"""

_COPIED = ("observed", "content", "normalized", "level", "session_id", "source_message_ids", "premise_ids", "times_derived",
           "embedding", "created_at", "updated_at", "deleted_at")


def _args(workspace_id: str, scope_id: str, **more: Any) -> dict[str, Any]:
    return {"ws": workspace_id, "scope": scope_id, **more}


def _gone(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> list[str]:
    """Copies whose origin the scope no longer witnesses (or that is gone)."""
    return [r[0] for r in conn.execute(
        f"""{_PLAN} SELECT m.copy_id FROM scope_copies m
            WHERE m.workspace_id = $ws AND m.scope_id = $scope
              AND m.origin_id NOT IN (SELECT origin_id FROM wanted) ORDER BY 1""",
        _args(workspace_id, scope_id),
    ).fetchall()]


def _drop_copies(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str, copy_ids: list[str]) -> list[str]:
    """Remove these copies and the conclusions of the scope's view standing on them, transitively;
    the vector index follows through its removals (store/index_sync). Returns the removed ids."""
    removed = list(copy_ids)
    frontier = list(removed)
    peer = scope_peer(scope_id)
    while frontier:
        found = [r[0] for r in conn.execute(
            "SELECT id FROM conclusions WHERE workspace_id = ? AND observer = ? AND list_has_any(premise_ids, ?) "
            "AND NOT list_contains(?, id)",
            [workspace_id, peer, frontier, removed],
        ).fetchall()]
        removed.extend(found)
        frontier = found
    if removed:
        for observed, ids in conn.execute(
            "SELECT observed, list(id) FROM conclusions WHERE workspace_id = ? AND list_contains(?, id) GROUP BY observed",
            [workspace_id, removed],
        ).fetchall():
            remove_later(conn, collection_table(workspace_id, peer, observed), list(ids))
        conn.execute("DELETE FROM conclusions WHERE workspace_id = ? AND list_contains(?, id)", [workspace_id, removed])
        conn.execute("DELETE FROM scope_copies WHERE workspace_id = ? AND scope_id = ? AND list_contains(?, copy_id)",
                     [workspace_id, scope_id, removed])
    return removed


def is_stale(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> bool:
    """Whether the scope's copies differ from what it witnessed of its sessions."""
    return conn.execute(
        f"""{_PLAN} SELECT (SELECT count(*) FROM plan WHERE copy_id IS NULL OR NOT present OR differs)
                   + (SELECT count(*) FROM scope_copies m WHERE m.workspace_id = $ws AND m.scope_id = $scope
                        AND m.origin_id NOT IN (SELECT origin_id FROM wanted))""",
        _args(workspace_id, scope_id),
    ).fetchone()[0] > 0


def sync(conn: duckdb.DuckDBPyConnection, workspace_id: str, scope_id: str) -> list[str]:
    """Copy in what the scope newly witnessed, carry over what changed (reinforced, reworded,
    deleted), drop what it no longer witnesses. New and changed copies carry their index sync
    markers (store/index_sync): the caller catches the index up after its commit.
    Returns the ids of the copies made, changed or removed."""
    args = _args(workspace_id, scope_id)
    fresh = [r[0] for r in conn.execute(
        f"{_PLAN} SELECT origin_id FROM plan WHERE copy_id IS NULL ORDER BY created_at, origin_id", args
    ).fetchall()]
    pairs = [(workspace_id, scope_id, new_conclusion_id(), origin, "") for origin in fresh]
    insert_rows(conn, "scope_copies", ("workspace_id", "scope_id", "copy_id", "origin_id", "session_id"), pairs)
    removed = _drop_copies(conn, workspace_id, scope_id, _gone(conn, workspace_id, scope_id))
    columns = ", ".join(_COPIED)
    # new rows: index_pending takes its default (0, not yet indexed)
    conn.execute(
        f"""INSERT INTO conclusions (id, workspace_id, observer, {columns})
            {_PLAN} SELECT copy_id, $ws::VARCHAR, $peer::VARCHAR, {columns} FROM plan WHERE NOT present""",
        _args(workspace_id, scope_id, peer=scope_peer(scope_id)),
    )
    changed = [r[0] for r in conn.execute(f"{_PLAN} SELECT copy_id FROM plan WHERE differs", args).fetchall()]
    if changed:
        kept = [c for c in _COPIED if c not in ("observed", "created_at", "deleted_at")]
        conn.execute(
            f"""UPDATE conclusions SET {', '.join(f'{c} = src.{c}' for c in kept)},
                    deleted_at = coalesce(conclusions.deleted_at, src.deleted_at),
                    index_pending = nextval('index_changes')
                FROM ({_PLAN} SELECT * FROM plan WHERE list_contains($changed, copy_id)) AS src
                WHERE conclusions.id = src.copy_id""",
            _args(workspace_id, scope_id, changed=changed),
        )
    conn.execute(
        """UPDATE scope_copies SET session_id = coalesce(c.session_id, '') FROM conclusions c
           WHERE c.id = scope_copies.copy_id AND scope_copies.workspace_id = ? AND scope_copies.scope_id = ?
             AND scope_copies.session_id IS DISTINCT FROM coalesce(c.session_id, '')""",
        [workspace_id, scope_id],
    )
    conn.execute(
        """UPDATE scope_sessions SET docs_copied = (SELECT count(*) FROM scope_copies m
               WHERE m.workspace_id = scope_sessions.workspace_id AND m.scope_id = scope_sessions.scope_id
                 AND m.session_id = scope_sessions.session_id),
             updated_at = ?
           WHERE workspace_id = ? AND scope_id = ?""",
        [utcnow(), workspace_id, scope_id],
    )
    return [p[2] for p in pairs] + changed + removed
