"""Deleting a message, a session or a workspace reaches everything drawn from it.

Conclusions are derived by the deterministic test double (the scripted one of
deriver_support: one fact per message of the target), so what each message produced
is known exactly. After each deletion: the message is gone from listing, full-text
and semantic search, its queue entries and vectors (DuckDB and LanceDB) are gone, the
conclusions it alone supported are tombstoned and stay so, the ones with other sources
keep those and lose the link, and `honcho doctor` finds nothing to repair.
"""

from __future__ import annotations

from deriver_support import make_deriver

CLI_ENV = {"HONCHO_MODEL": "test-double"}


def _lance_ids(h) -> dict[str, set[str]]:
    from honcho_cli.store.vectors import VectorIndex

    return VectorIndex(h.settings.vectors_path).all_ids()


def _all_lance_ids(h) -> set[str]:
    return set().union(*_lance_ids(h).values()) if h.settings.vectors_path.exists() else set()


def _queue_ids(h) -> set[str]:
    with h.store.read() as conn:
        return {r[0] for r in conn.execute("SELECT message_id FROM deriver_queue").fetchall()}


def _world(h):
    """bob speaks in s1 (alice observes) and says one thing again in s2; everything reasoned and indexed."""
    from honcho_cli.reasoning.test_double import DeterministicTestEmbedder

    h.engine.use(embedder=DeterministicTestEmbedder())  # searches embed with the model that made the vectors
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.create_session("s1", peers=["alice", "bob"])
    h.set_peer_config("s1", "alice", observe_others=True)
    h.create_session("s2", peers=["bob"])
    said = {
        "hike": h.add_message("s1", "bob", "I went hiking near Lake Tahoe."),
        "sister": h.add_message("s1", "bob", "My sister Ann plays the cello."),
        "hike_again": h.add_message("s2", "bob", "I went hiking near Lake Tahoe."),
    }
    stats = make_deriver(h, vectors=True).run()
    assert stats.failed == 0 and stats.stored >= 3
    return said


def _healthy(run_cli) -> dict:
    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 0, report
    vector = next(c for c in report["checks"] if c["name"] == "vector index")
    assert vector["status"] == "ok", vector
    return report


def test_message_delete_needs_yes_and_dry_run_changes_nothing(h, run_cli):
    said = _world(h)
    before = (h.list_conclusions(), _queue_ids(h), _all_lance_ids(h))
    code, _, err = run_cli("message", "delete", said["sister"].id)
    assert code == 4 and err["error"]["code"] == "CONFIRMATION_REQUIRED"
    code, out, _ = run_cli("message", "delete", said["sister"].id, "--dry-run")
    assert code == 0 and out["dry_run"] is True
    # the sister fact is in bob's self view and alice's view of bob: two conclusions would go
    assert out["deleted"] == {"messages": 1, "queue_entries": 1, "message_vectors": 1, "conclusions": 2,
                              "conclusions_unlinked": 0, "summaries": 0}
    assert (h.list_conclusions(), _queue_ids(h), _all_lance_ids(h)) == before
    assert h.get_message(said["sister"].id).content.startswith("My sister")
    code, _, err = run_cli("message", "delete", "no-such-message", "--yes")
    assert code == 3 and err["error"]["code"] == "MESSAGE_NOT_FOUND"
    code, _, err = run_cli("message", "delete", "bad id!", "--yes")
    assert code == 2


