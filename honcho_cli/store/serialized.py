"""A store held open by a long-lived process (`honcho serve`, `honcho mcp`) and shared by its threads.

DuckDB caches one database instance per file per process, and a process cannot hold
the file read-only and read-write at once (nor should two of its threads update the
same rows concurrently). A CLI command never meets this, being one thread that opens
the file for each unit of work; a server is many threads serving many requests. So
every store use in such a process goes through one lock and one connection, held for
the short transaction each client method already makes, never while a model thinks,
and the file is let go whenever the process is idle, and every few seconds under load,
so other processes (`honcho deriver run`, `honcho session add-message`, ...) keep
using the same data directory meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from honcho_cli.errors import DiskFull, HonchoError
from honcho_cli.store.database import WriterTurn, open_with_retry, transaction
from honcho_cli.store.store import Store


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
        self._turn = WriterTurn(self.path)
        self._opened_at = 0.0
        self._last_used = 0.0
        self._closing = threading.Event()
        self._janitor: threading.Thread | None = None

    def _connection(self) -> Any:
        if self._conn is None:
            if not self._migrated:
                self._ensure_schema()
            self._turn.acquire(self.lock_timeout)  # held as long as the connection is open
            try:
                self._conn = open_with_retry(self.path, read_only=False, timeout=self.lock_timeout)
            except BaseException:
                self._turn.release()
                raise
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
                with transaction(conn, self.path):
                    yield conn
            except DiskFull:
                self._drop()  # DuckDB may have invalidated the instance: open afresh once there is room
                raise
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
            self._turn.release()

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
