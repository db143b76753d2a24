"""The official `honcho-cli` (0.3.0) habits work here too: its argument orders, `-p/-s` with
HONCHO_PEER_ID / HONCHO_SESSION_ID, its command names, and a question before a delete on a
terminal. Our own forms (`honcho chat PEER QUERY`, `session representation SESSION PEER`)
keep working beside them."""

from __future__ import annotations

import os
import pty
import subprocess

import pytest

from conftest import HONCHO

MODELS = {"HONCHO_MODEL": "test-double", "HONCHO_EMBEDDING_MODEL": "test-double"}


@pytest.fixture
def store(h, monkeypatch):
    for key, value in MODELS.items():
        monkeypatch.setenv(key, value)
    h.create_peer("alice", {"team": "red"})
    h.create_peer("bob")
    h.create_session("s1", ["alice", "bob"], {"topic": "food"})
    h.set_peer_config("s1", "alice", observe_others=True)
    h.add_messages("s1", [{"peer": "bob" if i % 2 else "alice", "content": f"Message {i}: I like tea number {i}."}
                          for i in range(7)])
    return h


def ok(run_cli, *args: str, env: dict | None = None):
    result = run_cli(*args, env=env)
    assert result.code == 0, result
    return result.out


def test_peer_commands_take_the_peer_from_p_or_the_environment(store, run_cli):
    env = {"HONCHO_PEER_ID": "alice"}
    assert ok(run_cli, "peer", "get-metadata", env=env) == {"team": "red"}
    assert ok(run_cli, "peer", "get-metadata", "-p", "bob") == {}
    assert ok(run_cli, "peer", "get-metadata", "bob", env=env) == {}  # the argument wins
    assert ok(run_cli, "peer", "set-metadata", '{"team": "blue"}', "-p", "alice")["metadata"] == {"team": "blue"}
    assert ok(run_cli, "peer", "set-metadata", "alice", '{"team": "green"}')["metadata"] == {"team": "green"}
    assert ok(run_cli, "peer", "inspect", env=env)["sessions"] == ["s1"]
    assert ok(run_cli, "peer", "card", "-p", "alice", "--target", "bob")["observed"] == "bob"
    assert ok(run_cli, "peer", "representation", "-p", "alice", "-s", "s1")["observer"] == "alice"
    found = ok(run_cli, "peer", "search", "tea", "-p", "bob")
    assert found and {m["peer_id"] for m in found} == {"bob"}

    missing = run_cli("peer", "get-metadata")
    assert missing.code == 2 and "-p/--peer" in missing.err["error"]["message"]


def test_peer_chat_in_the_official_order_and_in_ours(store, run_cli):
    official = ok(run_cli, "peer", "chat", "What does bob like?", "-p", "alice", "--target", "bob", "-r", "minimal")
    ours = ok(run_cli, "peer", "chat", "alice", "What does bob like?", "--target", "bob", "--reasoning-level", "minimal")
    top = ok(run_cli, "chat", "alice", "What does bob like?", "--target", "bob", "--reasoning-level", "minimal")
    assert official == ours == top  # nothing reasoned yet: the same "I don't know." without a model call
    assert official["answer"] == "I don't know."
    env_peer = ok(run_cli, "peer", "chat", "What does bob like?", "--target", "bob", env={"HONCHO_PEER_ID": "alice"})
    assert env_peer == official

    # --evidence: the text of what the answer was drawn from, beside the ids
    ok(run_cli, "deriver", "run")
    shown = ok(run_cli, "peer", "chat", "What does bob like?", "-p", "alice", "--target", "bob", "-r", "minimal", "--evidence")
    facts = shown["evidence"]["conclusions"]
    assert facts and [f["id"] for f in facts] == shown["conclusions"]
    assert any("tea" in f["content"] for f in facts) and {f["session_id"] for f in facts} == {"s1"}


