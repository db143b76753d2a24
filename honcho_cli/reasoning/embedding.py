"""Sentence embeddings from a BERT-family GGUF through llama.cpp.

Vectors are mean-pooled over tokens and L2-normalised, so a dot product is the
cosine similarity the vector store ranks by. numpy and llama_cpp are imported when
an embedder is built, never at module import.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import ModelError
from honcho_cli.reasoning.interfaces import EMBEDDING_DIMENSIONS
from honcho_cli.reasoning.native import default_threads, load_llama

if TYPE_CHECKING:
    import numpy as np

    from honcho_cli.config import Settings


class LlamaEmbedder:
    """Embeds lists of texts; one instance per process is enough."""

    dimensions = EMBEDDING_DIMENSIONS

    def __init__(self, path: str | Path, n_ctx: int = 512, n_threads: int | None = None, token_budget: int = 64) -> None:
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - the dependency is declared
            raise ModelError(f"llama-cpp-python is not installed: {exc}") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"embedding model file {self.path} does not exist", path=str(self.path))
        threads = n_threads or default_threads()
        self.n_ctx = n_ctx
        self.token_budget = token_budget
        started = time.perf_counter()
        try:
            # A BERT forward pass sees a whole sequence at once, so the physical
            # batch (n_ubatch) must hold the longest text: make it the context size.
            self._llm = load_llama(
                model_path=str(self.path),
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                n_ctx=n_ctx,
                n_batch=n_ctx,
                n_ubatch=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load embedding model {self.path}: {exc}", path=str(self.path)) from None
        self.load_seconds = time.perf_counter() - started
        actual = self._llm.n_embd()
        if actual != self.dimensions:
            raise ModelError(f"{self.path.name} gives {actual}-dimensional vectors, the store expects {self.dimensions}")

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array of shape (len(texts), 384), each row of unit length.

        Texts longer than the context (512 word pieces) are truncated.
        """
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts")
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start, stop in self._groups(texts):
            try:
                vectors = self._llm.embed(list(texts[start:stop]), normalize=False, truncate=True)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"llama.cpp could not embed a batch: {exc}") from None
            out[start:stop] = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _groups(self, texts: list[str]) -> list[tuple[int, int]]:
        """Slices of `texts` to embed per llama.cpp call.

        Sequences in one call attend over the whole batch (masked), so the cost grows
        with the square of its total length: measured here, a few short texts per call
        beat both one-at-a-time and large batches, and a long text is best alone.
        """
        groups: list[tuple[int, int]] = []
        start, used = 0, 0
        for i, text in enumerate(texts):
            n = min(len(self._llm.tokenize(text.encode("utf-8"))), self.n_ctx)
            if i > start and used + n > self.token_budget:
                groups.append((start, i))
                start, used = i, 0
            used += n
        if start < len(texts):
            groups.append((start, len(texts)))
        return groups

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None

    def __enter__(self) -> LlamaEmbedder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_embedder(settings: Settings, **kwargs: Any) -> LlamaEmbedder:
    """The configured embedding model, loaded; ModelNotFound names the pull command if absent."""
    from honcho_cli.reasoning.model_files import resolve_embedding_model

    return LlamaEmbedder(resolve_embedding_model(settings), **kwargs)