def test_message_delete_reaches_search_vectors_queue_and_conclusions(h, run_cli):
    said = _world(h)
    sister = said["sister"]
    sister_conclusions = [c for c in h.list_conclusions() if sister.id in c.source_message_ids]
    assert {c.observer for c in sister_conclusions} == {"alice", "bob"}
    assert [m.id for m in h.search_messages("cello", mode="fulltext")] == [sister.id]
    assert sister.id in {m.id for m in h.search_messages("sister Ann cello", mode="semantic", limit=3)}
    assert sister.id in _all_lance_ids(h) and sister.id in _queue_ids(h)

    code, out, _ = run_cli("message", "delete", sister.id, "--yes")
    assert code == 0 and out["deleted"]["conclusions"] == 2 and out["dry_run"] is False

    assert sister.id not in {m.id for m in h.list_messages()}
    assert h.search_messages("cello", mode="fulltext") == []
    assert sister.id not in {m.id for m in h.search_messages("sister Ann cello", mode="semantic", limit=10)}
    assert sister.id not in _queue_ids(h)
    lance = _all_lance_ids(h)
    assert sister.id not in lance
    assert not {c.id for c in sister_conclusions} & lance
    with h.store.read() as conn:
        assert conn.execute("SELECT count(*) FROM message_witnesses WHERE message_id = ?", [sister.id]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM message_embeddings WHERE message_id = ?", [sister.id]).fetchone()[0] == 0
    assert not [c for c in h.list_conclusions() if "cello" in c.content]
    _healthy(run_cli)

    # tombstoned: saying it again does not bring the conclusion back
    h.add_message("s1", "bob", "My sister Ann plays the cello.")
    make_deriver(h, vectors=True).run()
    assert not [c for c in h.list_conclusions() if "cello" in c.content]


def test_a_conclusion_with_another_source_keeps_it_and_loses_the_link(h, run_cli):
    said = _world(h)
    hiking = [c for c in h.list_conclusions(observer="bob", observed="bob") if "Tahoe" in c.content]
    assert len(hiking) == 1 and set(hiking[0].source_message_ids) == {said["hike"].id, said["hike_again"].id}
    assert hiking[0].times_derived == 2

    code, out, _ = run_cli("message", "delete", said["hike"].id, "--yes")
    # bob's own view keeps the fact (s2 said it too); alice heard it only in s1, so hers goes
    assert code == 0 and out["deleted"]["conclusions"] == 1 and out["deleted"]["conclusions_unlinked"] == 1
    after = h.get_conclusion(hiking[0].id)
    assert after.source_message_ids == [said["hike_again"].id]
    assert after.times_derived == 1
    # alice heard only the s1 message: her conclusion had that one source, so it went
    assert not [c for c in h.list_conclusions(observer="alice", observed="bob") if "Tahoe" in c.content]
    assert hiking[0].id in _all_lance_ids(h)
    _healthy(run_cli)


def test_session_delete_keeps_what_other_sessions_also_said(h, run_cli):
    said = _world(h)
    hiking = next(c for c in h.list_conclusions(observer="bob", observed="bob") if "Tahoe" in c.content)
    code, out, _ = run_cli("session", "delete", "s1", "--yes")
    assert code == 0
    assert out["deleted"]["messages"] == 2 and out["deleted"]["queue_entries"] == 2
    after = h.get_conclusion(hiking.id)
    assert after.source_message_ids == [said["hike_again"].id] and after.session_id == "s2"
    assert [c.content for c in h.list_conclusions()] == [after.content]  # only bob's self view of s2 remains
    assert _all_lance_ids(h) == {hiking.id, said["hike_again"].id}
    assert h.search_messages("cello", mode="fulltext") == []
    _healthy(run_cli)


def test_workspace_delete_drops_its_vector_tables(h, run_cli):
    _world(h)
    assert _lance_ids(h)
    code, out, _ = run_cli("workspace", "delete", "default", "--yes")
    assert code == 0 and out["deleted"]["messages"] == 3 and out["deleted"]["queue_entries"] == 3
    assert _lance_ids(h) == {}
    _healthy(run_cli)


def test_a_crash_before_the_index_follows_a_delete_changes_no_answer(h, run_cli, monkeypatch):
    """The delete commits in DuckDB, then the process dies before LanceDB is touched:
    searches must not return the deleted message, and the next writer cleans the index."""
    from honcho_cli.store import index_sync

    said = _world(h)
    sister = said["sister"]
    with monkeypatch.context() as patch:
        patch.setattr(index_sync, "catch_up_after_write", lambda *a, **k: None)  # "killed" right after the commit
        h.delete_message(sister.id)
    assert sister.id in _all_lance_ids(h), "the index still holds the deleted message's vector"
    with h.store.read() as conn:
        assert index_sync.pending_counts(conn)["removals"] >= 1
    semantic = {m.id for m in h.search_messages("sister Ann cello", mode="semantic", limit=10)}
    assert sister.id not in semantic
    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 0, report  # waiting work, not an inconsistency
    code, _, _ = run_cli("deriver", "run", env=CLI_ENV)
    assert code == 0
    assert sister.id not in _all_lance_ids(h)
    _healthy(run_cli)


def test_http_delete_message_route(tmp_path):
    """The route the SDK would call (it has none in honcho-ai 2.7; see docs/http-api.md)."""
    import httpx

    from server_support import Server

    srv = Server(tmp_path / "data", tmp_path / "config", args=("--no-worker",))
    try:
        assert httpx.post(f"{srv.url}/v3/workspaces/default/sessions", json={"id": "s"}, timeout=30).status_code in (200, 201)
        base = f"{srv.url}/v3/workspaces/default/sessions/s/messages"
        created = httpx.post(base, json={"messages": [{"peer_id": "bob", "content": "delete me"},
                                                      {"peer_id": "bob", "content": "keep me"}]}, timeout=30)
        assert created.status_code == 201, created.text
        doomed, kept = (m["id"] for m in created.json())
        gone = httpx.delete(f"{base}/{doomed}", timeout=30)
        assert gone.status_code == 200, gone.text
        assert gone.json()["deleted"]["messages"] == 1
        assert httpx.get(f"{base}/{doomed}", timeout=30).status_code == 404
        assert httpx.delete(f"{base}/{doomed}", timeout=30).status_code == 404
        listed = httpx.post(f"{base}/list", json={}, timeout=30).json()["items"]
        assert [m["id"] for m in listed] == [kept]
    finally:
        srv.stop_cleanly()
