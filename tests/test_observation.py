"""Who may learn from a message: the seed's scoping rules, fixed when the message is written.

The witness table (`message_witnesses`) and the deriver queue are read straight from the
store: they are what the reasoning layer will later consume, so they must already hold
exactly the (observer, observed) pairs the seed allows and nothing more.
"""

from __future__ import annotations

from helpers import queued, witnesses


def _setup(h, session="s", members=("alice", "bob"), observers=("alice",)):
    for peer in members:
        h.create_peer(peer)
    h.create_session(session, peers=list(members))
    for peer in observers:
        h.set_peer_config(session, peer, observe_others=True)


# -- the seed's scenario ----------------------------------------------------------


def test_seed_scenario_gives_alice_bob_from_one_session_and_charlie_from_both(seed, h):
    assert witnesses(h) == {
        # Honcho's own views: every sender is observed by itself
        ("bob", "bob", "game-session", "I had pancakes for breakfast."),
        ("charlie", "charlie", "game-session", "I prefer waffles."),
        ("charlie", "charlie", "game-session-2", "I didn't have breakfast. I lied to Bob."),
        # alice observes others: bob only where she heard him, charlie in both sessions
        ("alice", "bob", "game-session", "I had pancakes for breakfast."),
        ("alice", "charlie", "game-session", "I prefer waffles."),
        ("alice", "charlie", "game-session-2", "I didn't have breakfast. I lied to Bob."),
    }
    pairs = {(observer, observed) for observer, observed, _, _ in witnesses(h)}
    assert ("alice", "alice") not in pairs  # alice said nothing
    assert ("bob", "charlie") not in pairs and ("charlie", "bob") not in pairs  # they do not observe others
    assert queued(h) == {
        ("game-session", "bob", "I had pancakes for breakfast."),
        ("game-session", "charlie", "I prefer waffles."),
        ("game-session-2", "charlie", "I didn't have breakfast. I lied to Bob."),
    }


# -- no retroactive witnesses ---------------------------------------------------------


def test_peer_joining_late_gets_no_earlier_messages(h):
    _setup(h, members=("alice", "bob"), observers=())
    h.create_peer("carol")
    h.set_peer_config("s", "carol", observe_others=True)  # configured before joining
    h.add_message("s", "bob", "before carol joined")
    h.add_peers("s", ["carol"])
    h.add_message("s", "bob", "after carol joined")

    carol_saw = {content for observer, _, _, content in witnesses(h) if observer == "carol"}
    assert carol_saw == {"after carol joined"}


def test_turning_observe_others_on_later_adds_nothing_for_earlier_messages(h):
    _setup(h, observers=())
    h.add_message("s", "bob", "said while alice was not observing")
    assert not any(observer == "alice" for observer, *_ in witnesses(h))

    h.set_peer_config("s", "alice", observe_others=True)
    assert not any(observer == "alice" for observer, *_ in witnesses(h))  # nothing backfilled
    h.add_message("s", "bob", "said while alice observes")

    alice_saw = {content for observer, _, _, content in witnesses(h) if observer == "alice"}
    assert alice_saw == {"said while alice observes"}


def test_turning_observe_others_off_stops_new_witnessing_but_keeps_the_old(h):
    _setup(h)
    h.add_message("s", "bob", "heard")
    h.set_peer_config("s", "alice", observe_others=False)
    h.add_message("s", "bob", "not heard")
    alice_saw = {content for observer, _, _, content in witnesses(h) if observer == "alice"}
    assert alice_saw == {"heard"}


def test_leaving_stops_new_witnessing_and_rejoining_resumes_with_the_same_settings(h):
    _setup(h)
    h.add_message("s", "bob", "one")
    h.remove_peers("s", ["alice"])
    h.add_message("s", "bob", "two")
    h.add_peers("s", ["alice"])  # observe_others survives the leave
    h.add_message("s", "bob", "three")

    alice_saw = {content for observer, _, _, content in witnesses(h) if observer == "alice"}
    assert alice_saw == {"one", "three"}
    assert h.get_peer_config("s", "alice").observe_others is True


def test_observers_are_scoped_to_their_session(h):
    _setup(h, session="s1")
    h.create_session("s2", peers=["bob"])  # alice is not in s2
    h.add_message("s1", "bob", "in s1")
    h.add_message("s2", "bob", "in s2")
    alice_saw = {content for observer, _, _, content in witnesses(h) if observer == "alice"}
    assert alice_saw == {"in s1"}
    bob_self = {content for observer, observed, _, content in witnesses(h) if observer == observed == "bob"}
    assert bob_self == {"in s1", "in s2"}  # Honcho's view of bob spans every session


# -- observe_me: session > peer > default ----------------------------------------------


