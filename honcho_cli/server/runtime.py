"""What one server process shares between its request threads and its reasoning worker.

DuckDB caches one database instance per file per process, and a process cannot hold
the file read-only and read-write at once (nor should two of its threads update the
same rows concurrently). The CLI never meets this, being one thread; the server is
many. So every store use in this process goes through one lock and one connection,
held for the short transaction each client method already makes — never while a model
thinks — and the file itself is let go whenever the server is idle, and every few seconds
under load (SerializedStore), so other processes (`honcho deriver run`, `honcho message
add`, ...) keep using the same data directory while the server is up.

The models are loaded once per process and shared the same way: a llama.cpp model
is not safe to call from two threads at once, so each call holds the model's lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from honcho_cli.client import Honcho
from honcho_cli.core.validation import check_id
from honcho_cli.errors import HonchoError
from honcho_cli.store.database import open_with_retry, transaction
from honcho_cli.store.store import Store

if TYPE_CHECKING:
    from honcho_cli.config import Settings


class SerializedStore(Store):
    """A `Store` whose transactions, across all threads of this process, take turns on one
    connection that is kept open only while requests keep coming.

    Opening the DuckDB file costs ~15 ms and closing it after writes a checkpoint, ~100 ms:
    per request, that would be most of the server's time. So the connection stays open
    between transactions, and a janitor thread closes it once the store has been idle for
    `idle_seconds`, or, under sustained load, after `hold_seconds` — then it keeps the
    file free for `yield_seconds` so another process's waiting command (its retry back-off
    is at most ~0.4 s) gets its turn. The file is never held while a model thinks: the
    deriver's model calls are outside any transaction, and a reasoning pass alone leaves the
    store idle.
    """

    def __init__(
        self,
        path,
        lock_timeout: float = 60.0,
        *,
        idle_seconds: float = 0.05,
        hold_seconds: float = 2.0,
        yield_seconds: float = 0.5,
    ) -> None:
        super().__init__(path, lock_timeout=lock_timeout)
        self.lock = threading.RLock()
        self.idle_seconds = idle_seconds
        self.hold_seconds = hold_seconds
        self.yield_seconds = yield_seconds
        self._conn: Any = None
        self._opened_at = 0.0
        self._last_used = 0.0
        self._closing = threading.Event()
        self._janitor: threading.Thread | None = None

    def _connection(self) -> Any:
        if self._conn is None:
            if not self._migrated:
                self._ensure_schema()
            self._conn = open_with_retry(self.path, read_only=False, timeout=self.lock_timeout)
            self._opened_at = time.monotonic()
            if self._janitor is None or not self._janitor.is_alive():
                self._janitor = threading.Thread(target=self._release_loop, name="honcho-store-janitor", daemon=True)
                self._janitor.start()
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self.lock:
            conn = self._connection()
            try:
                with transaction(conn):
                    yield conn
            except HonchoError:
                raise
            except BaseException:
                self._drop()  # a DuckDB failure may have invalidated the connection: start afresh
                raise
            finally:
                self._last_used = time.monotonic()

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self._transaction() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self._transaction() as conn:
            yield conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken; the file lock goes with it
                pass

    def _release_loop(self) -> None:
        while not self._closing.wait(min(self.idle_seconds, 0.05)):
            with self.lock:
                if self._conn is None:
                    continue
                now = time.monotonic()
                if now - self._last_used >= self.idle_seconds:
                    self._drop()
                elif now - self._opened_at >= self.hold_seconds:
                    self._drop()
                    time.sleep(self.yield_seconds)  # holding the lock: this process stays off the file

    def close(self) -> None:
        self._closing.set()
        with self.lock:
            self._drop()


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

    def close(self) -> None:
        self.store.close()

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
