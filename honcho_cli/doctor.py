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


@dataclass
class _IndexState:
    """The index compared with DuckDB, per kind of vector (conclusions, messages)."""

    missing: dict[str, list[tuple]] = field(default_factory=dict)  # kind -> rows marked indexed but absent
    orphaned: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # kind -> table -> ids with no row
    waiting: dict[str, int] = field(default_factory=dict)  # rows a catch-up has yet to write or remove

    def count(self, what: str) -> int:
        if what == "missing":
            return sum(len(rows) for rows in self.missing.values())
        if what == "orphaned":
            return sum(len(ids) for tables in self.orphaned.values() for ids in tables.values())
        return sum(self.waiting.values())


def _compare(honcho: Honcho, index: Any) -> _IndexState:
    """Call with the catch-up lock held: no other process changes the index meanwhile.

    A vector is orphaned only if DuckDB has no row for it in its table and no pending
    change or removal that explains it; rows marked pending are waiting, not missing.
    """
    from honcho_cli.store.vectors import collection_table, messages_table

    indexed = index.all_ids()
    with honcho.store.read() as conn:
        conclusions = conn.execute(
            "SELECT id, workspace_id, observer, observed, session_id, level, embedding, "
            "deleted_at IS NULL AND embedding IS NOT NULL, index_pending IS NOT NULL FROM conclusions"
        ).fetchall()
        messages = conn.execute(
            "SELECT e.message_id, e.workspace_id, m.session_id, m.peer_id, e.embedding, e.index_pending IS NOT NULL "
            "FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
        ).fetchall()
        removals = conn.execute("SELECT table_name, id FROM index_removals").fetchall()
    state = _IndexState()
    leaving = {(table, row_id) for table, row_id in removals}
    # table -> (rows that must be there, ids that may be there)
    expect: dict[str, tuple[dict[str, tuple], set[str]]] = {}
    for row in conclusions:
        table = collection_table(row[1], row[2], row[3])
        must, may = expect.setdefault(table, ({}, set()))
        if row[8]:
            may.add(row[0])
        elif row[7]:
            must[row[0]] = row[:7]
    for row in messages:
        table = messages_table(row[1])
        must, may = expect.setdefault(table, ({}, set()))
        if row[5]:
            may.add(row[0])
        else:
            must[row[0]] = row[:5]
    state.waiting = {
        "conclusions": sum(1 for r in conclusions if r[8]),
        "messages": sum(1 for r in messages if r[5]),
        "removals": len(removals),
    }
    for table in set(expect) | set(indexed):
        kind = "messages" if table.startswith("m_") else "conclusions"
        must, may = expect.get(table, ({}, set()))
        present = indexed.get(table, set())
        absent = [row for row_id, row in must.items() if row_id not in present]
        if absent:
            state.missing.setdefault(kind, []).extend(absent)
        if (table, None) in leaving:
            continue  # the whole table is to go
        strays = sorted(i for i in present - set(must) - may if (table, i) not in leaving)
        if strays:
            state.orphaned.setdefault(kind, {})[table] = strays
    return state


def _vector_check(honcho: Honcho, repair: bool, report: Report) -> Check:
    from honcho_cli.store import index_sync
    from honcho_cli.store.vectors import VectorIndex

    path = honcho.settings.vectors_path
    with index_sync.turn(path, wait=honcho.settings.lock_timeout) as ours:
        if not ours:
            return Check("vector index", "warn", f"another process kept the index at {path} busy; run doctor again")
        index = VectorIndex(path, dimensions=_dimensions(honcho))
        if repair:
            done = index_sync.catch_up(honcho.store, path, index=index, locked=True, until_done=True)
            if done.total:
                report.repaired["caught_up"] = done.total
        state = _compare(honcho, index)
        if repair and (state.count("missing") or state.count("orphaned")):
            index.upsert(state.missing.get("conclusions", []))
            index.upsert_messages(state.missing.get("messages", []))
            for tables in state.orphaned.values():
                for table, ids in tables.items():
                    index.delete_from(table, ids)
            report.repaired["vectors_written"] = state.count("missing")
            report.repaired["orphans_removed"] = state.count("orphaned")
            state = _compare(honcho, index)
    missing, orphaned, waiting = state.count("missing"), state.count("orphaned"), state.count("waiting")
    detail = f"{missing} missing, {orphaned} orphaned vectors in {path}"
    if missing or orphaned:
        detail += " (" + ", ".join(
            f"{kind}: {len(state.missing.get(kind, []))} missing, "
            f"{sum(len(ids) for ids in state.orphaned.get(kind, {}).values())} orphaned"
            for kind in ("conclusions", "messages")
        ) + ")"
    if waiting:
        detail += (
            f"; {waiting} changes waiting to be indexed ({state.waiting['conclusions']} conclusions, "
            f"{state.waiting['messages']} messages, {state.waiting['removals']} removals): the next write or "
            "`honcho deriver run` indexes them, and searches read them from DuckDB meanwhile"
        )
    status = "error" if missing or orphaned else "warn" if waiting else "ok"
    return Check("vector index", status, detail, missing + orphaned + waiting)