def test_sender_with_observe_me_off_is_observed_by_nobody(h):
    _setup(h)
    h.update_peer("bob", observe_me=False)
    h.add_message("s", "bob", "unobserved")
    h.add_message("s", "alice", "observed")  # alice still observes herself

    assert witnesses(h) == {("alice", "alice", "s", "observed")}
    assert queued(h) == {("s", "alice", "observed")}


def test_session_setting_beats_peer_setting_for_who_witnesses(h):
    _setup(h)
    # peer says no, session says yes -> observed
    h.update_peer("bob", observe_me=False)
    h.set_peer_config("s", "bob", observe_me=True)
    h.add_message("s", "bob", "session says observe")
    # peer says yes (default), session says no -> not observed
    h.update_peer("bob", observe_me=True)
    h.set_peer_config("s", "bob", observe_me=False)
    h.add_message("s", "bob", "session says do not observe")
    # override dropped -> the peer's setting (yes) applies again
    h.set_peer_config("s", "bob", clear_observe_me=True)
    h.add_message("s", "bob", "peer setting again")

    about_bob = {(observer, content) for observer, observed, _, content in witnesses(h) if observed == "bob"}
    assert about_bob == {
        ("bob", "session says observe"),
        ("alice", "session says observe"),
        ("bob", "peer setting again"),
        ("alice", "peer setting again"),
    }


def test_a_session_override_applies_only_in_that_session(h):
    _setup(h, session="s1")
    h.create_session("s2", peers=["alice", "bob"])
    h.set_peer_config("s2", "alice", observe_others=True)
    h.set_peer_config("s1", "bob", observe_me=False)
    h.add_message("s1", "bob", "private in s1")
    h.add_message("s2", "bob", "public in s2")
    assert {content for *_, content in witnesses(h)} == {"public in s2"}


def test_effective_observe_me_follows_session_then_peer_then_default(run_cli):
    assert run_cli("peer", "create", "alice").code == 0
    assert run_cli("session", "create", "s", "--peers", "alice").code == 0

    code, cfg, _ = run_cli("session", "get-peer-config", "s", "alice")
    assert code == 0
    assert cfg["observe_me"] is None and cfg["effective_observe_me"] is True  # default
    assert cfg["observe_others"] is False  # default

    assert run_cli("peer", "config", "alice", "--no-observe-me").out == {"id": "alice", "observe_me": False}
    cfg = run_cli("session", "get-peer-config", "s", "alice").out
    assert cfg["observe_me"] is None and cfg["effective_observe_me"] is False  # peer beats default

    cfg = run_cli("session", "set-peer-config", "s", "alice", "--observe-me").out
    assert cfg["observe_me"] is True and cfg["effective_observe_me"] is True  # session beats peer
    assert run_cli("session", "get-peer-config", "s", "alice").out["effective_observe_me"] is True

    cfg = run_cli("session", "set-peer-config", "s", "alice", "--inherit-observe-me", "--observe-others").out
    assert cfg["observe_me"] is None and cfg["effective_observe_me"] is False and cfg["observe_others"] is True


def test_queue_holds_one_item_per_observed_message_whatever_the_number_of_observers(h):
    _setup(h, members=("alice", "bob", "carol"), observers=("alice", "carol"))
    h.add_message("s", "bob", "hello both")
    assert {(observer, observed) for observer, observed, *_ in witnesses(h)} == {
        ("bob", "bob"), ("alice", "bob"), ("carol", "bob")
    }
    assert queued(h) == {("s", "bob", "hello both")}


def test_an_observer_is_not_a_second_witness_of_its_own_messages(h):
    _setup(h)
    h.add_message("s", "alice", "alice speaks")
    assert witnesses(h) == {("alice", "alice", "s", "alice speaks")}


def test_batch_import_witnesses_follow_the_same_rules(h):
    _setup(h, members=("alice", "bob", "carol"))
    h.update_peer("carol", observe_me=False)
    h.add_messages("s", [
        {"peer": "bob", "content": "b1"},
        {"peer": "carol", "content": "c1"},
        {"peer": "alice", "content": "a1"},
    ])
    assert witnesses(h) == {
        ("bob", "bob", "s", "b1"), ("alice", "bob", "s", "b1"),
        ("alice", "alice", "s", "a1"),
    }


def test_a_peer_joining_inside_an_import_witnesses_only_from_its_first_message_on(h):
    _setup(h)
    h.create_peer("carol")
    h.set_peer_config("s", "carol", observe_others=True)  # configured while not a member
    h.add_messages("s", [
        {"peer": "bob", "content": "before carol"},
        {"peer": "carol", "content": "carol arrives"},
        {"peer": "bob", "content": "after carol"},
    ], join=True)
    carol_saw = {content for observer, _, _, content in witnesses(h) if observer == "carol"}
    assert carol_saw == {"carol arrives", "after carol"}
    alice_saw = {content for observer, _, _, content in witnesses(h) if observer == "alice"}
    assert alice_saw == {"before carol", "carol arrives", "after carol"}
