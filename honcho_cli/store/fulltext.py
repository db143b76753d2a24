"""Full-text search over messages: DuckDB's FTS extension builds the BM25 index, a search reads it.

The extension ships as a PyPI package (`duckdb-ext-fts`) and is loaded from its file,
since nothing may be downloaded at run time. Its index is a snapshot: plain tables in
the store (`fts_main_messages.*`) built from the messages of that moment.

Loading the 24 MB extension costs about as much CPU as importing DuckDB, and its
scoring macro needs it only for the stemmer. So a search does not load it: it stems
the query with the same Porter stemmer (PyStemmer: the C Snowball library the
extension embeds) and scores with those tables in SQL. Messages added since the
snapshot are tokenized by the index's own macro, stemmed and scored alike, with the
corpus statistics taken over both, so a search right after `add-message` ranks as a
rebuilt index would, read-only. The index is rebuilt (write lock, extension) only when
that tail passes REBUILD_AFTER messages or no longer accounts for every message.
"""

from __future__ import annotations

import importlib.util
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from honcho_cli.errors import HonchoError

if TYPE_CHECKING:
    import duckdb

INDEX_NAME = "messages"
SCHEMA = "fts_main_messages"
# the extension's match_bm25 defaults, kept so scores equal what it would give
K1, B = 1.2, 0.75
# a longer tail costs every search its tokenizing; a rebuild costs one search its write
REBUILD_AFTER = 500


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


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer
    except ImportError:  # an environment installed before honcho needed it
        return None
    return Stemmer.Stemmer("porter")  # the algorithm create_fts_index uses by default


def _stem_words(conn: duckdb.DuckDBPyConnection):
    """PyStemmer's Porter stemmer, else the extension's own (loaded, at its cost)."""
    stemmer = _stemmer()
    if stemmer is not None:
        return stemmer.stemWords
    load_extension(conn)

    def stem(words: list[str]) -> list[str]:
        if not words:
            return []
        return conn.execute("SELECT list_transform(?, w -> stem(w, 'porter'))", [list(words)]).fetchone()[0]

    return stem


def _snapshot(conn: duckdb.DuckDBPyConnection) -> tuple[int, object]:
    return conn.execute("SELECT count(*), max(inserted_at) FROM messages").fetchone()


def rebuild(conn: duckdb.DuckDBPyConnection) -> None:
    load_extension(conn)
    conn.execute("RESET threads")  # a store connection runs on one thread; building an index is bulk work
    conn.execute("PRAGMA create_fts_index('messages', 'id', 'content', overwrite = 1)")
    count, last = _snapshot(conn)
    conn.execute(
        """INSERT INTO fulltext_state VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET row_count = excluded.row_count, last_inserted = excluded.last_inserted""",
        [INDEX_NAME, count, last],
    )


def _tail(conn: duckdb.DuckDBPyConnection) -> list[tuple] | None:
    """(id, workspace, session, peer, tokens) of each message added since the snapshot,
    or None when the index must be rebuilt first (none yet, rows removed, a long tail)."""
    state = conn.execute("SELECT row_count, last_inserted FROM fulltext_state WHERE name = ?", [INDEX_NAME]).fetchone()
    if state is None:
        return None
    row_count, last = state
    total, newest = _snapshot(conn)
    added = total - row_count
    if added == 0:
        return [] if newest == last else None
    if added < 0 or added > REBUILD_AFTER:
        return None
    after, params = ("WHERE inserted_at > ?", [last]) if last is not None else ("", [])
    rows = conn.execute(
        f"SELECT id, workspace_id, session_id, peer_id, {SCHEMA}.tokenize(content) FROM messages {after}", params
    ).fetchall()
    # each message is in the snapshot or in this tail, or the counts would not add up
    return rows if len(rows) == added else None


