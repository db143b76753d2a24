"""Chat completion on a local GGUF model through llama.cpp (llama-cpp-python).

Greedy decoding (temperature 0, fixed seed) so the same messages give the same
conclusions run after run. JSON answers are constrained by a grammar compiled from
the caller's schema, then checked against it, because a small model left free will
happily emit prose or an endless string.

llama-cpp-python keeps the KV cache of the previous call and re-evaluates only
the tokens after the longest common prefix; messages are therefore laid out as
[system, user] with the fixed instructions in `system` so that consecutive calls
share their longest possible prefix. Callers should keep per-call data out of
`system`.

Importing this module loads nothing heavy: llama_cpp is imported when a model is
constructed, so `honcho --help` stays fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import ModelError
from honcho_cli.reasoning.interfaces import Usage
from honcho_cli.reasoning.json_schema import schema_errors
from honcho_cli.reasoning.native import default_threads, load_llama, quiet_native_stderr

if TYPE_CHECKING:
    from honcho_cli.config import Settings

DEFAULT_SEED = 20240607


class LlamaChatModel:
    """One loaded chat model; reuse the object, loading costs 0.1-1.3 s.

    Not thread-safe: llama.cpp keeps one KV cache per object, so give each thread its
    own model (or serialise calls).
    """

    def __init__(
        self,
        path: str | Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = DEFAULT_SEED,
        *,
        prompt_cache_dir: Path | None = None,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - the dependency is declared
            raise ModelError(f"llama-cpp-python is not installed: {exc}") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} does not exist", path=str(self.path))
        threads = n_threads or default_threads()
        self._llama_cpp = llama_cpp
        self._grammars: dict[str, Any] = {}
        self.seed = seed
        self.usage = Usage()
        started = time.perf_counter()
        try:
            self._llm = load_llama(
                model_path=str(self.path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, seed=seed
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {self.path}: {exc}", path=str(self.path)) from None
        self.load_seconds = time.perf_counter() - started
        self.n_ctx = self._llm.n_ctx()
        self.prompt_cache = None
        self._previous_tokens: list[int] | None = None
        self._shared_start_stored = False
        if prompt_cache_dir is not None:
            from honcho_cli.reasoning.prompt_cache import PromptCache

            self.prompt_cache = PromptCache.for_model(prompt_cache_dir, self.path, self.n_ctx)

    # ------------------------------------------------------------------ public

    def complete_json(self, system: str, prompt: str, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        """A JSON object valid for `schema`, or ModelError.

        Keep the schema bounded (maxItems, maxLength): it is what stops a small model
        from writing until max_tokens and leaving unterminated JSON.
        """
        grammar = self._grammar(schema)
        response = self._chat(system, prompt, max_tokens, grammar=grammar)
        choice = response["choices"][0]
        text = (choice["message"].get("content") or "").strip()
        if not text:
            raise ModelError("the model returned an empty answer", model=self.path.name)
        try:
            data = json.loads(text)
        except ValueError:
            hint = " (cut off at max_tokens; raise it or bound the schema)" if choice.get("finish_reason") == "length" else ""
            raise ModelError(f"the model's answer is not valid JSON{hint}: {text[:200]!r}", model=self.path.name) from None
        problems = schema_errors(data, schema)
        if problems:
            raise ModelError(f"the model's JSON does not fit the schema: {'; '.join(problems[:3])}", model=self.path.name)
        if not isinstance(data, dict):
            raise ModelError("the model's JSON is not an object", model=self.path.name)
        return data

    def complete(
        self, system: str, prompt: str, max_tokens: int, *, examples: Sequence[tuple[str, str]] = ()
    ) -> str:
        """The answer to `prompt`; `examples` are earlier (question, answer) turns shown before it.

        Calls with examples are the deriver's, many in a row with the same start: the
        prompt cache keeps only that shared start (instructions and examples), once, not
        every line's prompt (which would also push the chat prompts out of the cache).
        """
        with self._prompt_cache(store=not examples):
            response = self._chat(system, prompt, max_tokens, examples=examples)
        if examples:
            self._keep_shared_start()
        return (response["choices"][0]["message"].get("content") or "").strip()

    def stream(self, system: str, prompt: str, max_tokens: int) -> Iterator[str]:
        """Yield text pieces as they are generated; `usage` is filled in at the end.

        Streamed chunks carry no token counts, so `usage` here is an estimate: one
        token per non-empty piece, the rest of the context counted as prompt.
        """
        started = time.perf_counter()
        before = self._llm.n_tokens
        pieces = 0
        try:
            with self._prompt_cache():
                chunks = self._llm.create_chat_completion(
                    messages=self._messages(system, prompt), max_tokens=max_tokens, stream=True, **self._sampling()
                )
                for chunk in chunks:
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        pieces += 1
                        yield delta
        except ValueError as exc:
            raise ModelError(f"llama.cpp rejected the request: {exc}", model=self.path.name) from None
        # Streaming responses carry no usage block; the context length after the call
        # is prompt + generated tokens (llama.cpp keeps them all in the KV cache).
        total = self._llm.n_tokens
        completion = min(pieces, total) if total >= before else pieces
        self.usage = Usage(max(total - completion, 0), completion, time.perf_counter() - started)

    def count_tokens(self, text: str) -> int:
        """Tokens `text` costs in this model's vocabulary, for prompt budgeting."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None

    def __enter__(self) -> LlamaChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _keep_shared_start(self) -> None:
        """Store, once, the start this call's tokens share with the previous call's."""
        cache, llm = self.prompt_cache, self._llm
        tokens = llm.input_ids[: llm.n_tokens].tolist()
        previous, self._previous_tokens = self._previous_tokens, tokens
        if cache is None or previous is None or self._shared_start_stored:
            return
        shared = 0
        for a, b in zip(previous, tokens):
            if a != b:
                break
            shared += 1
        if shared >= 64:  # instructions and examples, not a chance overlap
            llm._ctx.kv_cache_seq_rm(-1, shared, -1)
            llm.n_tokens = shared
            cache.store(llm)
            self._shared_start_stored = True

    @contextmanager
    def _prompt_cache(self, store: bool = True) -> Iterator[None]:
        """Within: llama.cpp's generation starts from the stored state sharing the longest
        prefix with its prompt, and what it ends with is stored (reasoning/prompt_cache.py).

        The hook is `Llama.generate`, which every completion calls with the exact prompt
        tokens after the chat template; the model's own prefix matching does the rest."""
        cache, llm = self.prompt_cache, self._llm
        if cache is None:
            yield
            return
        original = llm.generate

        def generate(tokens: Any, *args: Any, **kwargs: Any) -> Iterator[int]:
            cache.restore(llm, list(tokens))
            try:
                yield from original(tokens, *args, **kwargs)
            finally:
                if store:
                    cache.store(llm)

        llm.generate = generate
        try:
            yield
        finally:
            del llm.generate  # the class's own again

    @staticmethod
    def _messages(system: str, prompt: str, examples: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": system}]
        for asked, answered in examples:
            turns += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
        return turns + [{"role": "user", "content": prompt}]

    def _sampling(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": self.seed, "top_k": 1, "repeat_penalty": 1.0}

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            try:
                with quiet_native_stderr():
                    grammar = self._llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except (ValueError, RuntimeError, KeyError, TypeError) as exc:
                raise ModelError(f"the JSON schema could not be turned into a grammar: {exc}") from None
            self._grammars[key] = grammar
        return grammar

    def _chat(
        self, system: str, prompt: str, max_tokens: int, grammar: Any = None, examples: Sequence[tuple[str, str]] = ()
    ) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            response = self._llm.create_chat_completion(
                messages=self._messages(system, prompt, examples), max_tokens=max_tokens, grammar=grammar,
                **self._sampling(),
            )
        except ValueError as exc:  # e.g. "Requested tokens (N) exceed context window of M"
            raise ModelError(f"llama.cpp rejected the request: {exc}", model=self.path.name) from None
        usage = response.get("usage") or {}
        self.usage = Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), time.perf_counter() - started)
        return response


def load_chat_model(settings: Settings, **kwargs: Any) -> LlamaChatModel:
    """The configured chat model, loaded; ModelNotFound names the pull command if absent.

    Its chat prompts' KV states are kept under the user cache dir (`kv/`), or in the
    directory HONCHO_KV_CACHE names; HONCHO_KV_CACHE=0 keeps none."""
    import os

    from honcho_cli.config import cache_dir
    from honcho_cli.reasoning.model_files import resolve_chat_model

    where = os.environ.get("HONCHO_KV_CACHE", "").strip()
    if where.lower() not in ("0", "off", "false", "no"):
        kwargs.setdefault("prompt_cache_dir", Path(where) if where else cache_dir() / "kv")
    return LlamaChatModel(resolve_chat_model(settings), **kwargs)
