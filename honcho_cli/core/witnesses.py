"""Who may learn from a message, decided once, at the moment it is created.

This is the seed's scoping rule in one place. If the sender's effective observe_me
is on (session setting, else peer setting, else true), the sender's self view
receives the message, and so does the view of every member that is present right
now with observe_others on. Nobody else, and never later: joining a session or
switching observe_others on afterwards adds nothing for earlier messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from honcho_cli.store.bulk import insert_rows

if TYPE_CHECKING:
    import duckdb


def observers_now(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, sender: str) -> list[str]:
    """The observers of a message `sender` writes into `session_id` at this moment."""
    row = conn.execute(
        """SELECT coalesce(c.observe_me, p.observe_me)
           FROM peers p LEFT JOIN session_peer_config c
             ON c.workspace_id = p.workspace_id AND c.peer_id = p.id AND c.session_id = ?
           WHERE p.workspace_id = ? AND p.id = ?""",
        [session_id, workspace_id, sender],
    ).fetchone()
    if row is None or not row[0]:
        return []
    others = conn.execute(
        """SELECT DISTINCT m.peer_id FROM memberships m JOIN session_peer_config c
             ON c.workspace_id = m.workspace_id AND c.session_id = m.session_id AND c.peer_id = m.peer_id
           WHERE m.workspace_id = ? AND m.session_id = ? AND m.left_at IS NULL
             AND c.observe_others AND m.peer_id <> ?
           ORDER BY m.peer_id""",
        [workspace_id, session_id, sender],
    ).fetchall()
    return [sender] + [r[0] for r in others]


def record_witnesses(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    messages: list[tuple[str, str]],
    now,
    *,
    joined_at_index: dict[str, int] | None = None,
) -> int:
    """Write the witness rows and one deriver work item per observed message.

    `messages` is (message_id, sender) in creation order; membership cannot change
    inside the caller's transaction, so observers are computed once per sender.
    `joined_at_index` names peers that joined for this batch (`--join`) with the index
    of their first message: they witness nothing written before it.
    """
    cache: dict[str, list[str]] = {}
    witness_rows = []
    queue_rows = []
    late = joined_at_index or {}
    for index, (message_id, sender) in enumerate(messages):
        if sender not in cache:
            cache[sender] = observers_now(conn, workspace_id, session_id, sender)
        observers = [o for o in cache[sender] if late.get(o, -1) <= index]
        if not observers:
            continue
        witness_rows.extend((workspace_id, message_id, observer, sender) for observer in observers)
        queue_rows.append((workspace_id, message_id, session_id, sender, now, now))
    insert_rows(conn, "message_witnesses", ("workspace_id", "message_id", "observer", "observed"), witness_rows)
    insert_rows(
        conn, "deriver_queue", ("workspace_id", "message_id", "session_id", "observed", "created_at", "updated_at"), queue_rows
    )
    return len(queue_rows)


def present_filter_sql(observer_param: str = "?") -> str:
    """SQL condition: message `m` was written while the observer was a member of its session."""
    return f"""EXISTS (SELECT 1 FROM memberships s
                WHERE s.workspace_id = m.workspace_id AND s.session_id = m.session_id AND s.peer_id = {observer_param}
                  AND s.joined_at <= m.inserted_at AND (s.left_at IS NULL OR s.left_at > m.inserted_at))"""
