"""The official Python SDK (`honcho-ai`) against `honcho serve` in its own process.

The seed's own example runs unchanged (its "Code Examples" block, read from the seed
document), with only `HONCHO_URL` and `HONCHO_WORKSPACE_ID` in the environment; after the
queue drains, the views come back through the SDK with the seed's scoping. The model is
the deterministic test double, so the assertions are about which conclusions reach
which view, never about wording a real model would choose.
"""

from __future__ import annotations

import os

import pytest
from server_support import Server, seed_example, wait_drained

honcho_sdk = pytest.importorskip("honcho")
from honcho import Honcho  # noqa: E402
from honcho.api_types import SessionPeerConfig  # noqa: E402
from honcho.http.exceptions import (  # noqa: E402
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

WORKSPACE = "seed-example"
QUESTION = "What did Bob say about breakfast?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-sdk")
    srv = Server(root / "data", root / "config")
    yield srv
    srv.stop_cleanly()


@pytest.fixture(scope="module")
def seeded(server):
    """The seed's code block, executed as written, against the server. Reasoning runs in the
    background, so its last lines may read the views before the worker is done: those early
    views are kept, the queue is drained, then the block's retrieval lines run again."""
    code = seed_example()
    retrieval = code[code.index("# Retrieve conclusions"):]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HONCHO_URL", server.url)
        mp.setenv("HONCHO_WORKSPACE_ID", WORKSPACE)
        mp.delenv("HONCHO_API_KEY", raising=False)
        scope: dict = {}
        exec(compile(code, "representation-scopes.md", "exec"), scope)  # noqa: S102 - the seed's own code
        scope["early"] = {name: scope[name] for name in ("honcho_view", "bob_view", "charlie_view")}
        status = wait_drained(scope["honcho"])
        assert status.total_work_units == 3 and status.completed_work_units == 3, status
        exec(compile(retrieval, "representation-scopes.md", "exec"), scope)  # noqa: S102
    return scope


def sdk(server, workspace: str = WORKSPACE) -> Honcho:
    return Honcho(base_url=server.url, workspace_id=workspace, api_key=server.api_key, max_retries=0)


def facts(markdown: str) -> list[str]:
    return [line[2:].lower() for line in markdown.splitlines() if line.startswith("- ")]


# -- the seed's example --------------------------------------------------------------------


def test_seed_example_runs_through_the_official_sdk(seeded):
    """The block ran to the end: three peers, two sessions, three messages, all reasoned over."""
    honcho = seeded["honcho"]
    assert honcho.workspace_id == WORKSPACE
    assert sorted(p.id for p in honcho.peers()) == ["alice", "bob", "charlie"]
    assert sorted(s.id for s in honcho.sessions()) == ["game-session", "game-session-2"]
    assert [m.content for m in seeded["session"].messages()] == ["I had pancakes for breakfast.", "I prefer waffles."]
    assert all(isinstance(seeded[v], str) for v in ("honcho_view", "bob_view", "charlie_view"))


def test_views_read_before_reasoning_finished_leak_nothing(seeded):
    """Whatever the seed's lines saw mid-reasoning, no fact was in the wrong view."""
    early = {name: facts(view) for name, view in seeded["early"].items()}
    assert early["honcho_view"] == []
    assert not any(w in f for f in early["bob_view"] for w in ("lied", "waffles", "didn't have"))
    assert not any(w in f for f in early["charlie_view"] for w in ("waffles", "pancakes"))


def test_alice_view_of_bob_holds_only_session_one(seeded):
    bob_view = facts(seeded["bob_view"])
    assert any("pancakes" in f for f in bob_view), seeded["bob_view"]
    assert all("bob" in f and "game-session-2" not in f for f in bob_view), seeded["bob_view"]
    assert not any(word in f for f in bob_view for word in ("lied", "waffles", "didn't have")), seeded["bob_view"]
    assert "alice's view of bob" in seeded["bob_view"]


