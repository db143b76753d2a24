"""The official SDK's newest surface against `honcho serve`, through the SDK's own calls:
scopes (CRUD, membership, status, `scope=` on representation, chat, context and search),
session allowlists, workspace-wide chat, `Peer.set_card` and `Session.clone`.

The test double reasons (so which conclusion reaches which view is deterministic); the
assertions are about what each bounded read may and may not contain.
"""

from __future__ import annotations

import pytest
from server_support import Server, wait_drained

pytest.importorskip("honcho")
from honcho import Honcho  # noqa: E402
from honcho.api_types import SessionPeerConfig  # noqa: E402
from honcho.http.exceptions import NotFoundError, UnprocessableEntityError  # noqa: E402

WS = "scopes"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-scopes")
    srv = Server(root / "data", root / "config")
    yield srv
    srv.stop_cleanly()


def sdk(server, workspace: str = WS) -> Honcho:
    return Honcho(base_url=server.url, workspace_id=workspace, max_retries=0)


@pytest.fixture(scope="module")
def world(server):
    """Bob talks about food in `kitchen` and about work in `office`; alice observes him in both."""
    h = sdk(server)
    alice, bob = h.peer("alice"), h.peer("bob")
    kitchen, office = h.session("kitchen"), h.session("office")
    for session in (kitchen, office):
        session.add_peers([alice, bob])
        session.set_peer_configuration(alice, SessionPeerConfig(observe_others=True))
    kitchen.add_messages([bob.message("I had pancakes for breakfast."), alice.message("I prefer waffles.")])
    office.add_messages([bob.message("I work as a carpenter in Leeds.")])
    wait_drained(h)
    return h


def contents(text: str) -> str:
    return text.lower()


def test_scope_crud_membership_and_status(world):
    h = world
    food = h.scope("food", metadata={"topic": "meals"})
    assert food.id == "food" and food.metadata == {"topic": "meals"}
    assert h.scope("food").metadata == {"topic": "meals"}  # get-or-create keeps it
    assert h.get_scope("food").created_at == food.created_at
    with pytest.raises(NotFoundError):
        h.get_scope("never-made")
    food.add_sessions(["kitchen"])
    food.add_sessions(["kitchen"])  # already a member: nothing changes
    assert [s.id for s in food.sessions()] == ["kitchen"]
    status = food.status()
    assert set(status) == {"kitchen"} and status["kitchen"].state == "completed"
    assert status["kitchen"].docs_copied == 2  # bob's pancakes and alice's waffles, from their self views
    assert "food" in [s.id for s in h.scopes()]
    assert all(not p.id.startswith("scope") for p in h.peers())  # the reserved peer is not a peer to users
    with pytest.raises(UnprocessableEntityError):
        h.peer("scope__food")
    with pytest.raises(NotFoundError):
        food.add_sessions(["no-such-session"])


def test_a_scope_sees_only_its_sessions_and_follows_them(world, server):
    h = world
    h.scope("meals").add_sessions(["kitchen"])
    bob = h.peer("bob")
    scoped = contents(bob.representation(scope="meals"))
    assert "pancakes" in scoped and "carpenter" not in scoped
    everything = contents(bob.representation())
    assert "pancakes" in everything and "carpenter" in everything

    # later reasoning in a member session reaches the scope's view; other sessions' does not
    h.session("kitchen").add_messages([bob.message("I drink black coffee every morning.")])
    h.session("office").add_messages([bob.message("I build oak tables.")])
    wait_drained(h)
    scoped = contents(bob.representation(scope="meals"))
    assert "coffee" in scoped and "oak" not in scoped

    # the scope's view through the session context, and search within the scope's sessions
    context = h.session("kitchen").context(peer_target="bob", scope="meals")
    assert "pancakes" in contents(context.peer_representation) and "carpenter" not in contents(context.peer_representation)
    found = h.search("carpenter breakfast", scope="meals")
    assert found and {m.session_id for m in found} == {"kitchen"}

    # leaving takes the session's copies with it
    h.scope("meals").remove_session("kitchen")
    assert "pancakes" not in contents(bob.representation(scope="meals"))
    assert h.scope("meals").status() == {}


def test_chat_through_a_scope_reads_only_its_sessions(world):
    h = world
    h.scope("work").add_sessions(["office"])
    answer = h.peer("bob").chat("What does bob do for a living?", scope="work", include_evidence=True)
    assert answer.evidence.conclusions, answer
    assert {c.session_id for c in answer.evidence.conclusions} == {"office"}
    assert {m.session_id for m in answer.evidence.messages} <= {"office"}


def test_several_scopes_or_a_session_allowlist_keep_to_explicit_facts_in_those_sessions(world):
    h = world
    h.scope("a").add_sessions(["kitchen"])
    h.scope("b").add_sessions(["office"])
    alice = h.peer("alice")
    both = contents(alice.representation(target="bob", scope=["a", "b"]))
    assert "pancakes" in both and "carpenter" in both
    kitchen_only = contents(alice.representation(target="bob", sessions=["kitchen", "kitchen"]))
    assert "pancakes" in kitchen_only and "carpenter" not in kitchen_only
    two = contents(alice.representation(target="bob", sessions=["kitchen", "office"]))
    assert "pancakes" in two and "carpenter" in two
    with pytest.raises(ValueError):  # the SDK refuses these before sending them
        alice.representation(target="bob", scope="a", session="kitchen")


def test_workspace_wide_chat_reads_every_peer(world):
    h = world
    result = h.chat("Who works as a carpenter?", include_evidence=True)
    observers = {c.observer_id for c in result.evidence.conclusions}
    assert observers and observers <= {"alice", "bob"}  # self views only, never a directional or scope view
    assert any("carpenter" in c.content for c in result.evidence.conclusions)
    streamed = "".join(h.chat_stream("Who had pancakes?"))
    assert streamed.strip()


def test_set_card_replaces_the_derived_card_until_cleared(world):
    alice = world.peer("alice")
    derived = alice.get_card(target="bob")
    assert derived and any("pancakes" in fact for fact in derived)
    assert alice.set_card(["bob is a carpenter", "bob likes pancakes"], target="bob") == ["bob is a carpenter", "bob likes pancakes"]
    assert alice.get_card(target="bob") == ["bob is a carpenter", "bob likes pancakes"]
    assert alice.get_card() != alice.get_card(target="bob")  # only that view's card was set
    alice.set_card([], target="bob")
    assert alice.get_card(target="bob") == derived


def test_clone_copies_members_and_messages_without_reasoning_again(world):
    h = world
    kitchen = h.session("kitchen")
    before = h.queue_status().total_work_units
    whole = kitchen.clone()
    assert whole.id != "kitchen"
    assert [m.content for m in whole.messages()] == [m.content for m in kitchen.messages()]
    assert sorted(p.id for p in whole.peers()) == ["alice", "bob"]
    first = list(kitchen.messages())[0]
    head = kitchen.clone(message_id=first.id)
    assert [m.content for m in head.messages()] == [first.content]
    assert h.queue_status().total_work_units == before


def test_a_session_created_with_scopes_joins_them(world):
    h = world
    h.session("lunch", scopes=["midday"])
    assert [s.id for s in h.get_scope("midday").sessions()] == ["lunch"]
