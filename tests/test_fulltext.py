"""Word search reads DuckDB's FTS index without the extension, and sees messages added since.

The reference is the extension itself: a copy of the store gets a freshly built index
and is asked with its own `match_bm25`; honcho's scores must be the same, whether the
messages are in honcho's snapshot index or in the tail added after it.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from honcho_cli.store import fulltext

from conftest import FIXTURES

QUERIES = [
    "pottery course", "driving test", "Volvo", "my dad's old car", "Thursday evening",
    "congratulations!", "the", "moving out of the flat", "Café naïve", "zzzunknownword",
]


def _load(h, names: list[str]) -> list:
    """The fixture conversations' messages, each session with its speakers."""
    added = []
    for name in names:
        spec = json.loads((FIXTURES / "conversations" / f"{name}.json").read_text())
        for session in spec["sessions"]:
            sid = f"{name}-{session['id']}"
            h.create_session(sid)
            added += h.add_messages(sid, [{"peer": peer, "content": text} for peer, text in session["messages"]], join=True)
    return added


def _reference(store_path, tmp_path, query: str, workspace: str = "default") -> list[tuple[str, float]]:
    """What the extension scores on a copy of the store whose index is rebuilt from all messages."""
    copy = tmp_path / "reference.duckdb"
    if not copy.exists():
        shutil.copy(store_path, copy)
        conn = duckdb.connect(str(copy))
        fulltext.load_extension(conn)
        conn.execute("PRAGMA create_fts_index('messages', 'id', 'content', overwrite = 1)")
        conn.close()
    conn = duckdb.connect(str(copy), read_only=True)
    try:
        fulltext.load_extension(conn)
        rows = conn.execute(
            """SELECT id, score FROM (SELECT id, fts_main_messages.match_bm25(id, ?) AS score FROM messages
               WHERE workspace_id = ?) WHERE score IS NOT NULL ORDER BY score DESC, id""",
            [query, workspace],
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], float(r[1])) for r in rows]


def _state(h):
    with h.store.read() as conn:
        return conn.execute("SELECT row_count, last_inserted FROM fulltext_state").fetchall()


def test_scores_equal_the_extensions_with_and_without_a_tail(h, tmp_path):
    _load(h, ["flatmates"])
    h.search_messages("pottery", mode="fulltext")  # builds the snapshot index
    built = _state(h)
    _load(h, ["runner-and-nurse", "village-npcs"])  # the tail: more messages than the snapshot holds
    h.create_session("odd")
    for text in ["Café naïve résumé: the VOLVO's pottery!!", "the and of", "12:30 -- e-mail a_b", "!!! ???"]:
        h.add_message("odd", "dana", text, join=True)

    for query in QUERIES:
        got = [(m.id, m.score) for m in h.search_messages(query, mode="fulltext", limit=100)]
        want = _reference(h.store.path, tmp_path, query)[:100]
        assert [i for i, _ in got] == [i for i, _ in want], query
        assert [s for _, s in got] == pytest.approx([round(s, 6) for _, s in want], abs=2e-6), query
    assert any(_reference(h.store.path, tmp_path, q) for q in QUERIES)  # the queries do match something
    assert _state(h) == built  # searching over the tail did not rebuild the index


def test_filters_apply_to_the_tail_as_to_the_index(h):
    _load(h, ["flatmates"])
    h.search_messages("pottery", mode="fulltext")
    late = h.add_message("flatmates-flat-chat", "farah", "More pottery news: the course moved to Friday.")
    by_farah = h.search_messages("pottery", mode="fulltext", peer_id="farah")
    assert late.id in [m.id for m in by_farah] and {m.peer_id for m in by_farah} == {"farah"}
    assert late.id not in [m.id for m in h.search_messages("pottery", mode="fulltext", peer_id="dana")]
    h.create_workspace("elsewhere")
    assert h.in_workspace("elsewhere").search_messages("pottery", mode="fulltext") == []


def test_a_long_tail_or_a_missing_row_makes_the_search_rebuild(h, monkeypatch):
    monkeypatch.setattr(fulltext, "REBUILD_AFTER", 3)
    _load(h, ["flatmates"])
    h.search_messages("pottery", mode="fulltext")
    built = _state(h)
    for i in range(3):
        h.add_message("flatmates-flat-chat", "eli", f"kettle number {i}")
    assert len(h.search_messages("kettle", mode="fulltext")) == 3
    assert _state(h) == built  # three behind: read as a tail
    h.add_message("flatmates-flat-chat", "eli", "kettle number 3")
    assert len(h.search_messages("kettle", mode="fulltext")) == 4
    rebuilt = _state(h)
    assert rebuilt != built and rebuilt[0][0] == built[0][0] + 4

    with h.store.write() as conn:  # a row gone without a rebuild (as after a crash): counts no longer add up
        conn.execute("DELETE FROM message_witnesses WHERE message_id IN (SELECT id FROM messages WHERE content = 'kettle number 0')")
        conn.execute("DELETE FROM deriver_queue WHERE message_id IN (SELECT id FROM messages WHERE content = 'kettle number 0')")
        conn.execute("DELETE FROM messages WHERE content = 'kettle number 0'")
    assert {m.content for m in h.search_messages("kettle", mode="fulltext")} == {f"kettle number {i}" for i in (1, 2, 3)}
    assert _state(h)[0][0] == rebuilt[0][0] - 1


def test_without_pystemmer_the_extensions_stemmer_gives_the_same_ranking(h, monkeypatch):
    _load(h, ["flatmates"])
    h.search_messages("pottery", mode="fulltext")
    h.add_message("flatmates-flat-chat", "farah", "The potter's wheels keep turning; congratulations again!")
    queries = ["pottery wheels turning", "congratulations", "driving tests"]
    with_pystemmer = [[(m.id, m.score) for m in h.search_messages(q, mode="fulltext")] for q in queries]
    monkeypatch.setattr(fulltext, "_stemmer", lambda: None)
    assert [[(m.id, m.score) for m in h.search_messages(q, mode="fulltext")] for q in queries] == with_pystemmer
    assert all(with_pystemmer)