def test_alice_view_of_charlie_in_session_two(seeded):
    charlie_view = facts(seeded["charlie_view"])
    assert any("lied to bob" in f for f in charlie_view), seeded["charlie_view"]
    # stored in the third person: "I didn't have breakfast" becomes "charlie did not have breakfast"
    assert any("did not have breakfast" in f for f in charlie_view), seeded["charlie_view"]
    # session2.representation(...) sends session_id=game-session-2: session one's waffles stay out
    assert not any("waffles" in f or "pancakes" in f for f in charlie_view), seeded["charlie_view"]
    # across both sessions alice witnessed charlie say both things, and nothing of bob's
    everything = facts(seeded["alice"].representation(target="charlie"))
    assert any("waffles" in f for f in everything) and any("lied" in f for f in everything), everything
    assert not any("pancakes" in f for f in everything), everything


def test_self_views(seeded):
    """alice never spoke: Honcho's view of alice holds nothing, and nothing she heard others say."""
    assert facts(seeded["honcho_view"]) == [], seeded["honcho_view"]
    assert facts(seeded["alice"].representation()) == []
    bob_self = facts(seeded["bob"].representation())
    assert any("pancakes" in f for f in bob_self) and not any("waffles" in f or "lied" in f for f in bob_self)
    charlie_self = facts(seeded["charlie"].representation())
    assert any("waffles" in f for f in charlie_self) and any("lied" in f for f in charlie_self)
    assert not any("pancakes" in f for f in charlie_self)


def test_conclusions_carry_their_observer_and_session(seeded, server):
    honcho = sdk(server)
    alice_bob = honcho.peer("alice").conclusions_of("bob").list()
    assert alice_bob.total >= 1
    assert {(c.observer_id, c.observed_id, c.session_id) for c in alice_bob} == {("alice", "bob", "game-session")}
    everyone = list(honcho.conclusions.list(filters={"session_id": {"in": ["game-session", "game-session-2"]}}))
    pairs = {(c.observer_id, c.observed_id) for c in everyone}
    assert pairs == {("bob", "bob"), ("alice", "bob"), ("charlie", "charlie"), ("alice", "charlie")}
    bob_never_heard_charlie = honcho.peer("bob").conclusions_of("charlie").list()
    assert bob_never_heard_charlie.total == 0


# -- chat, with and without target ------------------------------------------------------------


def test_chat_without_target_reads_alice_self_view(seeded):
    alice, session = seeded["alice"], seeded["session"]
    answer = alice.chat(QUESTION, session=session.id, include_evidence=True)
    assert isinstance(answer.content, str) and answer.content
    # the self-view is empty; what alice read is the session's recent messages she witnessed
    assert answer.evidence.conclusions == []
    assert {m.peer_id for m in answer.evidence.messages} == {"bob", "charlie"}
    assert {m.session_id for m in answer.evidence.messages} == {"game-session"}
    plain = alice.chat(QUESTION, session=session.id)
    assert isinstance(plain, str) and plain


def test_chat_with_target_reads_only_alice_view_of_bob(seeded):
    alice, session = seeded["alice"], seeded["session"]
    answer = alice.chat(QUESTION, session=session.id, target="bob", include_evidence=True)
    read = answer.evidence.conclusions
    assert read and {(c.observer_id, c.observed_id) for c in read} == {("alice", "bob")}
    assert any("pancakes" in c.content for c in read)
    assert not any("lied" in c.content or "waffles" in c.content for c in read)
    as_string = alice.chat(QUESTION, session=session.id, target="bob")
    assert isinstance(as_string, str) and as_string


def test_chat_stream_sends_the_same_answer(seeded):
    alice, session = seeded["alice"], seeded["session"]
    whole = alice.chat(QUESTION, session=session.id, target="bob")
    stream = alice.chat_stream(QUESTION, session=session.id, target="bob")
    pieces = list(stream)
    assert len(pieces) >= 1 and "".join(pieces) == whole


