"""Health checks across the two stores and the models, and the repairs that follow from DuckDB.

DuckDB is the source of truth; the LanceDB tables are an index of it. A crash between
the DuckDB commit and the vector write, or a conclusion written without an embedder,
leaves the index behind. The doctor finds such rows and, with `repair`, brings the
index back in line: embed what has no vector, write what is missing, remove orphans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honcho_cli.core.conclusions import vector_text
from honcho_cli.core.validation import utcnow
from honcho_cli.errors import HonchoError

if TYPE_CHECKING:
    from honcho_cli.client import Honcho


@dataclass
class Check:
    name: str
    status: str  # ok | warn | error
    detail: str
    count: int = 0


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(c.status != "error" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "checks": [c.__dict__ for c in self.checks],
            "repaired": self.repaired,
        }


def _vector_state(honcho: Honcho) -> tuple[dict[str, tuple], set[str], set[str], Any]:
    """(active embedded rows by id, ids missing from the index, orphaned ids, index)."""
    from honcho_cli.store.vectors import VectorIndex, collection_table

    with honcho.store.read() as conn:
        rows = conn.execute(
            "SELECT id, workspace_id, observer, observed, session_id, level, embedding FROM conclusions "
            "WHERE deleted_at IS NULL AND embedding IS NOT NULL"
        ).fetchall()
    by_id = {r[0]: r for r in rows}
    index = VectorIndex(honcho.settings.vectors_path, dimensions=len(rows[0][6]) if rows else 384)
    indexed = index.all_ids()
    expected: dict[str, set[str]] = {}
    for r in rows:
        expected.setdefault(collection_table(r[1], r[2], r[3]), set()).add(r[0])
    missing = {i for table, ids in expected.items() for i in ids - indexed.get(table, set())}
    orphaned = {i for table, ids in indexed.items() for i in ids - expected.get(table, set())}
    return by_id, missing, orphaned, index


def examine(honcho: Honcho, *, repair: bool = False) -> Report:
    report = Report()
    with honcho.store.read() as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
        unembedded = conn.execute(
            "SELECT id, content FROM conclusions WHERE deleted_at IS NULL AND embedding IS NULL"
        ).fetchall()
        stale = conn.execute(
            "SELECT count(*) FROM deriver_queue WHERE status = 'in_progress' AND lease_until < ?", [utcnow()]
        ).fetchone()[0]
        failed = conn.execute("SELECT count(*) FROM deriver_queue WHERE status = 'failed'").fetchone()[0]
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("workspaces", "peers", "sessions", "messages", "conclusions")
        }
    report.checks.append(Check("store", "ok", f"{honcho.settings.database_path}: migrations {', '.join(applied)}; {counts}"))
    report.checks.append(_model_check(honcho))

    if unembedded and repair:
        report.repaired["embedded"] = _embed_missing(honcho, unembedded)
        unembedded = []
    report.checks.append(
        Check("conclusion embeddings", "error" if unembedded else "ok",
              f"{len(unembedded)} conclusions have no embedding" if unembedded else "every conclusion has an embedding",
              len(unembedded))
    )

    by_id, missing, orphaned, index = _vector_state(honcho)
    if repair and (missing or orphaned):
        index.upsert([by_id[i] for i in missing])
        index.delete(sorted(orphaned))
        report.repaired["vectors_written"] = len(missing)
        report.repaired["orphans_removed"] = len(orphaned)
        missing, orphaned = set(), set()
    report.checks.append(
        Check("vector index", "error" if missing or orphaned else "ok",
              f"{len(missing)} missing, {len(orphaned)} orphaned vectors in {honcho.settings.vectors_path}",
              len(missing) + len(orphaned))
    )
    report.checks.append(
        Check("deriver queue", "warn" if stale or failed else "ok",
              f"{stale} units with an expired lease (claimed again by the next `deriver run`), "
              f"{failed} failed (see `honcho deriver status`, requeue with `honcho deriver retry`)",
              stale + failed)
    )
    return report


def _model_check(honcho: Honcho) -> Check:
    from honcho_cli.reasoning.backends import check_models_present

    try:
        check_models_present(honcho.settings)
    except HonchoError as exc:
        return Check("models", "warn", exc.message)
    return Check("models", "ok", "chat and embedding models are on disk")


def _embed_missing(honcho: Honcho, rows: list[tuple]) -> int:
    embedder = honcho.embedder()
    done = 0
    for start in range(0, len(rows), 256):
        chunk = rows[start : start + 256]
        vectors = embedder.embed([r[1] for r in chunk])
        with honcho.store.write() as conn:
            for (conclusion_id, _), vector in zip(chunk, vectors):
                conn.execute(
                    "UPDATE conclusions SET embedding = ?::FLOAT[] WHERE id = ?", [vector_text(vector), conclusion_id]
                )
                done += 1
    return done


def reindex(honcho: Honcho, *, reembed: bool = False) -> dict[str, int]:
    """Drop every vector table and write them again from DuckDB.

    With `reembed`, first compute every conclusion's and message's vector again with
    the configured embedding model, and make it the store's model.
    """
    from honcho_cli.store.vectors import VectorIndex

    done: dict[str, int] = {}
    if reembed:
        done.update(_reembed_all(honcho))
    with honcho.store.read() as conn:
        conclusions = conn.execute(
            "SELECT id, workspace_id, observer, observed, session_id, level, embedding FROM conclusions "
            "WHERE deleted_at IS NULL AND embedding IS NOT NULL"
        ).fetchall()
        messages = conn.execute(
            "SELECT m.id, m.workspace_id, m.session_id, m.peer_id, e.embedding FROM message_embeddings e "
            "JOIN messages m ON m.id = e.message_id"
        ).fetchall()
    sample = conclusions[0][6] if conclusions else (messages[0][4] if messages else None)
    index = VectorIndex(honcho.settings.vectors_path, dimensions=len(sample) if sample else 384)
    index.drop_all()
    index.upsert(conclusions)
    index.upsert_messages(messages)
    done.update({"conclusion_vectors_written": len(conclusions), "message_vectors_written": len(messages)})
    return done


def _reembed_all(honcho: Honcho) -> dict[str, int]:
    from honcho_cli.reasoning.backends import embedder_identity

    embedder = honcho.engine.unchecked_embedder()  # the store is about to be claimed for it
    with honcho.store.read() as conn:
        conclusions = conn.execute("SELECT id, content FROM conclusions WHERE deleted_at IS NULL").fetchall()
        messages = conn.execute(
            "SELECT m.id, m.content, m.workspace_id FROM messages m JOIN message_embeddings e ON e.message_id = m.id"
        ).fetchall()
    for start in range(0, len(conclusions), 256):
        chunk = conclusions[start : start + 256]
        vectors = embedder.embed([r[1] for r in chunk])
        with honcho.store.write() as conn:
            conn.executemany(
                "UPDATE conclusions SET embedding = ?::FLOAT[] WHERE id = ?",
                [(vector_text(v), r[0]) for r, v in zip(chunk, vectors)],
            )
    for start in range(0, len(messages), 256):
        chunk = messages[start : start + 256]
        vectors = embedder.embed([r[1] for r in chunk])
        with honcho.store.write() as conn:
            conn.executemany(
                "UPDATE message_embeddings SET embedding = ?::FLOAT[] WHERE message_id = ?",
                [(vector_text(v), r[0]) for r, v in zip(chunk, vectors)],
            )
    honcho.engine.claim_embedding_model(embedder_identity(embedder), replace=True)
    return {"conclusions_reembedded": len(conclusions), "messages_reembedded": len(messages)}
