"""Cloning a session (the SDK's `Session.clone`): its members, settings and messages, whole or
up to one message, under a new id.

The membership history is copied with its times and the messages keep their times,
order and witnesses, so the clone reads as the original did (who was present for
what). Its messages are not queued for reasoning again: what they state was already
concluded from the original, and counting it twice would inflate `times_derived`.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from honcho_cli.core.messages import get_message, new_message_id
from honcho_cli.core.sessions import find_session, get_session
from honcho_cli.core.validation import check_id, utcnow
from honcho_cli.errors import Conflict, MessageNotFound
from honcho_cli.store.bulk import insert_rows

if TYPE_CHECKING:
    import duckdb


def clone_session(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    *,
    upto_message_id: str | None = None,
    new_id: str | None = None,
) -> str:
    """Returns the new session's id."""
    source = get_session(conn, workspace_id, session_id)
    cut = None
    if upto_message_id is not None:
        message = get_message(conn, workspace_id, upto_message_id)
        if message.session_id != session_id:
            raise MessageNotFound(f"message {upto_message_id!r} is not in session {session_id!r}", message_id=upto_message_id)
        cut = message.seq_in_session
    clone = new_id or secrets.token_urlsafe(15)
    check_id("session", clone)
    if find_session(conn, workspace_id, clone) is not None:
        raise Conflict(f"session {clone!r} already exists", session_id=clone)
    conn.execute(
        "INSERT INTO sessions (workspace_id, id, metadata, is_active, created_at) "
        "SELECT workspace_id, ?, metadata, is_active, ? FROM sessions WHERE workspace_id = ? AND id = ?",
        [clone, utcnow(), workspace_id, source.id],
    )
    for table in ("session_peer_config", "memberships"):
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
            "ORDER BY ordinal_position", [table]
        ).fetchall()]
        picked = ", ".join("?" if c == "session_id" else c for c in columns)
        conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM {table} WHERE workspace_id = ? AND session_id = ?",
            [clone, workspace_id, session_id],
        )
    limit = "AND seq_in_session <= ?" if cut is not None else ""
    params = [workspace_id, session_id] + ([cut] if cut is not None else [])
    old_ids = [r[0] for r in conn.execute(
        f"SELECT id FROM messages WHERE workspace_id = ? AND session_id = ? {limit} ORDER BY seq_in_session", params
    ).fetchall()]
    if not old_ids:
        return clone
    conn.execute("CREATE OR REPLACE TEMP TABLE clone_ids (old_id VARCHAR, new_id VARCHAR)")
    try:
        insert_rows(conn, "clone_ids", ("old_id", "new_id"), [(old, new_message_id()) for old in old_ids])
        conn.execute(
            """INSERT INTO messages (id, workspace_id, session_id, peer_id, content, metadata, created_at, inserted_at,
                                     seq_in_session, token_count)
               SELECT c.new_id, m.workspace_id, ?, m.peer_id, m.content, m.metadata, m.created_at, m.inserted_at,
                      m.seq_in_session, m.token_count
               FROM messages m JOIN clone_ids c ON c.old_id = m.id WHERE m.workspace_id = ?""",
            [clone, workspace_id],
        )
        conn.execute(
            """INSERT INTO message_witnesses (workspace_id, message_id, observer, observed)
               SELECT w.workspace_id, c.new_id, w.observer, w.observed
               FROM message_witnesses w JOIN clone_ids c ON c.old_id = w.message_id WHERE w.workspace_id = ?""",
            [workspace_id],
        )
        conn.execute(
            """INSERT INTO message_embeddings (workspace_id, message_id, embedding)
               SELECT e.workspace_id, c.new_id, e.embedding
               FROM message_embeddings e JOIN clone_ids c ON c.old_id = e.message_id WHERE e.workspace_id = ?""",
            [workspace_id],
        )
    finally:
        conn.execute("DROP TABLE IF EXISTS clone_ids")
    return clone
