"""Adding, listing, importing and searching messages."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from helpers import table_counts, witnesses


@pytest.fixture
def session(h):
    for peer in ("alice", "bob", "charlie"):
        h.create_peer(peer)
    h.create_session("s", peers=["alice", "bob", "charlie"])
    return h


def _write_jsonl(path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(row if isinstance(row, str) else json.dumps(row))
            f.write("\n")


# -- single messages ----------------------------------------------------------------------


def test_dash_reads_the_message_from_stdin_verbatim(session, run_cli):
    text = "line one\nline two — with ünïcödé and emoji 🥞\n\ttabbed"
    code, message, _ = run_cli("session", "add-message", "s", "--peer", "bob", "-", input=text)
    assert code == 0
    assert message["content"] == text
    assert session.get_message(message["id"]).content == text


def test_metadata_and_created_at_are_kept(session, run_cli):
    code, message, _ = run_cli("session", "add-message", "s", "--peer", "bob", "old news",
                               "--metadata", '{"source": "import", "n": 3}', "--created-at", "2024-02-29T12:00:00+02:00")
    assert code == 0
    assert message["metadata"] == {"source": "import", "n": 3}
    assert datetime.fromisoformat(message["created_at"]) == datetime(2024, 2, 29, 10, 0, tzinfo=timezone.utc)
    stored = session.get_message(message["id"])
    assert stored.metadata == {"source": "import", "n": 3}
    assert stored.created_at == datetime(2024, 2, 29, 10, 0)
    assert stored.token_count >= 1


def test_seq_in_session_counts_per_session(session):
    session.create_session("other", peers=["alice"])
    seqs = [session.add_message("s", "bob", f"s{i}").seq_in_session for i in range(3)]
    assert seqs == [1, 2, 3]
    assert session.add_message("other", "alice", "first elsewhere").seq_in_session == 1
    assert session.add_message("s", "alice", "s3").seq_in_session == 4


def test_message_create_is_the_same_as_session_add_message(session, run_cli):
    code, message, _ = run_cli("message", "create", "--session", "s", "--peer", "alice", "via message create")
    assert code == 0 and message["session_id"] == "s" and message["seq_in_session"] == 1


# -- listing --------------------------------------------------------------------------------


def test_last_n_gives_the_newest_n_oldest_first(session, run_cli):
    for i in range(1, 8):
        session.add_message("s", "bob" if i % 2 else "alice", f"message {i}")
    code, out, _ = run_cli("message", "list", "--session", "s", "--last", "3")
    assert code == 0
    assert [m["content"] for m in out] == ["message 5", "message 6", "message 7"]
    assert [m["seq_in_session"] for m in out] == [5, 6, 7]

    code, out, _ = run_cli("message", "list", "--session", "s", "--last", "100")
    assert [m["seq_in_session"] for m in out] == list(range(1, 8))
    assert [m["content"] for m in run_cli("session", "view", "s", "--last", "2").out] == ["message 6", "message 7"]


def test_listing_by_session_does_not_mix_sessions(session):
    session.create_session("other", peers=["alice"])
    session.add_message("s", "bob", "in s")
    session.add_message("other", "alice", "in other")
    assert [m.content for m in session.list_messages("s")] == ["in s"]
    assert [m.content for m in session.list_messages("other")] == ["in other"]
    assert {m.content for m in session.list_messages()} == {"in s", "in other"}


# -- import from a file ---------------------------------------------------------------------


def test_file_import_adds_every_line_in_order(session, run_cli, tmp_path):
    session.add_message("s", "alice", "already there")
    path = tmp_path / "batch.jsonl"
    _write_jsonl(path, [
        {"peer": "bob", "content": "I had pancakes for breakfast."},
        "",  # blank lines are skipped
        {"peer": "charlie", "content": "I prefer waffles.", "metadata": {"mood": "smug"}},
        {"peer": "alice", "content": "Noted.", "created_at": "2020-01-01T00:00:00Z"},
    ])
    code, out, _ = run_cli("session", "add-message", "s", "--file", str(path))
    assert code == 0
    assert isinstance(out, list) and len(out) == 3
    messages = session.list_messages("s")
    assert [(m.seq_in_session, m.peer_id, m.content) for m in messages] == [
        (1, "alice", "already there"),
        (2, "bob", "I had pancakes for breakfast."),
        (3, "charlie", "I prefer waffles."),
        (4, "alice", "Noted."),
    ]
    assert messages[2].metadata == {"mood": "smug"}
    assert messages[3].created_at == datetime(2020, 1, 1)


def test_file_dash_reads_jsonl_from_stdin(session, run_cli):
    lines = "\n".join(json.dumps({"peer": "bob", "content": f"piped {i}"}) for i in range(3))
    code, out, _ = run_cli("session", "add-message", "s", "--file", "-", input=lines)
    assert code == 0 and [m["content"] for m in out] == ["piped 0", "piped 1", "piped 2"]


GOOD = {"peer": "bob", "content": "fine"}


@pytest.mark.parametrize(
    ("bad_line", "exit_code", "error_code"),
    [
        pytest.param('{"peer": "bob", "content": ', 2, "INVALID_INPUT", id="truncated-json"),
        pytest.param("not json at all", 2, "INVALID_INPUT", id="not-json"),
        pytest.param('["bob", "hi"]', 2, "INVALID_INPUT", id="not-an-object"),
        pytest.param('{"peer": "bob"}', 2, "INVALID_INPUT", id="missing-content"),
        pytest.param('{"content": "hi"}', 2, "INVALID_INPUT", id="missing-peer"),
        pytest.param('{"peer": "bob", "content": ""}', 2, "INVALID_INPUT", id="empty-content"),
        pytest.param(json.dumps({"peer": "bob", "content": "x" * 25_001}), 2, "INVALID_INPUT", id="long-content"),
        pytest.param('{"peer": "bob", "content": "\\ud800"}', 2, "INVALID_INPUT", id="lone-surrogate"),
        pytest.param('{"peer": "bad id", "content": "hi"}', 2, "INVALID_INPUT", id="bad-peer-id"),
        pytest.param('{"peer": "bob", "content": "hi", "metadata": [1]}', 2, "INVALID_INPUT", id="metadata-not-object"),
        pytest.param('{"peer": "bob", "content": "hi", "created_at": "soon"}', 2, "INVALID_INPUT", id="bad-created-at"),
        pytest.param('{"peer": "bob", "content": "hi", "colour": "red"}', 2, "INVALID_INPUT", id="unknown-field"),
        pytest.param(b'{"peer": "bob", "content": "caf\xe9"}', 2, "INVALID_INPUT", id="not-utf8"),
    ],
)
def test_a_malformed_line_names_its_number_and_nothing_from_the_file_is_stored(session, run_cli, tmp_path, bad_line,
                                                                               exit_code, error_code):
    session.add_message("s", "alice", "before")
    path = tmp_path / "bad.jsonl"
    good = json.dumps(GOOD).encode()
    bad = bad_line if isinstance(bad_line, bytes) else bad_line.encode()
    path.write_bytes(b"\n".join([good, good, good, bad, good]) + b"\n")  # the bad one is line 4
    before = table_counts(session)

    result = run_cli("session", "add-message", "s", "--file", str(path))
    assert result.code == exit_code, result
    assert result.error_code == error_code
    assert "line 4" in result.err["error"]["message"], result.err
    assert result.err["error"]["details"].get("line") == 4
    assert table_counts(session) == before


def test_an_import_with_a_non_member_sender_is_refused_whole(session, run_cli, tmp_path):
    session.create_peer("outsider")
    path = tmp_path / "batch.jsonl"
    _write_jsonl(path, [GOOD, GOOD, {"peer": "outsider", "content": "let me in"}])
    before = table_counts(session)
    result = run_cli("session", "add-message", "s", "--file", str(path))
    assert result.code == 4 and result.error_code == "PEER_NOT_IN_SESSION"
    assert table_counts(session) == before

    code, out, _ = run_cli("session", "add-message", "s", "--file", str(path), "--join")
    assert code == 0 and len(out) == 3
    assert "outsider" in session.get_session("s").peers


def test_import_errors_without_writing_for_empty_missing_or_ambiguous_input(session, run_cli, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    before = table_counts(session)
    for args in (
        ("session", "add-message", "s", "--file", str(empty)),
        ("session", "add-message", "s", "--file", str(tmp_path / "missing.jsonl")),
        ("session", "add-message", "s", "--file", str(tmp_path)),  # a directory
        ("session", "add-message", "s", "--peer", "bob", "text too", "--file", str(empty)),
    ):
        result = run_cli(*args)
        assert result.code == 2 and result.error_code == "INVALID_INPUT", result
    assert table_counts(session) == before


# -- search ---------------------------------------------------------------------------------


def test_search_finds_words_ranked_by_bm25_and_filters(seed, h, run_cli):
    code, hits, _ = run_cli("message", "search", "breakfast", "--mode", "fulltext")
    assert code == 0
    assert {m["content"] for m in hits} == {"I had pancakes for breakfast.", "I didn't have breakfast. I lied to Bob."}
    assert all(isinstance(m["score"], float) and m["score"] > 0 for m in hits)
    assert [m["score"] for m in hits] == sorted((m["score"] for m in hits), reverse=True)
    # BM25: the shorter message with the term ranks above the longer one
    assert hits[0]["content"] == "I had pancakes for breakfast."

    in_session_2 = run_cli("message", "search", "breakfast", "--session", "game-session-2", "--mode", "fulltext").out
    assert [m["content"] for m in in_session_2] == ["I didn't have breakfast. I lied to Bob."]
    assert [m["content"] for m in run_cli("message", "search", "breakfast", "--peer", "bob", "--mode", "fulltext").out] == [
        "I had pancakes for breakfast."
    ]
    assert run_cli("message", "search", "waffles", "--peer", "bob", "--mode", "fulltext").out == []
    assert run_cli("message", "search", "submarine", "--mode", "fulltext").out == []


def test_search_ranks_more_matching_words_higher_and_sees_new_messages(session):
    session.add_message("s", "bob", "the weather is nice today")
    session.add_message("s", "alice", "pancakes with syrup")
    assert [m.content for m in session.search_messages("pancakes syrup", mode="fulltext")] == ["pancakes with syrup"]

    session.add_message("s", "charlie", "pancakes again")  # the index must notice new messages
    hits = [m.content for m in session.search_messages("pancakes syrup", mode="fulltext")]
    assert hits == ["pancakes with syrup", "pancakes again"]
    assert [m.content for m in session.search_messages("weather", limit=1, mode="fulltext")] == ["the weather is nice today"]


def test_search_stays_inside_the_workspace(h):
    h.create_workspace("other")
    other = h.in_workspace("other")
    for client in (h, other):
        client.create_peer("alice")
        client.create_session("s", peers=["alice"])
    h.add_message("s", "alice", "default workspace pancakes")
    other.add_message("s", "alice", "other workspace pancakes")
    assert [m.content for m in h.search_messages("pancakes", mode="fulltext")] == ["default workspace pancakes"]
    assert [m.content for m in other.search_messages("pancakes", mode="fulltext")] == ["other workspace pancakes"]


def test_witnesses_are_recorded_for_imports_like_for_single_messages(session, run_cli, tmp_path):
    session.set_peer_config("s", "alice", observe_others=True)
    path = tmp_path / "batch.jsonl"
    _write_jsonl(path, [{"peer": "bob", "content": "imported"}])
    assert run_cli("session", "add-message", "s", "--file", str(path)).code == 0
    assert ("alice", "bob", "s", "imported") in witnesses(session)
