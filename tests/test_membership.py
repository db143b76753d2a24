"""Session membership is a history: leaving is recorded, re-joining opens a new stint."""

from __future__ import annotations

from datetime import datetime

from helpers import table_counts


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_leaving_keeps_the_stint_and_rejoining_opens_a_new_one(run_cli):
    for peer in ("alice", "bob"):
        assert run_cli("peer", "create", peer).code == 0
    assert run_cli("session", "create", "s", "--peers", "alice,bob").code == 0

    code, members, _ = run_cli("session", "remove-peers", "s", "bob")
    assert code == 0
    assert [m["peer_id"] for m in members] == ["alice"]  # the answer is the current members

    code, members, _ = run_cli("session", "peers", "s")
    assert code == 0 and [m["peer_id"] for m in members] == ["alice"]

    code, history, _ = run_cli("session", "peers", "s", "--all")
    assert code == 0
    bob = [m for m in history if m["peer_id"] == "bob"]
    assert len(bob) == 1
    assert bob[0]["left_at"] is not None and bob[0]["active"] is False
    assert _t(bob[0]["left_at"]) >= _t(bob[0]["joined_at"])

    assert run_cli("session", "add-peers", "s", "bob").code == 0
    code, history, _ = run_cli("session", "peers", "s", "--all")
    bob = sorted((m for m in history if m["peer_id"] == "bob"), key=lambda m: m["joined_at"])
    assert len(bob) == 2, history
    first, second = bob
    assert first["left_at"] is not None and first["active"] is False
    assert second["left_at"] is None and second["active"] is True
    assert _t(second["joined_at"]) >= _t(first["left_at"])
    alice = [m for m in history if m["peer_id"] == "alice"]
    assert len(alice) == 1 and alice[0]["active"] is True

    code, sessions, _ = run_cli("session", "list", "--peer", "bob")
    assert [s["id"] for s in sessions] == ["s"]
    assert sorted(run_cli("session", "inspect", "s").out["peers"]) == ["alice", "bob"]


def test_a_peer_that_left_is_still_listed_in_the_sessions_it_was_in(h):
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.create_session("s", peers=["alice", "bob"])
    h.create_session("other", peers=["alice"])
    h.remove_peers("s", ["bob"])
    assert [s.id for s in h.list_sessions("bob")] == ["s"]
    assert h.get_session("s").peers == ["alice"]
    assert len(h.session_peers("s", include_history=True)) == 2


def test_adding_a_present_peer_again_opens_no_second_stint(h):
    h.create_peer("alice")
    h.create_session("s", peers=["alice"])
    h.add_peers("s", ["alice", "alice"])
    h.create_session("s", peers=["alice"])  # get-or-create with the same member
    assert len(h.session_peers("s", include_history=True)) == 1


def test_removing_a_peer_that_is_not_a_member_is_a_conflict_and_changes_nothing(run_cli, h):
    h.create_peer("alice")
    h.create_peer("bob")
    h.create_session("s", peers=["alice"])
    before = table_counts(h)
    result = run_cli("session", "remove-peers", "s", "alice", "bob")
    assert result.code == 4
    assert result.error_code == "PEER_NOT_IN_SESSION"
    assert result.err["error"]["details"]["peer_id"] == "bob"
    assert table_counts(h) == before
    assert h.get_session("s").peers == ["alice"]  # alice was not removed either


def test_creating_a_session_with_an_unknown_peer_creates_nothing(run_cli, h):
    h.create_peer("alice")
    before = table_counts(h)
    result = run_cli("session", "create", "s", "--peers", "alice,ghost")
    assert result.code == 3 and result.error_code == "PEER_NOT_FOUND"
    assert table_counts(h) == before
    assert h.list_sessions() == []


# -- sending as someone who is not (yet) a member ---------------------------------------


def test_a_non_member_cannot_send_without_join(run_cli, h):
    h.create_peer("alice")
    h.create_peer("bob")
    h.create_session("s", peers=["alice"])
    before = table_counts(h)

    result = run_cli("session", "add-message", "s", "--peer", "bob", "hello")
    assert result.code == 4 and result.error_code == "PEER_NOT_IN_SESSION"
    assert "--join" in result.err["error"]["message"]

    result = run_cli("session", "add-message", "s", "--peer", "ghost", "hello")
    assert result.code == 3 and result.error_code == "PEER_NOT_FOUND"
    assert table_counts(h) == before


def test_join_creates_the_sender_and_adds_it_before_its_message(run_cli, h):
    h.create_peer("alice")
    h.create_session("s", peers=["alice"])
    h.add_message("s", "alice", "before dave")

    code, message, _ = run_cli("session", "add-message", "s", "--peer", "dave", "--join", "hi, I am dave")
    assert code == 0
    assert message["peer_id"] == "dave" and message["seq_in_session"] == 2

    assert h.get_peer("dave").observe_me is True  # created with the defaults
    members = {m.peer_id: m for m in h.session_peers("s")}
    assert set(members) == {"alice", "dave"}
    assert members["dave"].observe_others is False


def test_join_reopens_a_stint_for_a_peer_that_left(run_cli, h):
    h.create_peer("alice")
    h.create_peer("bob")
    h.create_session("s", peers=["alice", "bob"])
    h.remove_peers("s", ["bob"])
    assert run_cli("session", "add-message", "s", "--peer", "bob", "--join", "back again").code == 0
    stints = [m for m in h.session_peers("s", include_history=True) if m.peer_id == "bob"]
    assert len(stints) == 2 and sum(m.active for m in stints) == 1


def test_join_on_a_present_member_changes_no_membership(h):
    h.create_peer("alice")
    h.create_session("s", peers=["alice"])
    h.add_message("s", "alice", "hello", join=True)
    assert len(h.session_peers("s", include_history=True)) == 1
