"""Bringing the LanceDB index up to what DuckDB committed, on the normal path.

DuckDB commits first and the index is written after, so a process can die between
the two. Each row the index has yet to follow carries a token in `index_pending`
(conclusions, message_embeddings: 0 for a new row, a fresh value of the
`index_changes` sequence for each later change), and the vectors of rows that left
DuckDB wait in `index_removals`. `catch_up` writes all of that to LanceDB and only
then clears the tokens, each one only if the row still carries the token it read:
whatever dies where, the next catch-up finds the work, and no row is ever marked as
indexed with a state the index does not hold. Every writer of vectors calls it after
its commit, and `deriver run` drains it; until then, readers search the pending rows
exactly in DuckDB (`backlog` tells them which).

Catch-ups take turns through a lock file beside the tables (released by the kernel
if the process dies): two at once could write an older state of a row after a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import HonchoError

if TYPE_CHECKING:
    import duckdb

    from honcho_cli.store.store import Store
    from honcho_cli.store.vectors import VectorIndex

BATCH = 2_000  # rows of each kind per pass: a writer that meets a big backlog is not held up long
LOCK_NAME = ".catch-up.lock"


@dataclass
class CaughtUp:
    removals: int = 0
    conclusions: int = 0
    messages: int = 0
    busy: bool = False  # another process was catching up; what it did not take stays pending

    @property
    def total(self) -> int:
        return self.removals + self.conclusions + self.messages


@contextmanager
def turn(vectors_path: Path, wait: float) -> Iterator[bool]:
    """Hold the catch-up lock (True), or give up after `wait` seconds (False).

    Also taken by whatever compares or rebuilds the index as a whole (doctor, reindex),
    so that no catch-up changes it meanwhile. Not re-entrant: pass `locked=True` to
    `catch_up` inside it.
    """
    import fcntl

    vectors_path.mkdir(parents=True, exist_ok=True)
    with open(vectors_path / LOCK_NAME, "a+b") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_pending(conn: duckdb.DuckDBPyConnection, limit: int) -> tuple[list, list, list]:
    removals = conn.execute(
        f"SELECT change, table_name, id FROM index_removals ORDER BY change LIMIT {int(limit)}"
    ).fetchall()
    conclusions = conn.execute(
        f"""SELECT id, workspace_id, observer, observed, session_id, level, embedding, deleted_at IS NULL, index_pending
            FROM conclusions WHERE index_pending IS NOT NULL LIMIT {int(limit)}"""
    ).fetchall()
    messages = conn.execute(
        f"""SELECT e.message_id, e.workspace_id, m.session_id, m.peer_id, e.embedding, e.index_pending
            FROM message_embeddings e JOIN messages m ON m.id = e.message_id
            WHERE e.index_pending IS NOT NULL LIMIT {int(limit)}"""
    ).fetchall()
    return removals, conclusions, messages


def _write_index(index: VectorIndex, removals: list, conclusions: list, messages: list) -> None:
    from honcho_cli.store.vectors import collection_table

    whole = sorted({table for _, table, row_id in removals if row_id is None})
    index.drop_tables(whole)
    by_table: dict[str, list[str]] = {}
    for _, table, row_id in removals:
        if row_id is not None and table not in whole:
            by_table.setdefault(table, []).append(row_id)
    for row in conclusions:
        if not row[7] or row[6] is None:  # deleted, or nothing to index: make sure it is not there
            by_table.setdefault(collection_table(row[1], row[2], row[3]), []).append(row[0])
    for table, ids in by_table.items():
        index.delete_from(table, ids)
    index.upsert([row[:7] for row in conclusions if row[7] and row[6] is not None])
    index.upsert_messages([row[:5] for row in messages])


def _clear(conn: duckdb.DuckDBPyConnection, table: str, key: str, done: list[tuple[str, int]]) -> None:
    """Mark rows indexed, each only if it still carries the token that was read."""
    if not done:
        return
    conn.execute(
        f"""UPDATE {table} SET index_pending = NULL
            FROM (SELECT unnest(?::VARCHAR[]) AS row_id, unnest(?::BIGINT[]) AS token) AS done
            WHERE {table}.{key} = done.row_id AND {table}.index_pending = done.token""",
        [[d[0] for d in done], [d[1] for d in done]],
    )


def mark_indexed(
    conn: duckdb.DuckDBPyConnection,
    *,
    conclusions: list[tuple[str, int]],
    messages: list[tuple[str, int]],
    removals: list[int],
) -> None:
    """After the index was written: clear the (id, token) pairs it now follows and the removals it did."""
    if removals:
        conn.execute("DELETE FROM index_removals WHERE list_contains(?, change)", [removals])
    _clear(conn, "conclusions", "id", conclusions)
    _clear(conn, "message_embeddings", "message_id", messages)


def _index_for(vectors_path: Path, index: VectorIndex | None, conclusions: list, messages: list) -> VectorIndex:
    if index is not None:
        return index
    from honcho_cli.store.vectors import VectorIndex

    sample = next((r[6] for r in conclusions if r[6] is not None), None) or next((r[4] for r in messages), None)
    return VectorIndex(vectors_path, dimensions=len(sample) if sample is not None else 384)


def catch_up(
    store: Store,
    vectors_path: Path,
    *,
    index: VectorIndex | None = None,
    wait: float = 60.0,
    until_done: bool = False,
    locked: bool = False,
) -> CaughtUp:
    """Write what the index lacks, remove what it should not hold, then mark those rows done.

    One pass takes at most BATCH rows of each kind; `until_done` repeats until nothing
    is pending. Raises DiskFull or a HonchoError naming the index when LanceDB cannot be
    written: the rows then stay pending, and reads keep answering exactly from DuckDB.
    """
    vectors_path = Path(vectors_path)
    if locked:
        return _catch_up(store, vectors_path, index, until_done)
    with turn(vectors_path, wait) as ours:
        if not ours:
            return CaughtUp(busy=True)
        return _catch_up(store, vectors_path, index, until_done)


def _catch_up(store: Store, vectors_path: Path, index: VectorIndex | None, until_done: bool) -> CaughtUp:
    from honcho_cli.store.database import disk_full, is_disk_full

    done = CaughtUp()
    while True:
        with store.read() as conn:
            removals, conclusions, messages = _read_pending(conn, BATCH)
        if len(removals) == BATCH:
            # a whole-table removal not yet read may predate rows read now: removals first
            conclusions, messages = [], []
        if not (removals or conclusions or messages):
            return done
        index = _index_for(vectors_path, index, conclusions, messages)
        try:
            _write_index(index, removals, conclusions, messages)
        except HonchoError:
            raise
        except Exception as exc:  # noqa: BLE001 - LanceDB's own errors (IO, Arrow, Rust panics)
            if is_disk_full(exc):
                raise disk_full(vectors_path) from None
            raise HonchoError(
                f"the vector index at {vectors_path} could not be written ({type(exc).__name__}: {exc}); "
                "searches use DuckDB's exact scan for the rows it lacks until a later write or "
                "`honcho deriver run` catches up",
                path=str(vectors_path),
            ) from None
        with store.write() as conn:
            mark_indexed(
                conn,
                conclusions=[(r[0], r[8]) for r in conclusions],
                messages=[(r[0], r[5]) for r in messages],
                removals=[r[0] for r in removals],
            )
        done.removals += len(removals)
        done.conclusions += len(conclusions)
        done.messages += len(messages)
        if not until_done:
            return done


def catch_up_after_write(store: Store, vectors_path: Path, *, index: VectorIndex | None = None) -> CaughtUp | None:
    """The catch-up a writer runs after its commit: best effort, never its caller's failure.

    Its own rows are already safe in DuckDB; if the index cannot take them now (a full
    disk, another process catching up for long), they stay pending for the next writer
    or `deriver run`, and reads stay exact meanwhile.
    """
    try:
        return catch_up(store, vectors_path, index=index, wait=5.0)
    except HonchoError:
        return None


def remove_later(conn: duckdb.DuckDBPyConnection, table_name: str, ids: list[str] | None) -> None:
    """Queue index removals for rows deleted in this transaction (ids None: the whole table)."""
    from honcho_cli.core.validation import utcnow

    now = utcnow()
    if ids is None:
        conn.execute("INSERT INTO index_removals (table_name, id, created_at) VALUES (?, NULL, ?)", [table_name, now])
    elif ids:
        conn.execute(
            "INSERT INTO index_removals (table_name, id, created_at) SELECT ?, unnest(?::VARCHAR[]), ?",
            [table_name, list(ids), now],
        )


@dataclass
class Backlog:
    """What a reader of one LanceDB table must not take from the index as it is."""

    pending: set[str]  # rows the index does not follow yet: search them exactly in DuckDB
    removed: set[str]  # rows gone from DuckDB whose vectors may still be in the index
    whole_table: bool = False  # the table itself is to be dropped: use DuckDB alone

    @property
    def empty(self) -> bool:
        return not (self.pending or self.removed or self.whole_table)

    def widen(self, limit: int) -> int:
        """How many index hits to ask for so that `limit` remain after dropping the backlog."""
        return limit + len(self.pending) + len(self.removed)

    def keep(self, hits: list[tuple[str, float]]) -> list[tuple[str, float]]:
        return [h for h in hits if h[0] not in self.pending and h[0] not in self.removed]


def _removed(conn: duckdb.DuckDBPyConnection, table_name: str) -> tuple[set[str], bool]:
    from honcho_cli.core.conclusions import sql_literal

    rows = conn.execute(f"SELECT id FROM index_removals WHERE table_name = {sql_literal(table_name)}").fetchall()
    return {r[0] for r in rows if r[0] is not None}, any(r[0] is None for r in rows)


def collection_backlog(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str) -> Backlog:
    from honcho_cli.core.conclusions import sql_literal
    from honcho_cli.store.vectors import collection_table

    pending = conn.execute(
        f"""SELECT id FROM conclusions WHERE index_pending IS NOT NULL AND workspace_id = {sql_literal(workspace_id)}
            AND observer = {sql_literal(observer)} AND observed = {sql_literal(observed)}"""
    ).fetchall()
    removed, whole = _removed(conn, collection_table(workspace_id, observer, observed))
    return Backlog({r[0] for r in pending}, removed, whole)


def messages_backlog(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> Backlog:
    from honcho_cli.core.conclusions import sql_literal
    from honcho_cli.store.vectors import messages_table

    pending = conn.execute(
        f"SELECT message_id FROM message_embeddings WHERE index_pending IS NOT NULL AND workspace_id = {sql_literal(workspace_id)}"
    ).fetchall()
    removed, whole = _removed(conn, messages_table(workspace_id))
    return Backlog({r[0] for r in pending}, removed, whole)


def pending_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Rows waiting for a catch-up, for `doctor` and `deriver status`."""
    return {
        "conclusions": conn.execute("SELECT count(*) FROM conclusions WHERE index_pending IS NOT NULL").fetchone()[0],
        "messages": conn.execute("SELECT count(*) FROM message_embeddings WHERE index_pending IS NOT NULL").fetchone()[0],
        "removals": conn.execute("SELECT count(*) FROM index_removals").fetchone()[0],
    }
