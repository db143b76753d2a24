"""Full-text search over messages with DuckDB's own FTS extension (BM25).

The extension ships as a PyPI package (`duckdb-ext-fts`) and is loaded from its
file, since nothing may be downloaded at run time. DuckDB's FTS index is a snapshot:
it is rebuilt when the messages table has changed since it was built.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from honcho_cli.errors import HonchoError

if TYPE_CHECKING:
    import duckdb

INDEX_NAME = "messages"


@lru_cache(maxsize=1)
def extension_path() -> Path:
    import platform

    import duckdb

    spec = importlib.util.find_spec("duckdb_ext")
    roots = list(spec.submodule_search_locations or []) if spec else []
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    system = platform.system().lower()
    for root in roots:
        candidate = Path(root) / "extensions" / f"v{duckdb.__version__}" / f"{system}_{machine}" / "fts.duckdb_extension"
        if candidate.exists():
            return candidate
        found = sorted(Path(root).glob(f"extensions/v{duckdb.__version__}/*/fts.duckdb_extension"))
        if found:
            return found[0]
    raise HonchoError(
        f"DuckDB's full-text extension for duckdb {duckdb.__version__} is not installed "
        "(reinstall honcho so that duckdb-ext-fts matches duckdb)"
    )


def load_extension(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"LOAD '{extension_path()}'")


def _snapshot(conn: duckdb.DuckDBPyConnection) -> tuple[int, object]:
    return conn.execute("SELECT count(*), max(inserted_at) FROM messages").fetchone()


def is_stale(conn: duckdb.DuckDBPyConnection) -> bool:
    row = conn.execute("SELECT row_count, last_inserted FROM fulltext_state WHERE name = ?", [INDEX_NAME]).fetchone()
    return row is None or tuple(row) != tuple(_snapshot(conn))


def rebuild(conn: duckdb.DuckDBPyConnection) -> None:
    load_extension(conn)
    conn.execute("PRAGMA create_fts_index('messages', 'id', 'content', overwrite = 1)")
    count, last = _snapshot(conn)
    conn.execute(
        """INSERT INTO fulltext_state VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET row_count = excluded.row_count, last_inserted = excluded.last_inserted""",
        [INDEX_NAME, count, last],
    )


def search(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    query: str,
    *,
    session_id: str | None = None,
    peer_id: str | None = None,
    limit: int = 10,
) -> list[tuple[str, float]]:
    """(message id, BM25 score), best first; the index must be fresh."""
    load_extension(conn)
    clauses, params = ["workspace_id = ?"], [query, workspace_id]
    if session_id is not None:
        clauses.append("session_id = ?")
        params.append(session_id)
    if peer_id is not None:
        clauses.append("peer_id = ?")
        params.append(peer_id)
    rows = conn.execute(
        f"""SELECT id, score FROM (
                SELECT id, fts_main_messages.match_bm25(id, ?) AS score FROM messages
                WHERE {' AND '.join(clauses)})
            WHERE score IS NOT NULL ORDER BY score DESC, id LIMIT {int(limit)}""",
        params,
    ).fetchall()
    return [(r[0], float(r[1])) for r in rows]
