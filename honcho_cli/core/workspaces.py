"""Workspaces: the outermost namespace. `default` always exists."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from honcho_cli.config import DEFAULT_WORKSPACE
from honcho_cli.core.entities import Workspace, load_json
from honcho_cli.core.validation import check_id, utcnow
from honcho_cli.errors import WorkspaceNotFound

if TYPE_CHECKING:
    import duckdb

# every table that holds rows of a workspace, in the order a cascade clears them
WORKSPACE_TABLES = (
    "scope_copies",
    "scope_sessions",
    "scopes",
    "peer_cards",
    "conclusions",  # tombstones too: nothing of the workspace is left to come back
    "deriver_queue",
    "message_witnesses",
    "message_embeddings",
    "messages",
    "memberships",
    "session_peer_config",
    "session_summaries",
    "collection_state",
    "sessions",
    "peers",
)


def _row(row: tuple) -> Workspace:
    return Workspace(id=row[0], metadata=load_json(row[1]), created_at=row[2])


def find_workspace(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> Workspace | None:
    row = conn.execute("SELECT id, metadata, created_at FROM workspaces WHERE id = ?", [workspace_id]).fetchone()
    return _row(row) if row else None


def require_workspace(conn: duckdb.DuckDBPyConnection, workspace_id: str, *, writable: bool = False) -> None:
    """Unknown workspaces are an error, except `default`, made on first write."""
    check_id("workspace", workspace_id)
    if find_workspace(conn, workspace_id):
        return
    if workspace_id == DEFAULT_WORKSPACE:
        if writable:
            conn.execute("INSERT INTO workspaces VALUES (?, '{}', ?)", [workspace_id, utcnow()])
        return
    raise WorkspaceNotFound(
        f"workspace {workspace_id!r} does not exist (create it with: honcho workspace create {workspace_id})",
        workspace_id=workspace_id,
    )


def create_workspace(conn: duckdb.DuckDBPyConnection, workspace_id: str, metadata: dict[str, Any] | None = None) -> Workspace:
    """Get-or-create; given metadata replaces the stored metadata."""
    check_id("workspace", workspace_id)
    existing = find_workspace(conn, workspace_id)
    if existing:
        if metadata is not None:
            conn.execute("UPDATE workspaces SET metadata = ? WHERE id = ?", [json.dumps(metadata), workspace_id])
            existing.metadata = metadata
        return existing
    now = utcnow()
    conn.execute("INSERT INTO workspaces VALUES (?, ?, ?)", [workspace_id, json.dumps(metadata or {}), now])
    return Workspace(id=workspace_id, metadata=metadata or {}, created_at=now)


def list_workspaces(conn: duckdb.DuckDBPyConnection) -> list[Workspace]:
    rows = conn.execute("SELECT id, metadata, created_at FROM workspaces ORDER BY id").fetchall()
    found = [_row(r) for r in rows]
    return found


def inspect_workspace(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> dict[str, Any]:
    require_workspace(conn, workspace_id)
    ws = find_workspace(conn, workspace_id)
    out: dict[str, Any] = ws.to_dict() if ws else {"id": workspace_id, "metadata": {}, "created_at": None}
    out["counts"] = workspace_counts(conn, workspace_id)
    return out


def workspace_counts(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> dict[str, int]:
    counts = {}
    for table in ("peers", "sessions", "messages", "conclusions"):
        counts[table] = conn.execute(f"SELECT count(*) FROM {table} WHERE workspace_id = ?", [workspace_id]).fetchone()[0]
    return counts


def delete_workspace(conn: duckdb.DuckDBPyConnection, workspace_id: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Cascade through everything in the workspace; `default` is emptied, not removed."""
    from honcho_cli.core.deletion import drop_workspace_index

    require_workspace(conn, workspace_id)
    counts = workspace_counts(conn, workspace_id)
    counts["queue_entries"] = conn.execute(
        "SELECT count(*) FROM deriver_queue WHERE workspace_id = ?", [workspace_id]
    ).fetchone()[0]
    counts["message_vectors"] = conn.execute(
        "SELECT count(*) FROM message_embeddings WHERE workspace_id = ?", [workspace_id]
    ).fetchone()[0]
    if not dry_run:
        drop_workspace_index(conn, workspace_id)  # its LanceDB tables go once the deletion is committed
        for table in WORKSPACE_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE workspace_id = ?", [workspace_id])
        if workspace_id != DEFAULT_WORKSPACE:
            conn.execute("DELETE FROM workspaces WHERE id = ?", [workspace_id])
        if counts["messages"] and conn.execute("SELECT count(*) FROM fulltext_state").fetchone()[0]:
            from honcho_cli.store import fulltext

            fulltext.rebuild(conn)  # the deleted words leave the full-text index now, not at the next search
    return {"workspace_id": workspace_id, "dry_run": dry_run, "deleted": counts}