def test_session_commands_take_the_session_from_s_or_the_environment(store, run_cli):
    env = {"HONCHO_SESSION_ID": "s1"}
    assert ok(run_cli, "session", "inspect", env=env)["message_count"] == 7
    assert ok(run_cli, "session", "get-metadata", "-s", "s1") == {"topic": "food"}
    assert ok(run_cli, "session", "set-metadata", "-d", '{"topic": "tea"}', env=env)["metadata"] == {"topic": "tea"}
    assert ok(run_cli, "session", "set-metadata", "s1", "--data", '{"topic": "cake"}')["metadata"] == {"topic": "cake"}
    assert [m["peer_id"] for m in ok(run_cli, "session", "peers", env=env)] == ["alice", "bob"]
    assert ok(run_cli, "session", "summaries", "-s", "s1")["session_id"] == "s1"
    assert ok(run_cli, "session", "context", env=env)["session_id"] == "s1"

    page = ok(run_cli, "session", "view", "--page", "2", "--size", "3", env=env)
    assert [m["seq_in_session"] for m in page] == [4, 5, 6]
    newest = ok(run_cli, "session", "view", "s1", "--page", "1", "--size", "2", "--reverse")
    assert [m["seq_in_session"] for m in newest] == [7, 6]
    assert [m["seq_in_session"] for m in ok(run_cli, "session", "view", "s1", "-p", "bob")] == [2, 4, 6]
    both = run_cli("session", "view", "s1", "--last", "2", "--page", "1")
    assert both.code == 2 and "mutually exclusive" in both.err["error"]["message"]

    hits = ok(run_cli, "session", "search", "tea", "s1", "--limit", "3")
    assert len(hits) == 3 and {m["session_id"] for m in hits} == {"s1"}
    assert len(ok(run_cli, "session", "search", "tea", env=env)) == 7


def test_session_representation_in_the_official_order_and_the_old_one(store, run_cli):
    official = ok(run_cli, "session", "representation", "alice", "s1", "--target", "bob")
    with_flag = ok(run_cli, "session", "representation", "alice", "-s", "s1", "--target", "bob")
    old = ok(run_cli, "session", "representation", "s1", "alice", "--target", "bob")
    assert official == with_flag == old
    assert (official["observer"], official["observed"]) == ("alice", "bob")


def test_message_list_reverse_brief_and_workspace_names(store, run_cli):
    brief = ok(run_cli, "message", "list", "s1", "--brief", "--reverse", "--last", "3")
    assert [sorted(m) for m in brief] == [["created_at", "id", "peer_id", "session_id", "token_count"]] * 3
    assert [m["id"] for m in brief] == [m.id for m in reversed(store.list_messages("s1", last=3))]
    message = store.list_messages("s1")[0]
    assert ok(run_cli, "message", "get", message.id, "-s", "s1")["id"] == message.id
    elsewhere = run_cli("message", "get", message.id, "-s", "other")
    assert elsewhere.code == 3

    assert len(ok(run_cli, "workspace", "search", "tea", "--limit", "4")) == 4
    status = ok(run_cli, "workspace", "queue-status", "-s", "s1")
    assert status["pending_work_units"] == status["total_work_units"] > 0
    assert ok(run_cli, "workspace", "create", "gone")["id"] == "gone"
    deleted = ok(run_cli, "workspace", "delete", "gone", "--cascade", "--yes")
    assert deleted["workspace_id"] == "gone"


def test_conclusion_list_by_level_premises_and_several_ids(store, run_cli):
    from honcho_cli.core.conclusions import record_conclusion

    with store.store.write() as conn:
        first = record_conclusion(conn, "default", "alice", "alice", "alice likes tea").id
        second = record_conclusion(conn, "default", "alice", "alice", "alice drinks tea at noon").id
        deduction = record_conclusion(conn, "default", "alice", "alice", "alice drinks tea every day",
                                      level="deductive", premise_ids=[first, second]).id
    assert [c["id"] for c in ok(run_cli, "conclusion", "list", "--level", "deductive")] == [deduction]
    assert [c["id"] for c in ok(run_cli, "conclusion", "list", "-p", "alice", "--derived-from", first)] == [deduction]
    assert [c["id"] for c in ok(run_cli, "conclusion", "derived", second)] == [deduction]
    assert ok(run_cli, "conclusion", "list", "-p", "bob") == []
    several = ok(run_cli, "conclusion", "get", first, "c_missing", deduction)
    assert [c["id"] for c in several] == [first, deduction]
    bad = run_cli("conclusion", "list", "--level", "wild")
    assert bad.code == 2


