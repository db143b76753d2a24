"""Peers: anyone who speaks or is spoken about, human or agent."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from honcho_cli.core.entities import Peer, load_json
from honcho_cli.core.validation import check_id, utcnow
from honcho_cli.errors import InvalidInput, PeerNotFound

if TYPE_CHECKING:
    import duckdb

_COLUMNS = "id, workspace_id, metadata, observe_me, created_at"
RESERVED_PREFIX = "scope__"  # peers that hold a scope's view (core.scopes): not listed, not creatable


def _row(row: tuple) -> Peer:
    return Peer(id=row[0], workspace_id=row[1], metadata=load_json(row[2]), observe_me=row[3], created_at=row[4])


def find_peer(conn: duckdb.DuckDBPyConnection, workspace_id: str, peer_id: str) -> Peer | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM peers WHERE workspace_id = ? AND id = ?", [workspace_id, peer_id]).fetchone()
    return _row(row) if row else None


def get_peer(conn: duckdb.DuckDBPyConnection, workspace_id: str, peer_id: str) -> Peer:
    check_id("peer", peer_id)
    peer = find_peer(conn, workspace_id, peer_id)
    if peer is None:
        raise PeerNotFound(
            f"peer {peer_id!r} does not exist in workspace {workspace_id!r} (create it with: honcho peer create {peer_id})",
            peer_id=peer_id,
            workspace_id=workspace_id,
        )
    return peer


def create_peer(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    peer_id: str,
    metadata: dict[str, Any] | None = None,
    observe_me: bool | None = None,
) -> Peer:
    """Get-or-create, as the reference does; given fields update an existing peer."""
    check_id("peer", peer_id)
    if peer_id.startswith(RESERVED_PREFIX):
        raise InvalidInput(f"peer ids starting with {RESERVED_PREFIX!r} are reserved for scopes", field="peer_id")
    if find_peer(conn, workspace_id, peer_id):
        return update_peer(conn, workspace_id, peer_id, metadata=metadata, observe_me=observe_me)
    now = utcnow()
    conn.execute(
        "INSERT INTO peers VALUES (?, ?, ?, ?, ?)",
        [workspace_id, peer_id, json.dumps(metadata or {}), True if observe_me is None else observe_me, now],
    )
    return get_peer(conn, workspace_id, peer_id)


def update_peer(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    peer_id: str,
    metadata: dict[str, Any] | None = None,
    observe_me: bool | None = None,
) -> Peer:
    get_peer(conn, workspace_id, peer_id)
    if metadata is not None:
        conn.execute("UPDATE peers SET metadata = ? WHERE workspace_id = ? AND id = ?", [json.dumps(metadata), workspace_id, peer_id])
    if observe_me is not None:
        conn.execute("UPDATE peers SET observe_me = ? WHERE workspace_id = ? AND id = ?", [observe_me, workspace_id, peer_id])
    return get_peer(conn, workspace_id, peer_id)


def list_peers(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> list[Peer]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM peers WHERE workspace_id = ? AND NOT starts_with(id, '{RESERVED_PREFIX}') ORDER BY id",
        [workspace_id],
    ).fetchall()
    return [_row(r) for r in rows]