def test_chat_about_a_peer_never_witnessed_knows_nothing(seeded, server):
    bob = sdk(server).peer("bob")
    answer = bob.chat("What did charlie say?", target="charlie", include_evidence=True)
    assert answer.content == "I don't know."
    assert answer.evidence.conclusions == [] and answer.evidence.messages == []


# -- the rest of the surface agents use --------------------------------------------------------


def test_peer_metadata_configuration_and_card(seeded, server):
    honcho = sdk(server)
    carol = honcho.peer("carol", metadata={"role": "npc"})
    assert carol.metadata == {"role": "npc"}
    carol.set_metadata({"role": "boss"})
    assert honcho.peer("carol").get_metadata() == {"role": "boss"}
    assert honcho.peer("carol").get_configuration().observe_me is True
    card = honcho.peer("alice").get_card(target="bob")
    assert card and any("pancakes" in line for line in card)
    assert honcho.peer("alice").get_card() is None
    context = honcho.peer("alice").context(target="bob")
    assert context.target_id == "bob" and "pancakes" in (context.representation or "")


def test_sessions_membership_and_peer_config(seeded, server):
    honcho = sdk(server)
    room = honcho.session("room", metadata={"topic": "tea"}, peers=["alice", ("dave", SessionPeerConfig(observe_others=True))])
    assert room.metadata == {"topic": "tea"} and room.is_active
    assert [p.id for p in room.peers()] == ["alice", "dave"]  # dave was created on the way in
    assert room.get_peer_configuration("dave").observe_others is True
    room.add_peers("erin")
    room.remove_peers("alice")
    assert [p.id for p in room.peers()] == ["dave", "erin"]
    room.set_peers(["erin", "frank"])
    assert sorted(p.id for p in room.peers()) == ["erin", "frank"]
    room.set_peer_configuration("erin", SessionPeerConfig(observe_me=False))
    config = room.get_peer_configuration("erin")
    assert config.observe_me is False and config.observe_others is False
    assert "room" in [s.id for s in honcho.peer("dave").sessions()]
    active = honcho.sessions(filters={"metadata": {"topic": "tea"}})
    assert [s.id for s in active] == ["room"]
    room.set_metadata({"topic": "coffee"})
    assert room.get_metadata() == {"topic": "coffee"}
    room.delete()
    with pytest.raises(NotFoundError):
        room.get_peer_configuration("erin")


def test_messages_pages_get_update_and_search(seeded, server):
    honcho = sdk(server)
    chat = honcho.session("long-chat")
    gina = honcho.peer("gina")
    sent = chat.add_messages([gina.message(f"note number {i}", metadata={"i": i}) for i in range(7)])
    assert [m.content for m in sent] == [f"note number {i}" for i in range(7)]
    assert [p.id for p in chat.peers()] == ["gina"]  # a sender joins as it speaks
    first = chat.messages(size=3)
    assert first.total == 7 and first.pages == 3 and len(first) == 3
    assert [m.content for m in chat.messages(size=3)] == [f"note number {i}" for i in range(7)]  # iterates all pages
    newest = chat.messages(size=2, reverse=True)
    assert [m.content for m in newest.items] == ["note number 6", "note number 5"]
    assert [m.content for m in chat.messages(filters={"metadata": {"i": 4}})] == ["note number 4"]
    got = chat.get_message(sent[2].id)
    assert got.content == "note number 2" and got.metadata == {"i": 2}
    updated = chat.update_message(sent[2], {"i": 2, "starred": True})
    assert updated.metadata == {"i": 2, "starred": True} and updated.content == "note number 2"
    hits = chat.search("number 3", limit=3)
    assert hits and all(h.session_id == "long-chat" for h in hits)
    assert [h.peer_id for h in honcho.peer("bob").search("pancakes")] == ["bob"]
    assert any(h.content == "I had pancakes for breakfast." for h in honcho.search("pancakes"))
    with pytest.raises(NotFoundError):
        seeded["session"].get_message(sent[0].id)  # exists, but in another session