def _on_a_terminal(args: list[str], answer: bytes, env: dict) -> tuple[int, bytes]:
    """Run honcho with a pseudo-terminal as stdin (as a person would) and answer its question."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*HONCHO, *args], stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    os.close(follower)
    os.write(leader, answer)
    out, err = proc.communicate(timeout=60)
    os.close(leader)
    assert b"Traceback" not in err, err
    return proc.returncode, err


@pytest.mark.parametrize("answer, code, remains", [(b"n\n", 4, True), (b"y\n", 0, False)])
def test_a_delete_without_yes_asks_on_a_terminal(store, data_dir, answer, code, remains):
    returned, err = _on_a_terminal(["session", "delete", "s1"], answer, {"HONCHO_DATA_DIR": str(data_dir)})
    assert returned == code, err
    assert b"Delete session 's1'" in err
    assert ("s1" in [s.id for s in store.list_sessions()]) is remains


def test_a_delete_without_yes_off_a_terminal_still_refuses(store, run_cli):
    refused = run_cli("session", "delete", "-s", "s1")
    assert refused.code == 4 and refused.error_code == "CONFIRMATION_REQUIRED"
    assert [s.id for s in store.list_sessions()] == ["s1"]


def test_scopes_workspace_chat_cards_and_clones_on_the_command_line(store, run_cli, data_dir):
    store.create_session("s2", ["alice", "bob"])
    store.add_message("s2", "bob", "I work as a carpenter in Leeds.")
    assert run_cli("deriver", "run").code == 0
    made = ok(run_cli, "scope", "create", "tea", "--sessions", "s1", "--metadata", '{"k": 1}')
    assert made["id"] == "tea" and made["added_sessions"] == ["s1"]
    assert [s["id"] for s in ok(run_cli, "scope", "list")] == ["tea"]
    assert ok(run_cli, "scope", "status", "tea")[0]["state"] == "completed"
    inside = ok(run_cli, "peer", "representation", "bob", "--scope", "tea")
    assert inside["scope"] == "tea" and inside["conclusions"]
    assert {c["session_id"] for c in inside["conclusions"]} == {"s1"}
    answer = ok(run_cli, "peer", "chat", "What does bob do?", "-p", "bob", "--scope", "tea", "-r", "minimal")
    conclusion_sessions = {store.get_conclusion(c).session_id for c in answer["conclusions"]}
    assert conclusion_sessions <= {"s1"}
    assert ok(run_cli, "scope", "add-sessions", "tea", "s2")["conclusions_copied"] >= 1
    assert [s["id"] for s in ok(run_cli, "scope", "sessions", "tea")] == ["s1", "s2"]
    assert ok(run_cli, "scope", "remove-session", "tea", "s2")["conclusions_removed"] >= 1
    wide = ok(run_cli, "workspace", "chat", "Who works as a carpenter?")
    assert wide["conclusions"] and "answer" in wide
    assert all(not p["id"].startswith("scope__") for p in ok(run_cli, "peer", "list"))
    assert run_cli("peer", "create", "scope__tea").code == 2
    assert ok(run_cli, "scope", "delete", "tea", "--yes")["deleted"] == "tea"

    card = ok(run_cli, "peer", "card", "-p", "alice", "--set", "alice likes tea", "--set", "alice lives in York")
    assert card["card"] == ["alice likes tea", "alice lives in York"] and card["set_by_hand"]
    assert "set_by_hand" not in ok(run_cli, "peer", "card", "alice", "--clear")

    first = store.list_messages("s1")[2]
    clone = ok(run_cli, "session", "clone", "s1", "--message-id", first.id, "--id", "s1-copy")
    assert clone["id"] == "s1-copy" and clone["peers"] == ["alice", "bob"]
    assert [m["content"] for m in ok(run_cli, "message", "list", "s1-copy")] == [m.content for m in store.list_messages("s1")[:3]]
    settings = ok(run_cli, "config", env={"HONCHO_PEER_ID": "alice"})
    assert settings["data_dir"] == str(data_dir) and settings["peer_id"] == "alice"
