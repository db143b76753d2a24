"""A scope sees only what its sessions witnessed, and its copies keep the vector index in step.

Library level, real DuckDB file and LanceDB index, the deterministic test double reasoning.
A scope's view (the reserved peer `scope__<id>`) holds copies of self-view conclusions; each
copy must stand on messages sent in the scope's sessions only (its sources, its count, its
session), and a derived conclusion reaches it only if everything it stands on was said there.
"""

from __future__ import annotations

from deriver_support import make_deriver

from honcho_cli.core.conclusions import record_conclusion
from honcho_cli.store.index_sync import pending_counts


def _world(h):
    """bob tells about tomatoes in `garage` and about bees in `garden`; alice is in both."""
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.create_session("garden", ["alice", "bob"])
    h.create_session("garage", ["alice", "bob"])
    h.add_message("garage", "bob", "I grow tomatoes.")
    h.add_message("garden", "bob", "I keep bees.")
    make_deriver(h, vectors=True).run()


def _copies(h, scope: str, *, include_deleted: bool = False) -> list[dict]:
    with h.store.read() as conn:
        rows = conn.execute(
            f"""SELECT id, observed, content, level, session_id, source_message_ids, premise_ids, times_derived, deleted_at
                FROM conclusions WHERE workspace_id = ? AND observer = ?
                {'' if include_deleted else 'AND deleted_at IS NULL'} ORDER BY created_at, id""",
            [h.workspace, "scope__" + scope],
        ).fetchall()
    keys = ("id", "observed", "content", "level", "session_id", "sources", "premises", "times", "deleted_at")
    return [dict(zip(keys, r)) for r in rows]


def assert_scope_witnessed(h, scope: str) -> int:
    """Every copy stands only on messages its observed peer sent in the scope's sessions."""
    with h.store.read() as conn:
        members = {r[0] for r in conn.execute(
            "SELECT session_id FROM scope_sessions WHERE workspace_id = ? AND scope_id = ?", [h.workspace, scope]
        ).fetchall()}
        sent = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT id, session_id, peer_id FROM messages WHERE workspace_id = ?", [h.workspace]
        ).fetchall()}
    copies = _copies(h, scope, include_deleted=True)
    for copy in copies:
        where = f"copy {copy['id']} {copy['content']!r} of scope {scope}"
        if copy["sources"]:
            assert copy["times"] == len(copy["sources"]), where
        assert copy["session_id"] in members, where
        for message_id in copy["sources"]:
            session, sender = sent[message_id]
            assert session in members, f"{where}: source {message_id} was sent in {session}"
            assert sender == copy["observed"], where
    return len(copies)


def _index_caught_up(h) -> None:
    with h.store.read() as conn:
        assert pending_counts(conn) == {"conclusions": 0, "messages": 0, "removals": 0}


def test_a_scope_sees_what_was_said_in_its_sessions_and_nothing_said_elsewhere(h):
    _world(h)
    h.create_scope("yard", sessions=["garden"])
    assert [c["content"] for c in _copies(h, "yard")] == [c.content for c in h.list_conclusions(observer="bob", observed="bob")
                                                           if "bees" in c.content]
    assert assert_scope_witnessed(h, "yard") == 1
    _index_caught_up(h)  # copies written to LanceDB and marked so: reads need no exact-scan fallback

    # bees again, elsewhere: the self view counts it twice, the scope still once
    h.add_message("garage", "bob", "I keep bees.")
    # tomatoes, first said elsewhere, now said in the garden: the scope witnessed it
    h.add_message("garden", "bob", "I grow tomatoes.")
    make_deriver(h, vectors=True).run()
    own = {c.content: c for c in h.list_conclusions(observer="bob", observed="bob")}
    bees = next(c for text, c in own.items() if "bees" in text)
    tomatoes = next(c for text, c in own.items() if "tomatoes" in text)
    assert bees.times_derived == 2 and tomatoes.times_derived == 2 and tomatoes.session_id == "garage"

    view = h.representation("bob", scope="yard")
    said = {c.content: c for c in view.conclusions}
    assert set(said) == {bees.content, tomatoes.content}
    assert said[bees.content].times_derived == 1 and said[tomatoes.content].times_derived == 1
    assert said[tomatoes.content].session_id == "garden"
    assert assert_scope_witnessed(h, "yard") == 2
    _index_caught_up(h)

    # a session allowlist on the asking view follows the same rule: stated there, first or again
    allowed = h.representation("bob", sessions=["garden"])
    assert {c.content for c in allowed.conclusions} == {bees.content, tomatoes.content}
    h.add_message("garage", "bob", "I fix old bicycles.")
    make_deriver(h, vectors=True).run()
    assert {c.content for c in h.representation("bob", sessions=["garden"]).conclusions} == {bees.content, tomatoes.content}


