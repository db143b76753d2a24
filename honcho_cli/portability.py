"""Moving a store: an archive out (`honcho export`), an archive in (`honcho import`).

The archive's rows are handled by `core.archive`; this layer adds what needs the
models and the vector index: vectors made by the store's own embedding model are
kept and written to the index, vectors made by another model are computed again
with the configured one, so one store never mixes two models' vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from honcho_cli.core import archive

if TYPE_CHECKING:
    from honcho_cli.client import Honcho

INDEX_BATCH = 10_000


def export_store(
    honcho: Honcho,
    out: IO[bytes],
    *,
    workspaces: list[str] | None,
    progress: Callable[[dict[str, int]], archive.Progress] | None = None,
) -> archive.ExportResult:
    return archive.export_archive(honcho.store, out, workspaces=workspaces, progress=progress)


def import_store(
    honcho: Honcho,
    source: IO[bytes],
    *,
    skip_existing: bool = False,
    progress: archive.Progress | None = None,
) -> archive.ImportResult:
    """All or nothing; then the imported vectors reach the index (computed again when
    the archive's embedding model is not the store's)."""

    def keep_vectors(archive_model: str | None, store_model: str | None) -> bool:
        if archive.same_model(archive_model, store_model):
            return True
        # computing them again needs the model: find out before anything is stored
        from honcho_cli.reasoning.backends import check_models_present

        check_models_present(honcho.settings)
        return False

    def after(staging: Path, result: archive.ImportResult) -> None:
        if result.vectors == "carried":
            _index_staged(honcho, staging)
        elif result.vectors == "dropped":
            _embed_staged(honcho, staging)
            result.vectors = "reembedded"

    return archive.import_archive(
        honcho.store, source, skip_existing=skip_existing, progress=progress, keep_vectors=keep_vectors, on_committed=after
    )


def _staged_rows(honcho: Honcho, staging: Path, sql: str) -> Any:
    """Batches of a query over the staged archive joined to the live store (`live`)."""
    import duckdb

    conn = duckdb.connect(str(staging), read_only=True, config={"threads": 1})
    literal = "'" + str(honcho.store.path).replace("'", "''") + "'"
    conn.execute(f"ATTACH {literal} AS live (READ_ONLY)")
    try:
        cursor = conn.execute(sql)
        while True:
            rows = cursor.fetchmany(INDEX_BATCH)
            if not rows:
                break
            yield rows
    finally:
        conn.close()


def _index_staged(honcho: Honcho, staging: Path) -> None:
    """Bring the LanceDB index up to the import: its rows arrived marked as not yet indexed,
    so this is the ordinary catch-up (store/index_sync), and a crash here loses nothing."""
    from honcho_cli.store.index_sync import catch_up

    catch_up(honcho.store, honcho.settings.vectors_path, until_done=True)


def _embed_staged(honcho: Honcho, staging: Path) -> None:
    """The archive's vectors came from another model: compute them with this store's."""
    from honcho_cli.core.conclusions import vector_text

    embedder = honcho.embedder()
    # read the work first, then write: the store cannot be attached and opened at once
    conclusions = _all(honcho, staging, """SELECT s.id, s.content FROM conclusions s JOIN live.conclusions d ON d.id = s.id
        WHERE d.deleted_at IS NULL AND d.embedding IS NULL AND d.content = s.content""")
    messages = _all(honcho, staging, """SELECT m.id, m.content, m.workspace_id FROM message_embeddings s
        JOIN live.messages m ON m.id = s.message_id
        WHERE NOT EXISTS (SELECT 1 FROM live.message_embeddings d WHERE d.message_id = s.message_id)""")
    for rows, sql, shape in (
        (conclusions, "UPDATE conclusions SET embedding = ?::FLOAT[], index_pending = nextval('index_changes') WHERE id = ?",
         lambda r, v: (vector_text(v), r[0])),
        (messages, "INSERT INTO message_embeddings (workspace_id, message_id, embedding) VALUES (?, ?, ?::FLOAT[]) "
                   "ON CONFLICT (message_id) DO NOTHING",
         lambda r, v: (r[2], r[0], vector_text(v))),
    ):
        for start in range(0, len(rows), 256):
            chunk = rows[start : start + 256]
            vectors = embedder.embed([r[1] for r in chunk])
            with honcho.store.write() as conn:
                conn.executemany(sql, [shape(r, v) for r, v in zip(chunk, vectors)])
    _index_staged(honcho, staging)


def _all(honcho: Honcho, staging: Path, sql: str) -> list[tuple]:
    return [row for batch in _staged_rows(honcho, staging, sql) for row in batch]
