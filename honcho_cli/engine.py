"""The engine of one data directory: its store, its vector index and its loaded models.

Whatever needs a data directory's heavy parts asks its Engine: the `Honcho` client,
the deriver, `honcho serve`, `honcho mcp`. Each part is opened on first use, so a
command that never embeds never loads a model or imports LanceDB.

- cold (a CLI command): built, used once, dropped. The store opens the DuckDB file per
  unit of work, so other processes share it freely.
- warm (`Engine(settings, warm=True)`, for `serve` and `mcp`): kept for the process's
  life. Models load once and stay loaded, with their KV cache, so a second question
  re-reads only what is new. The DuckDB connection stays open between requests, and
  threads take turns on it and on the models.

It is also the one place where the embedding model is checked against the vectors
already in the store: vectors of two models cannot be compared.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.store.store import Store

if TYPE_CHECKING:
    from honcho_cli.config import Settings
    from honcho_cli.reasoning.interfaces import ChatModel, Embedder
    from honcho_cli.store.vectors import VectorIndex


class Engine:
    """One data directory's store, vector index and models; see the module docstring."""

    def __init__(self, settings: Settings, *, warm: bool = False) -> None:
        self.settings = settings
        self.warm = warm
        if warm:
            from honcho_cli.store.serialized import SerializedStore

            self.store: Store = SerializedStore(settings.database_path, lock_timeout=settings.lock_timeout)
        else:
            self.store = Store(settings.database_path, lock_timeout=settings.lock_timeout)
        self._load_lock = threading.RLock()  # the embedder and the vector index
        self._chat_lock = threading.Lock()  # apart, so the two models can load at the same time
        self._model_lock = threading.Lock()  # llama.cpp models are not safe to call from two threads at once
        self._chat: Any = None
        self._embedder: Any = None
        self._embedder_checked = False
        self._vectors: VectorIndex | None = None
        self._loading: list[threading.Thread] = []

    @classmethod
    def open(cls, data_dir: str | Path | None = None, *, warm: bool = False, **settings: Any) -> Engine:
        """The engine of `data_dir` (else the configured one); `settings` as for resolve_settings."""
        from honcho_cli.config import resolve_settings

        return cls(resolve_settings(data_dir=data_dir, **settings), warm=warm)

    # -- models ------------------------------------------------------------------------

    def chat_model(self) -> ChatModel:
        """The configured chat model, loaded on first use and kept."""
        with self._chat_lock:
            if self._chat is None:
                from honcho_cli.reasoning.backends import load_chat

                self._chat = self._shared(load_chat(self.settings), LockedChat)
            return self._chat

    def embedder(self) -> Embedder:
        """The configured embedding model, once it is known to match the store's vectors.

        The store records which model made its vectors and refuses another (ModelError,
        naming `honcho reindex --reembed`, which switches a store over).
        """
        with self._load_lock:
            embedder = self.unchecked_embedder()
            if not self._embedder_checked:
                from honcho_cli.reasoning.backends import embedder_identity

                self.claim_embedding_model(embedder_identity(embedder))
                self._embedder_checked = True
            return embedder

    def check_embedding_model(self) -> None:
        """The check `embedder()` makes, without loading the model: for work that may never
        need it, but must be refused up front if it would write the wrong vectors."""
        with self._load_lock:
            if not self._embedder_checked:
                from honcho_cli.reasoning.backends import configured_embedder_identity

                self.claim_embedding_model(configured_embedder_identity(self.settings))
                self._embedder_checked = True

    def unchecked_embedder(self) -> Embedder:
        """The embedding model without the check against the store: only for re-embedding
        everything, after which `claim_embedding_model(..., replace=True)`."""
        with self._load_lock:
            if self._embedder is None:
                from honcho_cli.reasoning.backends import load_embedder

                self._embedder = self._shared(load_embedder(self.settings), LockedEmbedder)
            return self._embedder

    def use(self, *, chat: Any = None, embedder: Any = None) -> Engine:
        """Hand the engine models loaded elsewhere (tests, benchmarks). An embedder given
        here is still checked against the store when first asked for."""
        with self._chat_lock, self._load_lock:
            if chat is not None:
                self._chat = self._shared(chat, LockedChat)
            if embedder is not None:
                self._embedder = self._shared(embedder, LockedEmbedder)
                self._embedder_checked = False
        return self

    def preload(self, *, chat: bool = True, embedder: bool = True) -> None:
        """Start loading the models, each in a thread of its own, while the caller does
        other work (llama.cpp loads outside the GIL). A model that fails to load here fails
        again, with its error, where it is asked for."""

        def load(get: Any) -> None:
            try:
                get()
            except Exception:  # noqa: BLE001 - reported by the caller's own call
                pass

        for wanted, get in ((chat, self.chat_model), (embedder, self.unchecked_embedder)):
            if wanted:
                thread = threading.Thread(target=load, args=(get,), name="honcho-model-load", daemon=True)
                thread.start()
                self._loading.append(thread)

    def settle(self) -> None:
        """Wait for preloads still running (before a process exits with a model half loaded)."""
        for thread in self._loading:
            thread.join()
        self._loading.clear()

    def loaded_chat_model(self) -> ChatModel | None:
        """The chat model if it is already loaded, without loading it."""
        return self._chat

    def claim_embedding_model(self, identity: str, *, replace: bool = False) -> None:
        """Record `identity` as the model of the store's vectors; refuse a different one
        unless `replace` (every vector has just been recomputed with it)."""
        from honcho_cli.errors import ModelError

        with self.store.read() as conn:
            row = conn.execute("SELECT value FROM store_meta WHERE key = 'embedding_model'").fetchone()
        if row is not None and row[0] == identity and not replace:
            return
        if row is not None and not replace:
            raise ModelError(
                f"this store's vectors were made with {row[0]}, but the configured embedding model is {identity}; "
                f"configure {row[0]} again, or re-embed everything with `honcho reindex --reembed`",
                store_model=row[0],
                configured=identity,
            )
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO store_meta VALUES ('embedding_model', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [identity],
            )
        if replace:
            self._embedder_checked = self._embedder is not None

    def _shared(self, model: Any, locked: type) -> Any:
        """Warm engines serve several threads: their model calls take turns."""
        if not self.warm or isinstance(model, locked):
            return model
        return locked(model, self._model_lock)

    # -- vectors -------------------------------------------------------------------------

    def vectors(self, dimensions: int | None = None) -> VectorIndex:
        """The data directory's LanceDB tables (imports LanceDB, ~1 s, on first use)."""
        from honcho_cli.reasoning.interfaces import EMBEDDING_DIMENSIONS

        dimensions = dimensions or EMBEDDING_DIMENSIONS
        with self._load_lock:
            if self._vectors is None or self._vectors.dimensions != dimensions:
                from honcho_cli.store.vectors import VectorIndex

                self._vectors = VectorIndex(self.settings.vectors_path, dimensions=dimensions)
            return self._vectors

    def loaded_vectors(self) -> VectorIndex | None:
        """The vector index if it is already open, without importing LanceDB."""
        return self._vectors

    # -- the end -----------------------------------------------------------------------------

    def close(self) -> None:
        """Let go of the store file and free the models; the engine may not be used after."""
        self.settle()
        close_store = getattr(self.store, "close", None)
        if close_store is not None:
            close_store()
        with self._chat_lock, self._load_lock:
            for model in (self._chat, self._embedder):
                close_model = getattr(model, "close", None)
                if close_model is not None:
                    close_model()
            self._chat = self._embedder = None
            self._embedder_checked = False

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LockedChat:
    """A chat model whose calls take turns; attributes pass through."""

    def __init__(self, model: Any, lock: threading.Lock) -> None:
        self._model = model
        self._lock = lock

    def complete_json(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            return self._model.complete_json(*args, **kwargs)

    def complete(self, *args: Any, **kwargs: Any) -> str:
        with self._lock:
            return self._model.complete(*args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        """Holds the lock until the stream ends: iterate it to the end in one thread."""
        with self._lock:
            yield from self._model.stream(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class LockedEmbedder:
    """An embedder whose calls take turns with every other model call of the engine."""

    def __init__(self, model: Any, lock: threading.Lock) -> None:
        self._model = model
        self._lock = lock

    def embed(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.embed(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