def test_a_derived_conclusion_reaches_a_scope_only_if_all_it_stands_on_was_said_there(h):
    _world(h)
    h.add_message("garden", "bob", "I sell honey.")
    make_deriver(h, vectors=True).run()
    own = {c.content: c for c in h.list_conclusions(observer="bob", observed="bob")}
    bees = next(c for text, c in own.items() if "bees" in text)
    honey = next(c for text, c in own.items() if "honey" in text)
    tomatoes = next(c for text, c in own.items() if "tomatoes" in text)
    with h.store.write() as conn:  # as `deriver dream` writes them: sources are its premises' sources
        inside = record_conclusion(conn, h.workspace, "bob", "bob", "bob is a beekeeper who sells honey", level="deductive",
                                   session_id="garden", source_message_ids=[*bees.source_message_ids, *honey.source_message_ids],
                                   premise_ids=[bees.id, honey.id])
        across = record_conclusion(conn, h.workspace, "bob", "bob", "bob has a garden of tomatoes and bees", level="deductive",
                                   source_message_ids=[*bees.source_message_ids, *tomatoes.source_message_ids],
                                   premise_ids=[bees.id, tomatoes.id])
    h.create_scope("yard", sessions=["garden"])
    copies = {c["content"]: c for c in _copies(h, "yard")}
    assert set(copies) == {bees.content, honey.content, "bob is a beekeeper who sells honey"}
    deduction = copies["bob is a beekeeper who sells honey"]
    # its premises are the scope's own copies, not the self view's conclusions
    assert deduction["premises"] == [copies[bees.content]["id"], copies[honey.content]["id"]]
    assert across.id not in {c["id"] for c in _copies(h, "yard")} and inside.id not in deduction["premises"]
    assert assert_scope_witnessed(h, "yard") == 3

    # once the garage is in too, the deduction across both sessions is witnessed
    h.scope_add_sessions("yard", ["garage"])
    assert "bob has a garden of tomatoes and bees" in {c["content"] for c in _copies(h, "yard")}
    _index_caught_up(h)

    # the garage leaves: what stood on it goes, the rest stays
    out = h.scope_remove_session("yard", "garage")
    assert out["conclusions_removed"] == 2
    assert set(c["content"] for c in _copies(h, "yard")) == set(copies)
    _index_caught_up(h)


def test_deleting_a_session_takes_its_copies_out_of_every_scope(h):
    _world(h)
    h.create_scope("yard", sessions=["garden", "garage"])
    assert len(_copies(h, "yard")) == 2
    h.delete_session("garden")
    assert [s.id for s in h.scope_sessions("yard")] == ["garage"]
    assert [c["content"] for c in _copies(h, "yard", include_deleted=True)] == [
        c.content for c in h.list_conclusions(observer="bob", observed="bob") if "tomatoes" in c.content]
    assert "bees" not in h.representation("bob", scope="yard").markdown()
    assert assert_scope_witnessed(h, "yard") == 1
    _index_caught_up(h)


def test_a_scope_search_finds_its_copies_through_the_index(h):
    """The copies are in LanceDB (no exact-scan fallback needed) and a search by meaning finds them."""
    _world(h)
    h.create_scope("yard", sessions=["garden"])
    _index_caught_up(h)
    found = h.representation("bob", scope="yard", search_query="bees")
    assert [c.content for c in found.conclusions if "bees" in c.content], found
    assert all("tomatoes" not in c.content for c in found.conclusions)
