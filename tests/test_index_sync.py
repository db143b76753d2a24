"""DuckDB and LanceDB, one truth: the index catches up on the normal path, reads stay exact
meanwhile, and `honcho doctor` tells a healthy store from a damaged one.

A process "killed between the two writes" is simulated by switching off the catch-up
that every writer runs after its commit: DuckDB then holds rows the index lacks (or
still has), exactly the state a kill at that point leaves.
"""

from __future__ import annotations

from deriver_support import make_deriver

CLI_ENV = {"HONCHO_MODEL": "test-double"}


def _vector_check(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "vector index")


def test_a_healthy_store_is_healthy_and_repair_removes_nothing(seed, run_cli):
    """The seed scenario, reasoned: its message vectors are not orphaned conclusion vectors."""
    code, _, _ = run_cli("deriver", "run", env=CLI_ENV)
    assert code == 0
    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 0, report
    assert _vector_check(report)["status"] == "ok" and _vector_check(report)["count"] == 0

    from honcho_cli import Honcho
    from honcho_cli.store.vectors import VectorIndex

    h = Honcho()
    before = VectorIndex(h.settings.vectors_path).all_ids()
    assert any(name.startswith("m_") and ids for name, ids in before.items()), "message vectors are indexed"
    code, report, _ = run_cli("doctor", "--repair", env=CLI_ENV)
    assert code == 0 and report["repaired"] == {}, report
    assert VectorIndex(h.settings.vectors_path).all_ids() == before


def _two_batches(h, monkeypatch):
    """Ten messages indexed normally, then ten whose catch-up "died" after the DuckDB commit."""
    from honcho_cli.reasoning.test_double import DeterministicTestEmbedder
    from honcho_cli.store import index_sync

    h.engine.use(embedder=DeterministicTestEmbedder())
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.create_session("s", peers=["alice", "bob"])
    h.set_peer_config("s", "alice", observe_others=True)
    topics = ["hiking", "cello", "pancakes", "Tahoe", "chess", "sailing", "ramen", "poetry", "tennis", "Lisbon",
              "violin", "waffles", "Denver", "karate", "jazz", "kayaks", "sushi", "novels", "golf", "Oslo"]
    for topic in topics[:10]:
        h.add_message("s", "bob", f"I really like {topic} a lot.")
    make_deriver(h, vectors=True).run()
    for topic in topics[10:]:
        h.add_message("s", "bob", f"I really like {topic} a lot.")
    with monkeypatch.context() as patch:
        patch.setattr(index_sync, "catch_up_after_write", lambda *a, **k: None)
        patch.setattr(index_sync, "catch_up", lambda *a, **k: index_sync.CaughtUp())
        stats = make_deriver(h, vectors=True).run()
    assert stats.units and stats.failed == 0
    with h.store.read() as conn:
        waiting = index_sync.pending_counts(conn)
    assert waiting["conclusions"] >= 10 and waiting["messages"] == 10
    return topics


def test_rows_the_index_lacks_are_searched_exactly_until_it_catches_up(h, monkeypatch, run_cli):
    from honcho_cli.core import conclusions
    from honcho_cli.store import index_sync

    topics = _two_batches(h, monkeypatch)

    def settled(ranking: list[tuple[str, float]]) -> tuple:
        """The distances in order, and the ids except those tied at the cut (either path may keep any of them)."""
        cut = ranking[-1][1] if ranking else None
        return [d for _, d in ranking], [(i, d) for i, d in ranking if d != cut]

    def ranked(query: str) -> tuple:
        view = h.representation("alice", "bob", search_query=query, search_top_k=6, max_conclusions=6)
        return settled([(c.id, round(c.distance, 4)) for c in view.conclusions])

    def message_ranked(query: str) -> tuple:
        return settled([(m.id, round(m.score, 4)) for m in h.search_messages(query, mode="semantic", limit=6)])

    queries = [f"likes {t}" for t in (topics[0], topics[12], topics[17], topics[5])]
    exact = {q: (ranked(q), message_ranked(q)) for q in queries}
    # force the index path, as for a store past EXACT_SCAN_MAX_ROWS or with an ANN index
    monkeypatch.setattr(conclusions, "EXACT_SCAN_MAX_ROWS", 0)
    from honcho_cli.store import vectors

    monkeypatch.setattr(vectors, "has_message_index", lambda *a: True)
    calls = {"index": 0}
    real_search = vectors.VectorIndex.search

    def counting(self, *args, **kwargs):
        calls["index"] += 1
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(vectors.VectorIndex, "search", counting)
    for q in queries:
        assert (ranked(q), message_ranked(q)) == exact[q], q
    assert calls["index"] == len(queries)

    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 0, report  # waiting rows are not damage
    check = _vector_check(report)
    assert check["status"] == "warn" and "waiting to be indexed" in check["detail"], check

    h.create_conclusion("bob", "alice", "Alice is tall.", embedder=h.embedder())  # any writer catches up
    with h.store.read() as conn:
        assert index_sync.pending_counts(conn) == {"conclusions": 0, "messages": 0, "removals": 0}
    for q in queries:
        assert (ranked(q), message_ranked(q)) == exact[q], q
    assert calls["index"] == 2 * len(queries)
    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 0 and _vector_check(report)["status"] == "ok", report


def test_deriver_run_catches_up_what_an_earlier_process_left(h, monkeypatch, run_cli):
    from honcho_cli.store import index_sync

    _two_batches(h, monkeypatch)
    code, _, _ = run_cli("deriver", "run", env=CLI_ENV)
    assert code == 0
    with h.store.read() as conn:
        assert index_sync.pending_counts(conn) == {"conclusions": 0, "messages": 0, "removals": 0}
    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 0 and _vector_check(report)["status"] == "ok", report


def test_doctor_finds_real_damage_and_repair_mends_only_that(h, monkeypatch, run_cli):
    """A vector removed behind honcho's back is missing; one added behind its back is orphaned."""
    import numpy as np

    from honcho_cli.store.vectors import VectorIndex, collection_table, messages_table

    _two_batches(h, monkeypatch)
    code, _, _ = run_cli("deriver", "run", env=CLI_ENV)
    assert code == 0
    index = VectorIndex(h.settings.vectors_path)
    before = index.all_ids()
    victim = sorted(before[collection_table(h.workspace, "alice", "bob")])[0]
    index.delete_from(collection_table(h.workspace, "alice", "bob"), [victim])
    stray = np.ones(384, dtype=np.float32) / np.sqrt(384)
    index.upsert_messages([("not-a-message", h.workspace, "s", "bob", stray)])
    code, report, _ = run_cli("doctor", env=CLI_ENV)
    assert code == 7, report
    assert "1 missing, 1 orphaned" in _vector_check(report)["detail"]
    code, report, _ = run_cli("doctor", "--repair", env=CLI_ENV)
    assert code == 0, report
    assert report["repaired"] == {"vectors_written": 1, "orphans_removed": 1}
    assert VectorIndex(h.settings.vectors_path).all_ids() == before
    assert "not-a-message" not in VectorIndex(h.settings.vectors_path).all_ids()[messages_table(h.workspace)]
