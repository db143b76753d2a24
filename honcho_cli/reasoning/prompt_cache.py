"""KV states of earlier chat prompts kept on disk, so a new prompt skips the prefill of what it
shares with one of them.

Every chat prompt starts with the same instructions, and a second question to the same
view repeats much of the first one's material. On this CPU llama.cpp prefills ~100-250
tokens a second; reading back the KV cells of a few hundred tokens takes milliseconds.
llama.cpp writes one sequence's cells with the tokens they hold to a file and reads them
into a fresh context (llama_state_seq_save_file / _load_file), so the saving works
across processes: a cold `honcho chat` starts from the longest stored prefix of its
prompt, and a server whose model has since read other prompts (the deriver shares it)
gets its chat prefix back.

One directory per model file and context size (a state fits only the model and shape
that made it). An entry is `<key>.state` (llama.cpp's file) plus `<key>.tokens` (the
tokens, int32, written last: an entry without it is incomplete and ignored). Files are
written under a temporary name and renamed, so concurrent processes never read half a
file. The least recently used entries beyond `max_entries` are removed.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

MIN_GAIN_TOKENS = 16  # a stored prefix must beat what the context already holds by this much


class PromptCache:
    def __init__(self, directory: Path, *, max_entries: int = 8) -> None:
        self.directory = Path(directory)
        self.max_entries = max_entries
        self.restored_tokens = 0  # of the last restore, for benchmarks

    @classmethod
    def for_model(cls, root: Path, model_path: Path, n_ctx: int, **kwargs: Any) -> PromptCache:
        stat = model_path.stat()
        return cls(Path(root) / f"{model_path.name}-{stat.st_size}-ctx{n_ctx}", **kwargs)

    # -- finding -------------------------------------------------------------------------

    def _entries(self) -> list[tuple[Path, Any]]:
        import numpy as np

        found = []
        try:
            names = list(self.directory.glob("*.tokens"))
        except OSError:
            return []
        for tokens_path in names:
            try:
                found.append((tokens_path, np.fromfile(tokens_path, dtype=np.int32)))
            except OSError:  # removed meanwhile by another process
                continue
        return found

    @staticmethod
    def _shared(a: Any, b: Any) -> int:
        import numpy as np

        n = min(len(a), len(b))
        if n == 0:
            return 0
        differ = np.flatnonzero(a[:n] != b[:n])
        return int(differ[0]) if len(differ) else n

    def restore(self, llm: Any, prompt: list[int]) -> int:
        """Load the stored state sharing the longest prefix with `prompt` into `llm` (a
        llama_cpp.Llama) when it beats what the context holds; the tokens now reusable."""
        import numpy as np

        self.restored_tokens = 0
        wanted = np.asarray(prompt, dtype=np.int32)
        held = self._shared(np.asarray(llm.input_ids[: llm.n_tokens], dtype=np.int32), wanted)
        best, best_len = None, held + MIN_GAIN_TOKENS - 1
        for tokens_path, tokens in self._entries():
            shared = self._shared(tokens, wanted)
            if shared > best_len:
                best, best_len = tokens_path, shared
        if best is None:
            return held
        if self._load(llm, best.with_suffix(".state"), len(wanted)):
            os.utime(best)
            self.restored_tokens = llm.n_tokens
            return self._shared(np.asarray(llm.input_ids[: llm.n_tokens], dtype=np.int32), wanted)
        return held

    def _load(self, llm: Any, state_path: Path, capacity: int) -> bool:
        import ctypes

        import llama_cpp

        count = ctypes.c_size_t(0)
        size = max(capacity, llm.n_ctx())
        buffer = (llama_cpp.llama_token * size)()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        try:
            read = llama_cpp.llama_state_seq_load_file(llm._ctx.ctx, str(state_path).encode(), 0, buffer, size, ctypes.byref(count))
        except OSError:
            read = 0
        n = int(count.value)
        if read == 0 or n == 0:
            llm.n_tokens = 0  # the context was cleared: nothing in it is reusable now
            return False
        llm.input_ids[:n] = buffer[:n]
        llm.n_tokens = n
        llm._requires_eval = True  # no logits came with the cells: the last token is decoded again
        return True

    # -- keeping ---------------------------------------------------------------------------

    def store(self, llm: Any) -> None:
        """Keep what `llm`'s context holds now (prompt and answer) as an entry."""
        import ctypes

        import llama_cpp
        import numpy as np

        n = int(llm.n_tokens)
        if n < MIN_GAIN_TOKENS:
            return
        tokens = np.asarray(llm.input_ids[:n], dtype=np.int32)
        key = hashlib.sha1(tokens.tobytes()).hexdigest()[:24]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            final_tokens = self.directory / f"{key}.tokens"
            if final_tokens.exists():
                os.utime(final_tokens)
                return
            stamp = f".{os.getpid()}.{time.monotonic_ns()}.tmp"
            state_tmp = self.directory / f"{key}.state{stamp}"
            array = (llama_cpp.llama_token * n)(*tokens.tolist())
            if not llama_cpp.llama_state_seq_save_file(llm._ctx.ctx, str(state_tmp).encode(), 0, array, n):
                state_tmp.unlink(missing_ok=True)
                return
            os.replace(state_tmp, self.directory / f"{key}.state")
            tokens_tmp = self.directory / f"{key}.tokens{stamp}"
            tokens.tofile(tokens_tmp)
            os.replace(tokens_tmp, final_tokens)
            self._drop_covered(tokens, final_tokens)
            self._evict()
        except OSError:
            return  # a full or read-only disk costs the saving, never the answer

    def _drop_covered(self, tokens: Any, keep: Path) -> None:
        """An entry whose tokens are a prefix of the new one's adds nothing."""
        for tokens_path, other in self._entries():
            if tokens_path != keep and len(other) <= len(tokens) and self._shared(other, tokens) == len(other):
                self._remove(tokens_path)

    def _evict(self) -> None:
        entries = []
        for tokens_path in self.directory.glob("*.tokens"):
            try:
                entries.append((tokens_path.stat().st_mtime, tokens_path))
            except OSError:
                continue
        for _, tokens_path in sorted(entries, reverse=True)[self.max_entries :]:
            self._remove(tokens_path)

    @staticmethod
    def _remove(tokens_path: Path) -> None:
        tokens_path.unlink(missing_ok=True)  # first: without it the entry is no longer listed
        tokens_path.with_suffix(".state").unlink(missing_ok=True)