def test_session_context_and_summaries(seeded, server):
    honcho = sdk(server)
    session = honcho.session("game-session")
    context = session.context(tokens=500, peer_target="bob", peer_perspective="alice")
    assert [m.content for m in context.messages] == ["I had pancakes for breakfast.", "I prefer waffles."]
    assert "pancakes" in (context.peer_representation or "") and "lied" not in context.peer_representation
    prompt = context.to_openai(assistant="alice")
    assert [m["content"] for m in prompt[-2:]] == ["I had pancakes for breakfast.", "I prefer waffles."]
    plain = session.context()
    assert plain.peer_representation is None and len(plain.messages) == 2
    summaries = session.summaries()
    assert summaries.id == "game-session" and summaries.short_summary is None  # 2 messages: none due yet


def test_conclusions_create_query_get_delete(seeded, server):
    honcho = sdk(server)
    view = honcho.peer("alice").conclusions_of("charlie")
    made = view.create([{"content": "charlie plays the oboe", "session_id": "game-session-2"}])
    assert [c.content for c in made] == ["charlie plays the oboe"] and made[0].session_id == "game-session-2"
    found = view.query("oboe", top_k=3)
    assert found and found[0].id == made[0].id
    assert view.get(made[0].id).content == "charlie plays the oboe"
    assert [c.id for c in view.get_many([made[0].id])] == [made[0].id]
    view.delete(made[0].id)
    with pytest.raises(NotFoundError):
        view.get(made[0].id)
    with pytest.raises(ConflictError):  # deleted for good: not written back
        view.create([{"content": "charlie plays the oboe", "session_id": "game-session-2"}])


def test_queue_status_scoped(seeded, server):
    honcho = sdk(server)
    by_session = honcho.queue_status(session="game-session-2")
    assert by_session.total_work_units == 1 and by_session.completed_work_units == 1
    by_observer = honcho.queue_status(observer="alice")
    assert by_observer.total_work_units == 3  # alice witnessed all three messages
    assert honcho.queue_status(sender="bob").total_work_units == 1


def test_workspaces_list_metadata_and_delete(server):
    honcho = sdk(server, "scratch")
    honcho.peer("x")
    honcho.set_metadata({"team": "a"})
    assert honcho.get_metadata() == {"team": "a"}
    assert "scratch" in list(sdk(server).workspaces())
    page = sdk(server).workspaces(size=1)
    assert page.size == 1 and page.total >= 3
    sdk(server).delete_workspace("scratch")
    assert "scratch" not in list(sdk(server).workspaces())


def test_errors_reach_the_sdk_as_its_exception_types(seeded, server):
    honcho = sdk(server)
    with pytest.raises(NotFoundError) as missing:
        honcho.peer("alice").representation(target="nobody")
    assert missing.value.status == 404 and "nobody" in missing.value.message
    with pytest.raises(UnprocessableEntityError):
        honcho.peer("alice").representation(session="no spaces allowed")
    with pytest.raises(UnprocessableEntityError):
        honcho.session("game-session").set_configuration({"reasoning": {"enabled": False}})
    with pytest.raises(NotFoundError):
        honcho.session("game-session").clone(message_id="no-such-message")
    with pytest.raises(NotFoundError):
        sdk(server, "never-made")._http.get(f"/v3/workspaces/never-made/queue/status")


def test_the_sdk_reads_the_url_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("HONCHO_URL", server.url)
    monkeypatch.setenv("HONCHO_WORKSPACE_ID", "from-env")
    monkeypatch.delenv("HONCHO_API_KEY", raising=False)
    honcho = Honcho()
    assert honcho.base_url == server.url
    honcho.peer("zed")
    assert [p.id for p in honcho.peers()] == ["zed"]
    assert os.environ["HONCHO_URL"].startswith("http://127.0.0.1:")
