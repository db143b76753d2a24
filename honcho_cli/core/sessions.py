"""Sessions and who is in them.

Membership is a history, not a flag: every join opens a stint and every leave
closes it, so "who was present when this message was written" stays answerable.
Per-(session, peer) settings survive a leave and apply again on re-join.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from honcho_cli.core.entities import Membership, PeerConfig, Session, load_json
from honcho_cli.core.peers import get_peer
from honcho_cli.core.validation import check_id, utcnow
from honcho_cli.errors import Conflict, PeerNotInSession, SessionNotFound

if TYPE_CHECKING:
    import duckdb

_COLUMNS = "id, workspace_id, metadata, is_active, created_at"


def _row(row: tuple) -> Session:
    return Session(id=row[0], workspace_id=row[1], metadata=load_json(row[2]), is_active=row[3], created_at=row[4])


def find_session(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str) -> Session | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM sessions WHERE workspace_id = ? AND id = ?", [workspace_id, session_id]
    ).fetchone()
    return _row(row) if row else None


def get_session(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str) -> Session:
    check_id("session", session_id)
    session = find_session(conn, workspace_id, session_id)
    if session is None:
        raise SessionNotFound(
            f"session {session_id!r} does not exist in workspace {workspace_id!r} (create it with: honcho session create {session_id})",
            session_id=session_id,
            workspace_id=workspace_id,
        )
    session.peers = active_peer_ids(conn, workspace_id, session_id)
    return session


def create_session(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    peers: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Session:
    """Get-or-create; listed peers (which must exist) join, given metadata replaces."""
    check_id("session", session_id)
    for peer_id in peers or []:
        get_peer(conn, workspace_id, peer_id)
    if find_session(conn, workspace_id, session_id) is None:
        conn.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, TRUE, ?)", [workspace_id, session_id, json.dumps(metadata or {}), utcnow()]
        )
    elif metadata is not None:
        conn.execute(
            "UPDATE sessions SET metadata = ? WHERE workspace_id = ? AND id = ?", [json.dumps(metadata), workspace_id, session_id]
        )
    if peers:
        add_peers(conn, workspace_id, session_id, peers)
    return get_session(conn, workspace_id, session_id)


def update_session(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    metadata: dict[str, Any] | None = None,
    is_active: bool | None = None,
) -> Session:
    get_session(conn, workspace_id, session_id)
    if metadata is not None:
        conn.execute(
            "UPDATE sessions SET metadata = ? WHERE workspace_id = ? AND id = ?", [json.dumps(metadata), workspace_id, session_id]
        )
    if is_active is not None:
        conn.execute("UPDATE sessions SET is_active = ? WHERE workspace_id = ? AND id = ?", [is_active, workspace_id, session_id])
    return get_session(conn, workspace_id, session_id)


def list_sessions(conn: duckdb.DuckDBPyConnection, workspace_id: str, peer_id: str | None = None) -> list[Session]:
    """All sessions, or those a peer has ever been a member of."""
    if peer_id is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM sessions WHERE workspace_id = ? ORDER BY id", [workspace_id]).fetchall()
    else:
        get_peer(conn, workspace_id, peer_id)
        rows = conn.execute(
            f"""SELECT {_COLUMNS} FROM sessions s WHERE workspace_id = ? AND EXISTS (
                    SELECT 1 FROM memberships m
                    WHERE m.workspace_id = s.workspace_id AND m.session_id = s.id AND m.peer_id = ?)
                ORDER BY id""",
            [workspace_id, peer_id],
        ).fetchall()
    sessions = [_row(r) for r in rows]
    for session in sessions:
        session.peers = active_peer_ids(conn, workspace_id, session.id)
    return sessions


def active_peer_ids(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT peer_id FROM memberships WHERE workspace_id = ? AND session_id = ? AND left_at IS NULL ORDER BY joined_at, peer_id",
        [workspace_id, session_id],
    ).fetchall()
    return [r[0] for r in rows]


def is_active_member(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, peer_id: str) -> bool:
    return peer_id in active_peer_ids(conn, workspace_id, session_id)


def memberships(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, *, include_history: bool = False
) -> list[Membership]:
    get_session(conn, workspace_id, session_id)
    rows = conn.execute(
        f"""SELECT m.session_id, m.peer_id, m.joined_at, m.left_at, c.observe_me, coalesce(c.observe_others, FALSE)
            FROM memberships m LEFT JOIN session_peer_config c
              ON c.workspace_id = m.workspace_id AND c.session_id = m.session_id AND c.peer_id = m.peer_id
            WHERE m.workspace_id = ? AND m.session_id = ? {'' if include_history else 'AND m.left_at IS NULL'}
            ORDER BY m.joined_at, m.peer_id""",
        [workspace_id, session_id],
    ).fetchall()
    return [Membership(*r) for r in rows]


def add_peers(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    peer_ids: list[str],
    *,
    joined_at: datetime | None = None,
) -> list[Membership]:
    """Open a stint for each peer not already present; present peers are left as they are."""
    get_session(conn, workspace_id, session_id)
    for peer_id in peer_ids:
        get_peer(conn, workspace_id, peer_id)
    now = joined_at or utcnow()
    present = set(active_peer_ids(conn, workspace_id, session_id))
    for peer_id in dict.fromkeys(peer_ids):
        if peer_id not in present:
            conn.execute("INSERT INTO memberships VALUES (?, ?, ?, ?, NULL)", [workspace_id, session_id, peer_id, now])
    return memberships(conn, workspace_id, session_id)


def remove_peers(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, peer_ids: list[str]) -> list[Membership]:
    """Close the open stint; the record of having been there stays."""
    get_session(conn, workspace_id, session_id)
    present = set(active_peer_ids(conn, workspace_id, session_id))
    for peer_id in peer_ids:
        check_id("peer", peer_id)
        if peer_id not in present:
            raise PeerNotInSession(
                f"peer {peer_id!r} is not a member of session {session_id!r}", peer_id=peer_id, session_id=session_id
            )
    now = utcnow()
    for peer_id in dict.fromkeys(peer_ids):
        conn.execute(
            "UPDATE memberships SET left_at = ? WHERE workspace_id = ? AND session_id = ? AND peer_id = ? AND left_at IS NULL",
            [now, workspace_id, session_id, peer_id],
        )
    return memberships(conn, workspace_id, session_id)


def get_peer_config(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, peer_id: str) -> PeerConfig:
    get_session(conn, workspace_id, session_id)
    peer = get_peer(conn, workspace_id, peer_id)
    row = conn.execute(
        "SELECT observe_me, observe_others FROM session_peer_config WHERE workspace_id = ? AND session_id = ? AND peer_id = ?",
        [workspace_id, session_id, peer_id],
    ).fetchone()
    observe_me, observe_others = row if row else (None, False)
    return PeerConfig(
        session_id=session_id,
        peer_id=peer_id,
        observe_me=observe_me,
        observe_others=observe_others,
        effective_observe_me=peer.observe_me if observe_me is None else observe_me,
    )


def set_peer_config(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    peer_id: str,
    observe_me: bool | None = None,
    observe_others: bool | None = None,
    *,
    clear_observe_me: bool = False,
) -> PeerConfig:
    """Change only what is given; takes effect for messages created from now on."""
    current = get_peer_config(conn, workspace_id, session_id, peer_id)
    new_me = None if clear_observe_me else (current.observe_me if observe_me is None else observe_me)
    new_others = current.observe_others if observe_others is None else observe_others
    conn.execute(
        """INSERT INTO session_peer_config VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (workspace_id, session_id, peer_id)
           DO UPDATE SET observe_me = excluded.observe_me, observe_others = excluded.observe_others""",
        [workspace_id, session_id, peer_id, new_me, new_others],
    )
    return get_peer_config(conn, workspace_id, session_id, peer_id)


def delete_session(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Remove the session with its messages, membership history, queue, summaries and what
    was drawn from its messages (core/deletion: conclusions with sources elsewhere stay)."""
    from honcho_cli.core.deletion import delete_session_contents

    get_session(conn, workspace_id, session_id)
    counts = delete_session_contents(conn, workspace_id, session_id, dry_run=dry_run)
    if not dry_run:
        scope = [workspace_id, session_id]
        for table in ("memberships", "session_peer_config", "session_summaries"):
            conn.execute(f"DELETE FROM {table} WHERE workspace_id = ? AND session_id = ?", scope)
        _leave_scopes(conn, workspace_id, session_id)
        conn.execute("DELETE FROM sessions WHERE workspace_id = ? AND id = ?", scope)
    return {"session_id": session_id, "dry_run": dry_run, "deleted": counts}


def _leave_scopes(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str) -> None:
    """A deleted session leaves every scope, and the scopes' copies drawn from it go."""
    from honcho_cli.core import scopes

    ids = [r[0] for r in conn.execute(
        "DELETE FROM scope_sessions WHERE workspace_id = ? AND session_id = ? RETURNING scope_id", [workspace_id, session_id]
    ).fetchall()]
    for scope_id in dict.fromkeys(ids):
        scopes.sync(conn, workspace_id, scope_id)


def require_open(session: Session) -> None:
    if not session.is_active:
        raise Conflict(f"session {session.id!r} is inactive; messages cannot be added", session_id=session.id)
