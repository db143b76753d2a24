"""`honcho serve` with a real local model: the seed's SDK example, reasoned by SmolLM2-135M.

The test-size model invents and misreads, so what is checked is structure: every unit
completed, every conclusion in a view the seed allows and from a session the observer
witnessed, chat answers from the asked-for view only. Skipped when the models are not
pulled (`honcho model pull smollm2-135m minilm-l6-v2`).
"""

from __future__ import annotations

import pytest
from server_support import Server, seed_example, wait_drained

pytestmark = pytest.mark.model

ALLOWED = {("bob", "bob"), ("alice", "bob"), ("charlie", "charlie"), ("alice", "charlie")}


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pytest.skip("llama-cpp-python is not installed")
    from honcho_cli.reasoning.model_files import is_present

    missing = [n for n in ("smollm2-135m", "minilm-l6-v2") if not is_present(n)]
    if missing:
        pytest.skip(f"not pulled: {', '.join(missing)}")
    root = tmp_path_factory.mktemp("serve-model")
    srv = Server(root / "data", root / "config", env={"HONCHO_MODEL": "smollm2-135m"})
    yield srv
    srv.stop_cleanly()


def test_seed_example_reasoned_by_a_real_model(model_server):
    from honcho import Honcho

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HONCHO_URL", model_server.url)
        mp.setenv("HONCHO_WORKSPACE_ID", "seed-real")
        mp.delenv("HONCHO_API_KEY", raising=False)
        scope: dict = {}
        exec(compile(seed_example(), "representation-scopes.md", "exec"), scope)  # noqa: S102 - the seed's own code
        status = wait_drained(scope["honcho"], timeout=600)
    assert status.completed_work_units == status.total_work_units == 3, status
    assert model_server.health()["worker"]["last_error"] is None

    honcho = Honcho(base_url=model_server.url, workspace_id="seed-real")
    conclusions = list(honcho.conclusions.list())
    assert {(c.observer_id, c.observed_id) for c in conclusions} <= ALLOWED
    assert all(c.session_id == "game-session" for c in conclusions if (c.observer_id, c.observed_id) == ("alice", "bob"))
    in_session_two = {c.id for c in conclusions if c.session_id == "game-session-2"}
    assert all(c.observed_id == "charlie" for c in conclusions if c.id in in_session_two)

    honcho_view = scope["session"].representation("alice")
    assert not [line for line in honcho_view.splitlines() if line.startswith("- ")], honcho_view

    alice = honcho.peer("alice")
    answer = alice.chat("What did Bob say about breakfast?", session="game-session", target="bob", include_evidence=True)
    assert isinstance(answer.content, str) and answer.content.strip()
    assert {(c.observer_id, c.observed_id) for c in answer.evidence.conclusions} <= {("alice", "bob")}
    streamed = "".join(alice.chat_stream("What did Bob say about breakfast?", session="game-session", target="bob"))
    assert streamed.strip()
