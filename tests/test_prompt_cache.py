"""Stored KV states of chat prompts: a later prompt (in this process or another) starts from
the longest stored prefix, and the answer is the one a full prefill gives. Real llama.cpp
on SmolLM2-135M (skipped when it is not pulled)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.model

SYSTEM = "You answer a question about a person using only the notes below. Answer in one short sentence."
NOTES = "\n".join(f"{i}. Bob mentioned detail number {i} about his garden, his dog and his work." for i in range(12))


def _prompt(question: str) -> str:
    return f"NOTES:\n{NOTES}\n\nQUESTION: {question}\nANSWER:"


@pytest.fixture(scope="module")
def model_path() -> Path:
    pytest.importorskip("llama_cpp")
    from honcho_cli.config import resolve_settings
    from honcho_cli.reasoning.model_files import is_present, resolve_chat_model

    if not is_present("smollm2-135m"):
        pytest.skip("not pulled: smollm2-135m; run `honcho model pull smollm2-135m`")
    return resolve_chat_model(resolve_settings(model="smollm2-135m"))


def _answer(model_path: Path, cache_dir: Path | None, question: str) -> tuple[str, int]:
    from honcho_cli.reasoning.llm import LlamaChatModel

    with LlamaChatModel(model_path, n_threads=1, prompt_cache_dir=cache_dir) as model:
        text = "".join(model.stream(SYSTEM, _prompt(question), max_tokens=16))
        return text, model.prompt_cache.restored_tokens if model.prompt_cache else 0


def test_a_new_process_starts_from_a_stored_prefix_and_answers_the_same(model_path, tmp_path):
    plain, _ = _answer(model_path, None, "Where does Bob work?")
    first, restored = _answer(model_path, tmp_path, "What does Bob like?")
    assert restored == 0, "nothing was stored yet"
    again, restored = _answer(model_path, tmp_path, "Where does Bob work?")
    assert restored > 100, "the shared instructions and notes came from the stored state"
    assert again == plain, "a restored prefix changes nothing in a greedy answer"
    entries = sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file())
    assert entries.count(".tokens") == entries.count(".state") >= 1


def test_a_broken_state_file_costs_the_saving_not_the_answer(model_path, tmp_path):
    plain, _ = _answer(model_path, None, "Where does Bob work?")
    _answer(model_path, tmp_path, "What does Bob like?")
    for state in tmp_path.rglob("*.state"):
        state.write_bytes(b"not a llama.cpp state")
    text, restored = _answer(model_path, tmp_path, "Where does Bob work?")
    assert (text, restored) == (plain, 0)


def test_old_entries_are_evicted_and_prefixes_of_newer_ones_dropped(model_path, tmp_path):
    from honcho_cli.reasoning.llm import LlamaChatModel

    with LlamaChatModel(model_path, n_threads=1, prompt_cache_dir=tmp_path) as model:
        model.prompt_cache.max_entries = 2
        for question in ("What does Bob like?", "Where does Bob work?", "Has Bob a dog?"):
            "".join(model.stream(SYSTEM, _prompt(question), max_tokens=4))
    assert len(list(tmp_path.rglob("*.tokens"))) == 2
    assert len(list(tmp_path.rglob("*.state"))) == 2
