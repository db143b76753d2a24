"""A chat model wrapper for benchmarks: adds up what every call cost.

`prefilled_tokens` counts the prompt tokens llama.cpp actually evaluated: the tokens a
call shares with what the model's KV cache already held (the instructions and worked
examples every extraction call starts with) are reused, not read again, so the plain
prompt count would overstate what the deriver reads.
"""

from __future__ import annotations

from typing import Any


class CountingChat:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = self.prompt_tokens = self.completion_tokens = self.prefilled_tokens = 0
        self.model_seconds = 0.0
        self._cached: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _before(self) -> None:
        llm = getattr(self.inner, "_llm", None)
        self._cached = llm.input_ids[: llm.n_tokens].tolist() if llm is not None else []

    def _after(self) -> None:
        usage = self.inner.usage
        llm = getattr(self.inner, "_llm", None)
        reused = 0
        if llm is not None:
            for a, b in zip(self._cached, llm.input_ids[: llm.n_tokens].tolist()):
                if a != b:
                    break
                reused += 1
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.prefilled_tokens += max(usage.prompt_tokens - reused, 0)
        self.completion_tokens += usage.completion_tokens
        self.model_seconds += usage.seconds

    def complete(self, *args: Any, **kwargs: Any) -> str:
        self._before()
        out = self.inner.complete(*args, **kwargs)
        self._after()
        return out

    def complete_json(self, *args: Any, **kwargs: Any) -> Any:
        self._before()
        out = self.inner.complete_json(*args, **kwargs)
        self._after()
        return out

    def stream(self, *args: Any, **kwargs: Any):
        yield from self.inner.stream(*args, **kwargs)
