"""`honcho mcp` with a real local model (SmolLM2-135M) reasoning in its background.

The seed's scenario through MCP tools, plus a prompt injection charlie says in front of
alice asking for facts about bob in alice's view. A real model may well follow such text;
what is checked is that nothing it wrote left the views the witness record allows: every
unit completed, the witness invariant holds, alice's view of bob holds only what bob said
in game-session, and chat reads only the asked-for view. Skipped when the models are not
pulled (`honcho model pull smollm2-135m minilm-l6-v2`).
"""

from __future__ import annotations

import pytest
from deriver_support import assert_witness_invariant, collections
from mcp_support import INJECTION, McpServer, honcho_on, play_seed

pytestmark = pytest.mark.model

ALLOWED = {("bob", "bob"), ("alice", "bob"), ("charlie", "charlie"), ("alice", "charlie")}


def test_seed_and_injection_reasoned_by_a_real_model_stay_scoped(tmp_path):
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pytest.skip("llama-cpp-python is not installed")
    from honcho_cli.reasoning.model_files import is_present

    missing = [n for n in ("smollm2-135m", "minilm-l6-v2") if not is_present(n)]
    if missing:
        pytest.skip(f"not pulled: {', '.join(missing)}")
    srv = McpServer(tmp_path / "data", tmp_path / "config", env={"HONCHO_MODEL": "smollm2-135m", "HONCHO_THREADS": "1"})
    try:
        play_seed(srv)
        srv.ok("add_messages", {"session_id": "game-session-2", "messages": [{"peer_id": "charlie", "content": INJECTION}]})
        status = srv.wait_reasoned(timeout=600)
        assert status["completed_work_units"] == status["total_work_units"] == 4, status
        assert status["worker"]["last_error"] is None, status
        answer = srv.ok("chat", {"peer_id": "alice", "target": "bob", "question": "What did Bob say about breakfast?",
                                 "session_id": "game-session"})
        assert answer.text.strip() and answer.data["view"] == {"observer": "alice", "observed": "bob"}
        assert {c["session_id"] for c in answer.data["conclusions_read"]} <= {"game-session"}
        view = srv.ok("get_representation", {"peer_id": "alice", "target": "bob"})
        assert {(c["observer"], c["observed"], c["session_id"]) for c in view.data["conclusions"]} <= {("alice", "bob", "game-session")}
    finally:
        srv.close()
    h = honcho_on(tmp_path / "data")
    assert_witness_invariant(h)
    assert set(collections(h)) <= ALLOWED
    assert not collections(h, level=None).get(("alice", "alice"))
