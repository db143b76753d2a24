"""Read-only looks into the store, for asserting what a command did or did not change."""

from __future__ import annotations


def witnesses(h) -> set[tuple[str, str, str, str]]:
    """Every (observer, observed, session, content) the store says may be learned from."""
    with h.store.read() as conn:
        rows = conn.execute(
            """SELECT w.observer, w.observed, m.session_id, m.content
               FROM message_witnesses w JOIN messages m ON m.workspace_id = w.workspace_id AND m.id = w.message_id
               WHERE w.workspace_id = ?""",
            [h.workspace],
        ).fetchall()
    return {tuple(r) for r in rows}


def queued(h) -> set[tuple[str, str, str]]:
    """Every (session, observed, content) with a deriver work item."""
    with h.store.read() as conn:
        rows = conn.execute(
            """SELECT q.session_id, q.observed, m.content
               FROM deriver_queue q JOIN messages m ON m.workspace_id = q.workspace_id AND m.id = q.message_id
               WHERE q.workspace_id = ?""",
            [h.workspace],
        ).fetchall()
    return {tuple(r) for r in rows}


def table_counts(h) -> dict[str, int]:
    """Row counts of every table a user action can change (all workspaces)."""
    tables = ("workspaces", "peers", "sessions", "memberships", "session_peer_config", "messages",
              "message_witnesses", "deriver_queue")
    with h.store.read() as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