def search(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    query: str,
    *,
    session_id: str | None = None,
    peer_id: str | None = None,
    limit: int = 10,
) -> list[tuple[str, float]] | None:
    """(message id, BM25 score), best first; None when the index must be rebuilt first."""
    import duckdb

    try:
        tail = _tail(conn)
    except duckdb.CatalogException:  # the index's tables are missing
        return None
    if tail is None:
        return None
    stem = _stem_words(conn)
    # as match_bm25: the distinct stems of the query's tokens (stopwords are simply not in the index)
    tokens = conn.execute(f"SELECT {SCHEMA}.tokenize(?)", [query]).fetchone()[0] or []
    terms = set(stem(tokens))
    if not terms:
        return []
    stopwords = {r[0] for r in conn.execute(f"SELECT sw FROM {SCHEMA}.stopwords").fetchall()} if tail else set()
    num_docs, avgdl = conn.execute(f"SELECT num_docs, avgdl FROM {SCHEMA}.stats").fetchone()
    indexed_df = dict(conn.execute(f"SELECT term, df FROM {SCHEMA}.dict WHERE term IN (SELECT unnest(?))", [sorted(terms)]).fetchall())

    # the tail as the index would hold it: stopwords dropped, then stemmed
    tail_docs = []
    for message_id, workspace, session, peer, words in tail:
        stems = stem([w for w in (words or []) if w and w not in stopwords])
        tail_docs.append((message_id, workspace, session, peer, len(stems), Counter(s for s in stems if s in terms)))
    n = (num_docs or 0) + len(tail_docs)
    if n == 0:
        return []
    total_len = (avgdl or 0.0) * (num_docs or 0) + sum(doc[4] for doc in tail_docs)
    avg = total_len / n
    df = {t: indexed_df.get(t, 0) + sum(1 for doc in tail_docs if t in doc[5]) for t in terms}
    df = {t: d for t, d in df.items() if d}
    if not df:
        return []
    idf = {t: math.log10((n - d + 0.5) / (d + 0.5) + 1) for t, d in df.items()}  # DuckDB's log() is base 10

    hits: list[tuple[str, float]] = []
    if avg > 0 and any(indexed_df.get(t) for t in df):
        clauses, params = ["m.workspace_id = ?"], [list(idf), list(idf.values()), workspace_id]
        if session_id is not None:
            clauses.append("m.session_id = ?")
            params.append(session_id)
        if peer_id is not None:
            clauses.append("m.peer_id = ?")
            params.append(peer_id)
        hits = conn.execute(
            f"""WITH q AS (SELECT unnest(?) AS term, unnest(?) AS idf),
                tf AS (SELECT t.docid, t.termid, count(*) AS tf FROM {SCHEMA}.terms t
                       WHERE t.termid IN (SELECT d.termid FROM {SCHEMA}.dict d JOIN q USING (term))
                       GROUP BY t.docid, t.termid)
                SELECT m.id, sum(q.idf * (tf.tf * {K1 + 1}) / (tf.tf + {K1} * (1 - {B} + {B} * (docs.len / {avg!r})))) AS score
                FROM tf JOIN {SCHEMA}.dict d USING (termid) JOIN q USING (term)
                     JOIN {SCHEMA}.docs docs USING (docid) JOIN messages m ON m.id = docs.name
                WHERE {' AND '.join(clauses)}
                GROUP BY m.id ORDER BY score DESC, m.id LIMIT {int(limit)}""",
            params,
        ).fetchall()
    for message_id, workspace, session, peer, length, counts in tail_docs:
        if not counts or workspace != workspace_id:
            continue
        if (session_id is not None and session != session_id) or (peer_id is not None and peer != peer_id):
            continue
        score = sum(
            idf[t] * (tf * (K1 + 1)) / (tf + K1 * (1 - B + B * (length / avg))) for t, tf in counts.items()
        )
        hits.append((message_id, score))
    hits.sort(key=lambda hit: (-hit[1], hit[0]))
    return [(message_id, float(score)) for message_id, score in hits[:limit]]