def _dimensions(honcho: Honcho) -> int:
    with honcho.store.read() as conn:
        row = conn.execute(
            "SELECT len(embedding) FROM conclusions WHERE embedding IS NOT NULL LIMIT 1"
        ).fetchone() or conn.execute("SELECT len(embedding) FROM message_embeddings LIMIT 1").fetchone()
    return int(row[0]) if row else 384


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
        holders = conn.execute(
            "SELECT lease_host, lease_pid, lease_process, count(*) FROM deriver_queue "
            "WHERE status = 'in_progress' AND lease_until >= ? GROUP BY ALL",
            [utcnow()],
        ).fetchall()
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

    report.checks.append(_vector_check(honcho, repair, report))
    from honcho_cli.core.liveness import is_dead

    orphaned = sum(n for host, pid, process, n in holders if is_dead(host, pid, process))
    report.checks.append(
        Check("deriver queue", "warn" if stale or orphaned or failed else "ok",
              f"{orphaned} items held by a worker that has died and {stale} with an expired lease (both taken "
              f"over by the next `deriver run` or server), "
              f"{failed} failed (see `honcho deriver status`, requeue with `honcho deriver retry`)",
              stale + orphaned + failed)
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
                    "UPDATE conclusions SET embedding = ?::FLOAT[], index_pending = nextval('index_changes') WHERE id = ?",
                    [vector_text(vector), conclusion_id],
                )
                done += 1
    return done


def reindex(honcho: Honcho, *, reembed: bool = False) -> dict[str, int]:
    """Drop every vector table and write them again from DuckDB.

    With `reembed`, first compute every conclusion's and message's vector again with
    the configured embedding model, and make it the store's model.
    """
    from honcho_cli.errors import StoreBusy
    from honcho_cli.store import index_sync
    from honcho_cli.store.vectors import VectorIndex

    done: dict[str, int] = {}
    if reembed:
        done.update(_reembed_all(honcho))
    path = honcho.settings.vectors_path
    with index_sync.turn(path, wait=honcho.settings.lock_timeout) as ours:
        if not ours:
            raise StoreBusy(f"another process kept the vector index at {path} busy", path=str(path))
        with honcho.store.read() as conn:  # one snapshot: what it shows is what the index will hold
            conclusions = conn.execute(
                "SELECT id, workspace_id, observer, observed, session_id, level, embedding, "
                "deleted_at IS NULL AND embedding IS NOT NULL, index_pending FROM conclusions "
                "WHERE (deleted_at IS NULL AND embedding IS NOT NULL) OR index_pending IS NOT NULL"
            ).fetchall()
            messages = conn.execute(
                "SELECT m.id, m.workspace_id, m.session_id, m.peer_id, e.embedding, e.index_pending "
                "FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
            ).fetchall()
            removals = [r[0] for r in conn.execute("SELECT change FROM index_removals").fetchall()]
        live = [r[:7] for r in conclusions if r[7]]
        sample = live[0][6] if live else (messages[0][4] if messages else None)
        index = VectorIndex(path, dimensions=len(sample) if sample else 384)
        index.drop_all()
        index.upsert(live)
        index.upsert_messages([r[:5] for r in messages])
        with honcho.store.write() as conn:  # rows changed since the snapshot keep their new token
            index_sync.mark_indexed(
                conn,
                conclusions=[(r[0], r[8]) for r in conclusions if r[8] is not None],
                messages=[(r[0], r[5]) for r in messages if r[5] is not None],
                removals=removals,
            )
    done.update({"conclusion_vectors_written": len(live), "message_vectors_written": len(messages)})
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
                "UPDATE conclusions SET embedding = ?::FLOAT[], index_pending = nextval('index_changes') WHERE id = ?",
                [(vector_text(v), r[0]) for r, v in zip(chunk, vectors)],
            )
    for start in range(0, len(messages), 256):
        chunk = messages[start : start + 256]
        vectors = embedder.embed([r[1] for r in chunk])
        with honcho.store.write() as conn:
            conn.executemany(
                "UPDATE message_embeddings SET embedding = ?::FLOAT[], index_pending = nextval('index_changes') "
                "WHERE message_id = ?",
                [(vector_text(v), r[0]) for r, v in zip(chunk, vectors)],
            )
    honcho.engine.claim_embedding_model(embedder_identity(embedder), replace=True)
    return {"conclusions_reembedded": len(conclusions), "messages_reembedded": len(messages)}
