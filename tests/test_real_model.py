"""The real reasoning path end to end: llama.cpp chat model, MiniLM embeddings, LanceDB.

The seed's scenario is loaded by the fixture script, `honcho deriver run` reasons in its
own process with a real model, and the store is then read as a user would. The
test-size model (SmolLM2-135M) invents and misreads, so its run is checked on what is
structural (everything completed, nothing in a forbidden view, the invariant); the
default model (Qwen2.5-Coder-0.5B) is checked on content. Skipped when the models are
not pulled (`honcho model pull smollm2-135m qwen2.5-coder-0.5b minilm-l6-v2`).
"""

from __future__ import annotations

import pytest
from deriver_support import assert_witness_invariant, collections, queue_rows

pytestmark = pytest.mark.model

EXPECTED = {("bob", "bob"), ("alice", "bob"), ("charlie", "charlie"), ("alice", "charlie")}
FORBIDDEN = {("alice", "alice"), ("bob", "charlie"), ("charlie", "bob"), ("bob", "alice"), ("charlie", "alice")}


def _need(*names: str) -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pytest.skip("llama-cpp-python is not installed")
    from honcho_cli.reasoning.model_files import is_present

    missing = [n for n in names if not is_present(n)]
    if missing:
        pytest.skip(f"not pulled: {', '.join(missing)}; run `honcho model pull {' '.join(missing)}`")


def _reason(run_cli, model: str) -> dict:
    code, out, err = run_cli("deriver", "run", "--json", env={"HONCHO_MODEL": model}, timeout=600)
    assert code == 0, (out, err)
    assert out["failed"] == 0 and out["failures"] == [], out
    return out


def _structure_holds(h, run_cli, model: str) -> dict:
    code, status, _ = run_cli("deriver", "status", env={"HONCHO_MODEL": model})
    assert code == 0
    assert status["completed_work_units"] == status["total_work_units"] > 0, status
    assert status["failed_work_units"] == 0 and status["recent_failures"] == []
    assert all(r["status"] == "completed" for r in queue_rows(h))
    views = collections(h, level=None)
    assert set(views) <= EXPECTED, set(views) - EXPECTED
    assert not set(views) & FORBIDDEN
    # alice heard bob only in game-session
    assert all(c["session_id"] == "game-session" for c in views.get(("alice", "bob"), []))
    assert_witness_invariant(h)
    return views


def test_test_size_model_reasons_over_the_seed_without_leaking(seed, h, run_cli):
    _need("smollm2-135m", "minilm-l6-v2")
    out = _reason(run_cli, "smollm2-135m")
    assert out["messages"] == 3
    views = _structure_holds(h, run_cli, "smollm2-135m")
    code, status, _ = run_cli("deriver", "status", env={"HONCHO_MODEL": "smollm2-135m"})
    stored = sum(len(v) for v in views.values())
    # whatever the small model said was either kept in a right view or dropped and counted
    assert status["facts_stored"] + status["facts_dropped_unsupported"] > 0
    assert (stored > 0) == (status["facts_stored"] > 0)
    for rows in views.values():
        for row in rows:
            assert row["content"].strip() and row["sources"]


def test_default_model_fills_each_view_and_breakfast_finds_the_pancakes(seed, h, run_cli):
    _need("qwen2.5-coder-0.5b", "minilm-l6-v2")
    # other things bob says, so that the search has something to rank against
    for text in ["My favourite football team is Arsenal.", "I am learning to play the guitar."]:
        code, _, err = run_cli("session", "add-message", "game-session", "--peer", "bob", text)
        assert code == 0, err
    _reason(run_cli, "qwen2.5-coder-0.5b")
    views = _structure_holds(h, run_cli, "qwen2.5-coder-0.5b")

    explicit = collections(h)
    assert set(explicit) == EXPECTED, {k: [c["content"] for c in v] for k, v in explicit.items()}
    assert any("pancake" in c["content"].lower() for c in explicit[("alice", "bob")])
    assert any("waffle" in c["content"].lower() for c in explicit[("alice", "charlie")])
    assert {c["session_id"] for c in explicit[("alice", "charlie")]} == {"game-session", "game-session-2"}
    assert len(explicit[("alice", "bob")]) >= 2, "the distractors left nothing to rank against"

    from honcho_cli.reasoning.embedding import load_embedder
    from honcho_cli.store.vectors import VectorIndex

    with load_embedder(h.settings) as embedder:
        query = [float(x) for x in embedder.embed(["breakfast"])[0]]
    hits = VectorIndex(h.settings.vectors_path).search(
        query, workspace_id=h.workspace, observer="alice", observed="bob", limit=5
    )
    by_id = {c["id"]: c["content"] for c in views[("alice", "bob")]}
    assert hits and all(i in by_id for i, _ in hits)
    assert "pancake" in by_id[hits[0][0]].lower(), [(by_id[i], d) for i, d in hits]
    # the search is scoped to the view: bob's self view has its own rows
    assert not set(by_id) & {c["id"] for c in views[("bob", "bob")]}
