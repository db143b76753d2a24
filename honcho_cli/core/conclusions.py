"""Conclusions: what one peer (the observer) holds about another (the observed).

A collection is (workspace, observer, observed); observer == observed is the self
view. Writing goes through `record_conclusion`, which reinforces instead of
duplicating: the same normalised statement, or one within a small embedding
distance, bumps `times_derived` on the existing row. A deleted conclusion is kept as
a tombstone so that re-deriving it later does not bring it back.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from honcho_cli.core.entities import Record
from honcho_cli.core.validation import check_content, check_id, utcnow
from honcho_cli.errors import ConclusionNotFound, InvalidInput

if TYPE_CHECKING:
    import duckdb

LEVELS = ("explicit", "deductive", "inductive", "contradiction")
NEAR_DUPLICATE_DISTANCE = 0.05
SELECT = (
    "id, workspace_id, observer, observed, content, level, session_id, source_message_ids, premise_ids, "
    "times_derived, created_at, updated_at"
)


@dataclass
class Conclusion(Record):
    id: str
    workspace_id: str
    observer: str
    observed: str
    content: str
    level: str
    session_id: str | None
    source_message_ids: list[str]
    premise_ids: list[str]
    times_derived: int
    created_at: datetime
    updated_at: datetime
    distance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if out["distance"] is None:
            del out["distance"]
        return out


@dataclass
class Recorded:
    """What writing one conclusion did: a new row, a reinforcement, or nothing (tombstoned)."""

    id: str
    outcome: str  # new | reinforced | suppressed
    embedding: list[float] | None = None
    changed_content: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def conclusion_from_row(row: tuple) -> Conclusion:
    return Conclusion(*row[:12])


def normalize(text: str) -> str:
    """Case, spacing and trailing punctuation do not make a statement new."""
    text = re.sub(r"\s+", " ", text.strip().lower())
    return re.sub(r"[\s.!?;:,]+$", "", text)


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:[.,]\d+)?", text)


def new_conclusion_id() -> str:
    return "c_" + secrets.token_urlsafe(12)


def record_conclusion(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    observer: str,
    observed: str,
    content: str,
    *,
    level: str = "explicit",
    session_id: str | None = None,
    source_message_ids: Sequence[str] = (),
    premise_ids: Sequence[str] = (),
    embedding: Sequence[float] | None = None,
    now: datetime | None = None,
) -> Recorded:
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}", field="level")
    now = now or utcnow()
    norm = normalize(content)
    collection = [workspace_id, observer, observed]
    match = conn.execute(
        "SELECT id, deleted_at, source_message_ids, content FROM conclusions "
        "WHERE workspace_id = ? AND observer = ? AND observed = ? AND normalized = ? LIMIT 1",
        [*collection, norm],
    ).fetchone()
    if match is None and embedding is not None:
        near = conn.execute(
            "SELECT id, deleted_at, source_message_ids, content FROM conclusions "
            "WHERE workspace_id = ? AND observer = ? AND observed = ? AND embedding IS NOT NULL "
            "AND list_cosine_distance(embedding, ?::FLOAT[]) <= ? "
            "ORDER BY list_cosine_distance(embedding, ?::FLOAT[]) LIMIT 3",
            [*collection, vector_text(embedding), NEAR_DUPLICATE_DISTANCE, vector_text(embedding)],
        ).fetchall()
        # embeddings barely see numbers: "walked 2 km" and "walked 20 km" are not the same fact
        match = next((row for row in near if _numbers(row[3]) == _numbers(content)), None)
    if match is not None:
        existing_id, deleted_at, sources, old_content = match
        if deleted_at is not None:
            return Recorded(existing_id, "suppressed")
        fresh = [s for s in dict.fromkeys(source_message_ids) if s not in (sources or [])]
        if not fresh and source_message_ids:
            return Recorded(existing_id, "reinforced")  # the same message again: already counted
        longer = len(content) > len(old_content) and norm != normalize(old_content)
        conn.execute(
            """UPDATE conclusions SET times_derived = times_derived + ?,
                   source_message_ids = list_concat(source_message_ids, ?::VARCHAR[]),
                   content = CASE WHEN ? THEN ? ELSE content END,
                   normalized = CASE WHEN ? THEN ? ELSE normalized END,
                   embedding = CASE WHEN ? THEN ?::FLOAT[] ELSE embedding END,
                   index_pending = CASE WHEN ? THEN nextval('index_changes') ELSE index_pending END,
                   updated_at = ?
               WHERE id = ?""",
            [max(1, len(fresh)), fresh, longer, content, longer, norm, longer and embedding is not None,
             vector_text(embedding) if embedding is not None else None, longer and embedding is not None, now,
             existing_id],
        )
        return Recorded(existing_id, "reinforced", list(embedding) if longer and embedding is not None else None, longer)
    conclusion_id = new_conclusion_id()
    conn.execute(
        """INSERT INTO conclusions (id, workspace_id, observer, observed, content, normalized, level, session_id,
               source_message_ids, premise_ids, times_derived, embedding, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::FLOAT[], ?, ?)""",
        [conclusion_id, *collection, content, norm, level, session_id, list(dict.fromkeys(source_message_ids)),
         list(premise_ids), max(1, len(set(source_message_ids))),
         vector_text(embedding) if embedding is not None else None, now, now],
    )
    return Recorded(conclusion_id, "new", list(embedding) if embedding is not None else None)


def list_conclusions(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    *,
    observer: str | None = None,
    observed: str | None = None,
    session_id: str | None = None,
    level: str | None = None,
    ids: Sequence[str] | None = None,
    limit: int | None = None,
    order: str = "created_at",
) -> list[Conclusion]:
    clauses, params = ["workspace_id = ?", "deleted_at IS NULL"], [workspace_id]
    for column, value in (("observer", observer), ("observed", observed), ("session_id", session_id), ("level", level)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if ids is not None:
        clauses.append("list_contains(?, id)")
        params.append(list(ids))
    orders = {
        "created_at": "created_at, id",
        "recent": "created_at DESC, id",
        "frequent": "times_derived DESC, created_at DESC, id",
    }
    sql = f"SELECT {SELECT} FROM conclusions WHERE {' AND '.join(clauses)} ORDER BY {orders[order]}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [conclusion_from_row(r) for r in conn.execute(sql, params).fetchall()]


RECENT_WINDOW_ROWS = 16_384  # the table's last rows read first when looking for a collection's newest


def sql_literal(value: Any) -> str:
    """A value written into SQL text, quoted so that any string stays one string.

    For the read path's hot queries: duckdb 1.4's Python client tries `import pandas` twice
    per bound parameter (to recognise pandas' NA), and without pandas each try searches
    sys.path again: ~0.2 ms per parameter, 4-6 ms of a representation read. Literals cost
    nothing to bind; DuckDB's strings have no backslash escapes, so doubling quotes suffices.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a NUL character cannot be written into SQL text")
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _scope(workspace_id: str, observer: str, observed: str, session_id: str | None) -> str:
    """The WHERE clause of one collection's live rows (and one session), as literals."""
    clauses = (
        f"workspace_id = {sql_literal(workspace_id)} AND observer = {sql_literal(observer)} "
        f"AND observed = {sql_literal(observed)} AND deleted_at IS NULL"
    )
    if session_id is not None:
        clauses += f" AND session_id = {sql_literal(session_id)}"
    return clauses


def conclusions_by_ids(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    ids: Sequence[str],
    *,
    observer: str,
    observed: str,
    session_id: str | None = None,
) -> list[Conclusion]:
    """The live conclusions among `ids` that belong to the collection (and session), in no set order.

    Looked up by id alone, so DuckDB uses the primary-key index (a handful of rows at any
    size); the collection and session are checked here. With the scope in the same WHERE,
    DuckDB scans the whole collection instead: 8 ms at 100k rows against 1 ms.
    """
    if not ids:
        return []
    wanted = ", ".join(sql_literal(i) for i in dict.fromkeys(ids))
    rows = conn.execute(f"SELECT {SELECT}, deleted_at FROM conclusions WHERE id IN ({wanted})").fetchall()
    return [
        conclusion_from_row(r)
        for r in rows
        if r[1] == workspace_id and r[2] == observer and r[3] == observed and r[12] is None
        and (session_id is None or r[6] == session_id)
    ]


def recent_conclusions(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    *,
    observer: str,
    observed: str,
    session_id: str | None = None,
    limit: int,
) -> list[Conclusion]:
    """The collection's `limit` newest conclusions, as list_conclusions(order="recent")."""
    return top_conclusions(
        conn, workspace_id, "recent", observer=observer, observed=observed, session_id=session_id, limit=limit
    )


_TOP_ORDERS = {  # order -> (the leading sort column, the full order), as in list_conclusions
    "recent": ("created_at", "created_at DESC, id"),
    "frequent": ("times_derived", "times_derived DESC, created_at DESC, id"),
}


def top_conclusions(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    order: str,
    *,
    observer: str,
    observed: str,
    session_id: str | None = None,
    limit: int,
) -> list[Conclusion]:
    """The first `limit` conclusions of a collection in `order` ("recent" or "frequent"),
    exactly as list_conclusions(order=...) returns them, without sorting the whole collection.

    A bounded read of the table's last rows (a collection's newest sit near the end: rows
    are appended as they are derived) finds `limit` of the collection; the value of the sort
    column at the last of them is a floor the answer cannot fall below, since at least
    `limit` rows reach it. The final query filters on that floor: for dates, DuckDB skips
    the older row groups on their min/max; for counts, only the few rows that often
    reinforced get past the first (integer) filter. When the tail holds too few, the
    window widens, up to the whole table: the answer is always the exact one.
    """
    column, order_by = _TOP_ORDERS[order]
    scope = _scope(workspace_id, observer, observed, session_id)
    limit = int(limit)
    floor = None
    last = conn.execute("SELECT max(rowid) FROM conclusions").fetchone()[0]
    window = RECENT_WINDOW_ROWS
    while last is not None and window <= last:
        found, lowest = conn.execute(
            f"""SELECT count(*), min(v) FROM (
                    SELECT {column} AS v FROM conclusions WHERE {scope} AND rowid > {int(last - window)}
                    ORDER BY {column} DESC LIMIT {limit})"""
        ).fetchone()
        if found >= limit:
            floor = lowest
            break
        window *= 8
    if floor is not None:
        scope += f" AND {column} >= {sql_literal(floor)}"
    rows = conn.execute(f"SELECT {SELECT} FROM conclusions WHERE {scope} ORDER BY {order_by} LIMIT {limit}").fetchall()
    return [conclusion_from_row(r) for r in rows]


def get_conclusion(conn: duckdb.DuckDBPyConnection, workspace_id: str, conclusion_id: str) -> Conclusion:
    check_id("conclusion", conclusion_id)
    row = conn.execute(
        f"SELECT {SELECT} FROM conclusions WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL",
        [workspace_id, conclusion_id],
    ).fetchone()
    if row is None:
        raise ConclusionNotFound(f"conclusion {conclusion_id!r} does not exist", conclusion_id=conclusion_id)
    return conclusion_from_row(row)


def delete_conclusion(conn: duckdb.DuckDBPyConnection, workspace_id: str, conclusion_id: str) -> Conclusion:
    """Tombstone: the row stays so the deriver cannot write the same statement again."""
    found = get_conclusion(conn, workspace_id, conclusion_id)
    conn.execute(
        "UPDATE conclusions SET deleted_at = ?, index_pending = nextval('index_changes') WHERE id = ?",
        [utcnow(), conclusion_id],
    )
    return found


def create_conclusion(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    observer: str,
    observed: str,
    content: str,
    *,
    session_id: str | None = None,
    embedding: Sequence[float] | None = None,
) -> Recorded:
    """A conclusion written by hand (an app's own knowledge), stored as explicit."""
    check_id("peer", observer)
    check_id("peer", observed)
    check_content(content, where="conclusion")
    return record_conclusion(
        conn, workspace_id, observer, observed, content, session_id=session_id, embedding=embedding
    )


def embeddings_of(conn: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[tuple]:
    """(id, workspace, observer, observed, session, level, embedding) rows for the vector index."""
    return conn.execute(
        "SELECT id, workspace_id, observer, observed, session_id, level, embedding FROM conclusions "
        "WHERE list_contains(?, id) AND embedding IS NOT NULL AND deleted_at IS NULL",
        [list(ids)],
    ).fetchall()


EXACT_SCAN_MAX_ROWS = 20_000  # conclusions in the whole store up to which DuckDB's exact scan is cheap


def exact_scan_is_cheap(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether `nearest` reads little: it scans the embeddings of every collection, not one."""
    last = conn.execute("SELECT max(rowid) FROM conclusions").fetchone()[0]
    return last is None or last < EXACT_SCAN_MAX_ROWS


def nearest(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    observer: str,
    observed: str,
    vector: Sequence[float],
    *,
    limit: int,
    max_distance: float | None = None,
    session_id: str | None = None,
    only_unindexed: bool = False,
) -> list[tuple[str, float]]:
    """Exact cosine search inside DuckDB: as fast as an ANN index for collections of a few thousand.

    `only_unindexed`: among the rows the vector index does not follow yet (store/index_sync).
    """
    clauses = _scope(workspace_id, observer, observed, session_id) + " AND embedding IS NOT NULL"
    if only_unindexed:
        clauses += " AND index_pending IS NOT NULL"
    having = f" WHERE distance <= {sql_literal(float(max_distance))}" if max_distance is not None else ""
    # the query vector is one text constant, cast once (not a 384-element list to bind or parse)
    rows = conn.execute(
        f"""SELECT id, distance FROM (
                SELECT id, list_cosine_distance(embedding, CAST({sql_literal(vector_text(vector))} AS FLOAT[])) AS distance
                FROM conclusions WHERE {clauses}
            ){having} ORDER BY distance, id LIMIT {int(limit)}"""
    ).fetchall()
    return [(r[0], float(r[1])) for r in rows]


def vector_text(vector: Sequence[float]) -> str:
    """A vector as one text parameter for DuckDB to cast to FLOAT[].

    Bound as a Python list, each of its 384 floats costs DuckDB's Python client two failed
    `import pandas` attempts (a sys.path search each): ~50 ms per query here. The text
    round-trips exactly: repr() of a float32 widened to double parses back to the same float32.
    """
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def collection_size(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM conclusions WHERE workspace_id = ? AND observer = ? AND observed = ? AND deleted_at IS NULL",
        [workspace_id, observer, observed],
    ).fetchone()[0]
