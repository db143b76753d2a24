"""What one server process shares between its request threads and its reasoning worker.

DuckDB caches one database instance per file per process, and a process cannot hold
the file read-only and read-write at once (nor should two of its threads update the
same rows concurrently). The CLI never meets this, being one thread; the server is
many. So every store use in this process goes through one lock, held only for the
short transaction each client method already makes — never while a model thinks.
Other processes (`honcho deriver run`, `honcho message add`, ...) still use the file
between those transactions, as they do with each other.

The models are loaded once per process and shared the same way: a llama.cpp model
is not safe to call from two threads at once, so each call holds the model's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from honcho_cli.client import Honcho
from honcho_cli.core.validation import check_id
from honcho_cli.store.store import Store

if TYPE_CHECKING:
    from honcho_cli.config import Settings


class SerializedStore(Store):
    """A `Store` whose transactions, across all threads of this process, take turns."""

    def __init__(self, path, lock_timeout: float = 60.0) -> None:
        super().__init__(path, lock_timeout=lock_timeout)
        self.lock = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.lock, super().write() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self.lock, super().read() as conn:
            yield conn


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
    def __init__(self, model: Any, lock: threading.Lock) -> None:
        self._model = model
        self._lock = lock

    def embed(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.embed(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class Runtime:
    """Settings, the serialized store and the lazily loaded, shared models."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SerializedStore(settings.database_path, lock_timeout=settings.lock_timeout)
        self._load_lock = threading.Lock()
        self._model_lock = threading.Lock()  # one model call at a time in this process
        self._chat: LockedChat | None = None
        self._embedder: LockedEmbedder | None = None

    def chat_model(self) -> LockedChat:
        with self._load_lock:
            if self._chat is None:
                from honcho_cli.reasoning.backends import load_chat

                self._chat = LockedChat(load_chat(self.settings), self._model_lock)
            return self._chat

    def embedder(self) -> LockedEmbedder:
        with self._load_lock:
            if self._embedder is None:
                from honcho_cli.reasoning.backends import load_embedder

                self._embedder = LockedEmbedder(load_embedder(self.settings), self._model_lock)
            return self._embedder

    def honcho(self, workspace_id: str) -> ServerHoncho:
        return ServerHoncho(self, workspace_id)


class ServerHoncho(Honcho):
    """The ordinary client on one workspace, using the process's shared store and models."""

    def __init__(self, runtime: Runtime, workspace_id: str) -> None:
        super().__init__(settings=runtime.settings)
        self.workspace = check_id("workspace", workspace_id)
        self.store = runtime.store
        self._runtime = runtime

    def in_workspace(self, workspace: str) -> ServerHoncho:
        return ServerHoncho(self._runtime, workspace)

    def embedder(self) -> Any:
        return self._runtime.embedder()

    def chat_model(self) -> Any:
        return self._runtime.chat_model()
