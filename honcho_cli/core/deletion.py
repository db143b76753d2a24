"""Deleting messages, sessions and workspaces from everywhere their content went.

A message reaches the deriver's queue, its witnesses, the full-text index, a vector
(DuckDB and LanceDB), session summaries and the conclusions drawn from it. Deleting
it removes all of that in one transaction: a conclusion whose every source is among
the deleted messages is tombstoned (so the same statement is not derived back, as
with `conclusion delete`), one with other sources too only loses the link. LanceDB
follows through `index_removals` and `index_pending` (store/index_sync), so a crash
right after the commit leaves nothing findable. A deriver that holds one of the
messages finds its lease gone at commit and writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from honcho_cli.core.messages import get_message
from honcho_cli.core.validation import utcnow

if TYPE_CHECKING:
    import duckdb


def _conclusions_citing(conn: duckdb.DuckDBPyConnection, workspace_id: str, ids: list[str]) -> tuple[list, list]:
    """(conclusions citing only these messages, those citing others too), tombstones included."""
    rows = conn.execute(
        """SELECT id, source_message_ids, deleted_at IS NULL FROM conclusions
           WHERE workspace_id = ? AND len(list_intersect(source_message_ids, ?::VARCHAR[])) > 0""",
        [workspace_id, ids],
    ).fetchall()
    gone = set(ids)
    only = [r for r in rows if set(r[1]) <= gone]
    shared = [r for r in rows if not set(r[1]) <= gone]
    return only, shared


def _remove_messages(conn: duckdb.DuckDBPyConnection, workspace_id: str, ids: list[str], *, dry_run: bool) -> dict[str, int]:
    """Everything that holds these messages (all of one workspace); counts what goes."""
    from honcho_cli.store import index_sync
    from honcho_cli.store.vectors import messages_table

    only, shared = _conclusions_citing(conn, workspace_id, ids)
    vectors = [r[0] for r in conn.execute(
        "SELECT message_id FROM message_embeddings WHERE workspace_id = ? AND list_contains(?, message_id)",
        [workspace_id, ids],
    ).fetchall()]
    counts = {
        "messages": len(ids),
        "queue_entries": conn.execute(
            "SELECT count(*) FROM deriver_queue WHERE workspace_id = ? AND list_contains(?, message_id)", [workspace_id, ids]
        ).fetchone()[0],
        "message_vectors": len(vectors),
        "conclusions": sum(1 for r in only if r[2]),
        "conclusions_unlinked": sum(1 for r in shared if r[2]),
    }
    if dry_run:
        return counts
    now = utcnow()
    if only:
        conn.execute(
            """UPDATE conclusions SET deleted_at = coalesce(deleted_at, ?), source_message_ids = [],
                   index_pending = nextval('index_changes'), updated_at = ?
               WHERE list_contains(?, id)""",
            [now, now, [r[0] for r in only]],
        )
    if shared:
        # the link goes, and the derivations it counted (times_derived never drops below 1)
        conn.execute(
            """UPDATE conclusions SET
                   times_derived = greatest(1, times_derived - len(list_intersect(source_message_ids, ?::VARCHAR[]))),
                   source_message_ids = list_filter(source_message_ids, s -> NOT list_contains(?::VARCHAR[], s)),
                   updated_at = ?
               WHERE list_contains(?, id)""",
            [ids, ids, now, [r[0] for r in shared]],
        )
    for table in ("deriver_queue", "message_witnesses", "message_embeddings"):
        conn.execute(f"DELETE FROM {table} WHERE workspace_id = ? AND list_contains(?, message_id)", [workspace_id, ids])
    index_sync.remove_later(conn, messages_table(workspace_id), vectors)
    conn.execute("DELETE FROM messages WHERE workspace_id = ? AND list_contains(?, id)", [workspace_id, ids])
    return counts


def _refresh_session_of_unlinked(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str) -> None:
    """Conclusions that kept sources elsewhere move to the session of their first remaining source."""
    conn.execute(
        """UPDATE conclusions c SET session_id = (
               SELECT m.session_id FROM messages m WHERE m.id = c.source_message_ids[1])
           WHERE c.workspace_id = ? AND c.session_id = ? AND len(c.source_message_ids) > 0""",
        [workspace_id, session_id],
    )


def _forget_fulltext(conn: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the full-text index now, if there is one, so the deleted words are gone from it too."""
    from honcho_cli.store import fulltext

    if conn.execute("SELECT count(*) FROM fulltext_state").fetchone()[0]:
        fulltext.rebuild(conn)


def delete_message(conn: duckdb.DuckDBPyConnection, workspace_id: str, message_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    """One message and everything drawn from it; later summaries of its session are written again."""
    message = get_message(conn, workspace_id, message_id)
    counts = _remove_messages(conn, workspace_id, [message_id], dry_run=dry_run)
    stale = [workspace_id, message.session_id, message.seq_in_session]
    counts["summaries"] = conn.execute(
        "SELECT count(*) FROM session_summaries WHERE workspace_id = ? AND session_id = ? AND seq_covered >= ?", stale
    ).fetchone()[0]
    if not dry_run:
        conn.execute("DELETE FROM session_summaries WHERE workspace_id = ? AND session_id = ? AND seq_covered >= ?", stale)
        _forget_fulltext(conn)
    return {"message_id": message_id, "session_id": message.session_id, "dry_run": dry_run, "deleted": counts}


def delete_session_contents(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, *, dry_run: bool) -> dict[str, int]:
    """A session's messages and what was drawn from them, and the conclusions filed under it."""
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM messages WHERE workspace_id = ? AND session_id = ?", [workspace_id, session_id]
    ).fetchall()]
    counts = _remove_messages(conn, workspace_id, ids, dry_run=dry_run) if ids else {
        "messages": 0, "queue_entries": 0, "message_vectors": 0, "conclusions": 0, "conclusions_unlinked": 0,
    }
    # filed under the session with no source at all (written by hand with --session): they go with it
    unsourced = [workspace_id, session_id]
    orphans = conn.execute(
        """SELECT count(*) FROM conclusions WHERE workspace_id = ? AND session_id = ? AND deleted_at IS NULL
           AND len(source_message_ids) = 0""",
        unsourced,
    ).fetchone()[0]
    if not dry_run:
        now = utcnow()
        # the ones _remove_messages left unsourced were tombstoned there already; this catches the hand-written
        conn.execute(
            """UPDATE conclusions SET deleted_at = ?, index_pending = nextval('index_changes'), updated_at = ?
               WHERE workspace_id = ? AND session_id = ? AND deleted_at IS NULL AND len(source_message_ids) = 0""",
            [now, now, *unsourced],
        )
        _refresh_session_of_unlinked(conn, workspace_id, session_id)
        if ids:
            _forget_fulltext(conn)
    counts["conclusions"] += orphans
    return counts


def drop_workspace_index(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> None:
    """Queue the removal of every LanceDB table of a workspace whose rows are being deleted."""
    from honcho_cli.store import index_sync
    from honcho_cli.store.vectors import collection_table, messages_table

    collections = conn.execute(
        "SELECT DISTINCT observer, observed FROM conclusions WHERE workspace_id = ?", [workspace_id]
    ).fetchall()
    for observer, observed in collections:
        index_sync.remove_later(conn, collection_table(workspace_id, observer, observed), None)
    index_sync.remove_later(conn, messages_table(workspace_id), None)
