"""The engine: one object per data directory owns its store, vectors and models, and is
the only place the embedding model is checked against the store's vectors."""

from __future__ import annotations

import threading
import time

import pytest

from honcho_cli.engine import Engine, LockedChat, LockedEmbedder
from honcho_cli.errors import ModelError


def _claim_for_another_model(h) -> None:
    """The store's vectors were made by a model this configuration does not use."""
    h.engine.claim_embedding_model("some-other-embedder.gguf", replace=True)


def test_clients_of_one_engine_share_its_store_and_loaded_models(h, monkeypatch):
    monkeypatch.setenv("HONCHO_MODEL", "test-double")
    from honcho_cli import Honcho

    engine = Engine.open(h.settings.data_dir)
    first = Honcho(engine=engine, workspace="default")
    other = first.in_workspace("elsewhere")
    assert other.engine is engine and other.store is engine.store and other.workspace == "elsewhere"
    assert first.chat_model() is other.chat_model() is engine.chat_model()
    assert first.embedder() is other.embedder() is engine.embedder()


def test_a_client_built_alone_gets_an_engine_of_its_own(h):
    from honcho_cli import Honcho

    again = Honcho(data_dir=h.settings.data_dir)
    assert again.engine is not h.engine
    assert again.store.path == h.store.path == h.settings.database_path


def test_cold_engine_hands_out_bare_models_warm_engine_makes_them_take_turns(h, monkeypatch):
    monkeypatch.setenv("HONCHO_MODEL", "test-double")
    cold = Engine.open(h.settings.data_dir)
    assert not isinstance(cold.chat_model(), LockedChat) and not isinstance(cold.embedder(), LockedEmbedder)

    warm = Engine.open(h.settings.data_dir, warm=True)
    try:
        assert isinstance(warm.chat_model(), LockedChat) and isinstance(warm.embedder(), LockedEmbedder)
        assert warm.chat_model() is warm.chat_model(), "loaded once, kept"
        # a model call in one thread holds the model: another thread's embedding waits for it
        from honcho_cli.reasoning.test_double import DeterministicTestModel

        order: list[str] = []
        entered = threading.Event()

        def slow(system, prompt, schema):
            entered.set()
            time.sleep(0.3)
            order.append("chat done")

        warm.use(chat=DeterministicTestModel(responder=slow))
        worker = threading.Thread(target=lambda: warm.chat_model().complete("s", "p", max_tokens=8))
        worker.start()
        assert entered.wait(5)
        warm.embedder().embed(["x"])
        order.append("embed done")
        worker.join()
        assert order == ["chat done", "embed done"]
    finally:
        warm.close()


def test_embedder_of_another_model_is_refused_once_the_store_has_vectors(h, monkeypatch):
    monkeypatch.setenv("HONCHO_EMBEDDING_MODEL", "test-double")
    h.create_peer("alice")
    _claim_for_another_model(h)
    fresh = Engine.open(h.settings.data_dir)
    with pytest.raises(ModelError) as caught:
        fresh.embedder()
    assert "reindex --reembed" in caught.value.message
    # an embedder handed in from outside is checked all the same
    from honcho_cli.reasoning.test_double import DeterministicTestEmbedder

    with pytest.raises(ModelError):
        Engine.open(h.settings.data_dir).use(embedder=DeterministicTestEmbedder()).embedder()


def test_conclusion_create_refuses_a_mismatched_embedding_model(h, run_cli):
    h.create_peer("alice")
    _claim_for_another_model(h)
    before = len(h.list_conclusions())
    r = run_cli("conclusion", "create", "Alice likes tea.", "--observer", "alice", "--observed", "alice",
                env={"HONCHO_EMBEDDING_MODEL": "test-double"})
    assert r.code == 6 and r.error_code == "MODEL_ERROR", r
    assert len(h.list_conclusions()) == before


def test_deriver_takes_its_models_from_the_engine_and_is_checked_there(h, monkeypatch):
    monkeypatch.setenv("HONCHO_MODEL", "test-double")
    from honcho_cli import Honcho
    from honcho_cli.reasoning.deriver import open_deriver

    engine = Engine.open(h.settings.data_dir)
    deriver = open_deriver(engine, workspace_id="default", with_vectors=False)
    # nothing is loaded until the deriver has something to read (an empty run costs no model load)
    assert engine._chat is None and engine._embedder is None
    assert deriver.chat.resolve() is engine.chat_model() and deriver.embedder.resolve() is engine.embedder()
    assert deriver.workspace_id == "default" and deriver.engine is engine
    # a client passed instead lends its engine and workspace
    client = Honcho(engine=engine, workspace="w2")
    assert open_deriver(client, with_vectors=False).workspace_id == "w2"

    _claim_for_another_model(h)
    with pytest.raises(ModelError):
        open_deriver(Engine.open(h.settings.data_dir), with_vectors=False)


def test_a_run_with_nothing_to_read_loads_no_model_and_no_vector_index(h, monkeypatch):
    monkeypatch.setenv("HONCHO_MODEL", "test-double")
    from honcho_cli.reasoning.deriver import open_deriver

    engine = Engine.open(h.settings.data_dir)
    stats = open_deriver(engine).run()
    assert stats.units == 0
    assert engine._chat is None and engine._embedder is None and engine.loaded_vectors() is None


def test_server_worker_reports_a_mismatched_embedding_model_instead_of_writing_vectors(h, monkeypatch):
    monkeypatch.setenv("HONCHO_MODEL", "test-double")
    from honcho_cli.server.worker import ReasoningWorker

    h.create_peer("bob")
    h.create_session("s", ["bob"])
    h.add_message("s", "bob", "I had pancakes for breakfast.")
    _claim_for_another_model(h)
    engine = Engine.open(h.settings.data_dir, warm=True)
    worker = ReasoningWorker(engine, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while worker.state["last_error"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        engine.close()
    assert worker.state["last_error"] and worker.state["last_error"].startswith("MODEL_ERROR"), worker.state
    assert h.list_conclusions() == []
    assert h.deriver_status()["completed_work_units"] == 0, "nothing was reasoned with the wrong embedder"


def test_reembedding_switches_the_store_to_the_configured_model(h, monkeypatch):
    monkeypatch.setenv("HONCHO_EMBEDDING_MODEL", "test-double")
    from honcho_cli import Honcho
    from honcho_cli.doctor import reindex

    h.create_peer("alice")
    _claim_for_another_model(h)
    fresh = Honcho(data_dir=h.settings.data_dir)
    reindex(fresh, reembed=True)
    assert fresh.embedder() is not None
    assert Engine.open(h.settings.data_dir).embedder() is not None, "a new process accepts it too"
