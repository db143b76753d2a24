"""Opening the DuckDB file briefly, with bounded retry, so many processes can share it.

DuckDB lets one process write a file at a time (readers share a lock among
themselves). Every command therefore opens the file, does its work in one
transaction and closes it; a process that finds the file locked waits with
jittered exponential back-off up to the configured timeout, then gives up with
STORE_BUSY instead of hanging or corrupting anything.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import DiskFull, HonchoError, StoreBusy, StoreUnusable

if TYPE_CHECKING:
    import duckdb

# the last: another thread of this process has the file open the other way (a lease's heartbeat
# writing while the deriver reads); it goes once that connection closes, like a lock
_LOCK_MARKERS = ("could not set lock", "conflicting lock", "database is locked", "lock on file", "unique file handle conflict")


_DISK_FULL_MARKERS = ("no space left on device", "disk quota exceeded")
# what DuckDB says of a file it cannot read: not a database at all, a damaged one, or a newer format
_UNUSABLE_MARKERS = ("not a valid duckdb database file", "corrupt database file", "version number")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _LOCK_MARKERS)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, whether raised as an OSError or reported in a DuckDB or LanceDB message."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _DISK_FULL_MARKERS)


def disk_full(path: Path | str) -> DiskFull:
    return DiskFull(
        f"the disk holding {path} is full: this command's changes were not kept "
        "(free some space and run it again)",
        path=str(path),
    )


def open_error(path: Path | str, exc: Exception) -> HonchoError:
    """Why a store file could not be opened, as the error the user sees (the file is left as it was)."""
    if is_disk_full(exc):
        return disk_full(path)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = str(exc).lower()
    if "newer version" in text or "version number" in text:
        return StoreUnusable(
            f"the store at {path} was written by a newer version of DuckDB than this honcho uses; "
            "upgrade honcho to open it (the file was left untouched)",
            path=str(path), reason=first_line,
        )
    if any(marker in text for marker in _UNUSABLE_MARKERS):
        return StoreUnusable(
            f"{path} is not a readable honcho store (not a DuckDB database, or damaged); "
            "the file was left untouched: point --data-dir elsewhere or move the file away",
            path=str(path), reason=first_line,
        )
    return HonchoError(f"cannot open the store at {path}: {exc}", path=str(path))


class WriterTurn:
    """Writers of one store take turns, first come first served, through files beside it.

    DuckDB's own lock cannot be waited on: a writer learns it is free only by trying to
    open the file, at a cost, so it backs off (up to ~0.25 s between tries), and whoever
    tries at the right moment wins. Under many writers that starves some of them past
    the lock timeout (16 processes adding messages in loops: 10 failed after 60 s; with
    equal chances at each turn, still 2 of 1,600 messages on a loaded machine). So a
    writer first queues: it creates `<store>.queue/<time>-<pid>-<random>`, locked for as
    long as it waits (the kernel unlocks it if the process dies, and the others then
    skip and remove it), and only the oldest live waiter tries `<store>.writers`, the
    turn itself, held until the write is over. Each try costs a system call, so the head
    of the queue tries every 2-3 ms; the others look at the queue every 20 ms (a write
    holds the turn far longer), so waiting costs little CPU. The lock timeout bounds how long the
    queue may stand still, not the whole wait: on a loaded machine one write can hold
    the turn for seconds, and 16 of them ahead would otherwise outlast 60 s while every
    one of them is making progress. Where the files cannot be made (a read-only or full
    data dir), writers rely on DuckDB's lock alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(str(path) + ".writers")
        self.queue = Path(str(path) + ".queue")
        self._handle = None

    def acquire(self, timeout: float) -> None:
        """Wait for the turn. `timeout` bounds how long the queue may stand still (the writer
        ahead, or the one holding the turn, taking that long), not the whole wait: behind
        a long queue that keeps moving, a writer waits its turn rather than failing."""
        import fcntl

        try:
            turn = open(self.path, "a+b")  # noqa: SIM115 - kept open while the turn is held
        except OSError:
            return
        name, ticket = self._queue_up()
        ahead = 0 if ticket is None else None  # not queued (no room for the file): just try
        deadline = time.monotonic() + timeout
        next_look = 0.0
        attempts = 0
        try:
            while True:
                now = time.monotonic()
                if ahead != 0 and now >= next_look:
                    still = self._waiting_ahead(name)
                    if ahead is not None and still < ahead:
                        deadline = now + timeout  # the queue moved
                    ahead = still
                    next_look = now + 0.02  # a write holds the turn far longer than this
                if ahead == 0:
                    attempts += 1
                    try:
                        fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        pass
                if now >= deadline:
                    turn.close()
                    raise StoreBusy(
                        f"the store at {str(self.path)[: -len('.writers')]} stayed locked: no other honcho writer "
                        f"ahead of this one got its turn or finished for {timeout:.0f}s",
                        path=str(self.path), attempts=attempts,
                    ) from None
                if ahead == 0:
                    time.sleep(0.002 + 0.001 * random.random())  # only the head of the queue tries this often
                else:
                    time.sleep(max(0.001, next_look - time.monotonic()))  # the rest sleep till their next look
        finally:
            if ticket is not None:
                (self.queue / name).unlink(missing_ok=True)
                ticket.close()
        self._handle = turn

    def _queue_up(self) -> tuple[str, Any]:
        """Take a place in the queue: a file named by arrival, locked while this writer waits.
        It is locked before it gets its name, so nobody can take it for a dead waiter's."""
        import fcntl

        name = f"{time.time_ns():020d}-{os.getpid():010d}-{random.getrandbits(32):08x}"
        try:
            self.queue.mkdir(exist_ok=True)
            ticket = open(self.queue / f".{name}", "a+b")  # noqa: SIM115 - closed when the turn comes
        except OSError:
            return name, None
        try:
            fcntl.flock(ticket, fcntl.LOCK_EX)
            os.rename(self.queue / f".{name}", self.queue / name)
        except OSError:
            ticket.close()
            (self.queue / f".{name}").unlink(missing_ok=True)
            return name, None
        return name, ticket

    def _waiting_ahead(self, name: str) -> int:
        """How many queued before this writer; the first of them is checked to be alive
        (a dead one's file is removed, and the next checked), the rest are just counted."""
        import fcntl

        while True:
            try:
                ahead = sorted(e for e in os.listdir(self.queue) if e < name and not e.startswith("."))
            except OSError:
                return 0
            if not ahead:
                return 0
            try:
                with open(self.queue / ahead[0], "rb") as first:
                    fcntl.flock(first, fcntl.LOCK_SH | fcntl.LOCK_NB)  # got it: nobody waits behind that name
            except BlockingIOError:
                return len(ahead)
            except OSError:
                continue  # removed meanwhile: its writer got the turn
            (self.queue / ahead[0]).unlink(missing_ok=True)

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()  # closing the only descriptor releases the lock


@contextmanager
def open_for_write(path: Path, *, timeout: float, threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection, opened in this process's turn among writers and closed after."""
    turn = WriterTurn(path)
    turn.acquire(timeout)
    try:
        conn = open_with_retry(path, read_only=False, timeout=timeout, threads=threads)
        try:
            yield conn
        finally:
            close_quietly(conn)
    finally:
        turn.release()


def open_with_retry(path: Path, *, read_only: bool, timeout: float, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    import duckdb

    config = {"threads": threads} if threads else {}

    deadline = time.monotonic() + timeout
    delay = 0.005
    attempts = 0
    while True:
        attempts += 1
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):  # not a DuckDB file, unreadable, ...: say so, no traceback
                raise open_error(path, exc) from None
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the store at {path} stayed locked by another honcho process for {timeout:.0f}s",
                    path=str(path),
                    attempts=attempts,
                ) from None
            time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)


class _ReadHost:
    """One in-memory DuckDB per process; store files are ATTACHed to it read-only for a read.

    `duckdb.connect(path)` builds a whole database instance (catalog of built-in
    functions, worker threads) and `close()` tears it down: 12 ms of CPU and, on a busy
    2-core machine, 100 ms of wall time per read. ATTACH on a live instance costs about
    2 ms, takes the same shared file lock, and DETACH releases it, so other processes can
    write between reads exactly as before. Threads reading the same file share one
    attachment (DuckDB refuses to attach a file twice); the last one out detaches it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._attached: dict[str, list] = {}  # path -> [alias, users]
        self._names = itertools.count()

    def _attach(self, path: Path, timeout: float) -> str:
        import duckdb

        if self._conn is None:
            # one thread: reads are point lookups and short scans, where handing work to a
            # second thread costs more than it saves (measured: 10-25% less CPU per read)
            self._conn = duckdb.connect(":memory:", config={"threads": 1})
        key = str(path)
        if key in self._attached:
            self._attached[key][1] += 1
            return self._attached[key][0]
        alias = f"store_{next(self._names)}"
        literal = "'" + key.replace("'", "''") + "'"
        deadline = time.monotonic() + timeout
        delay = 0.005
        attempts = 0
        while True:
            attempts += 1
            try:
                self._conn.execute(f"ATTACH {literal} AS {alias} (READ_ONLY)")
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise open_error(path, exc) from None
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"the store at {path} stayed locked by another honcho process for {timeout:.0f}s",
                        path=key,
                        attempts=attempts,
                    ) from None
                time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.25)
        self._attached[key] = [alias, 1]
        return alias

    def _detach(self, path: Path) -> None:
        key = str(path)
        entry = self._attached[key]
        entry[1] -= 1
        if entry[1] == 0:
            del self._attached[key]
            self._conn.execute(f"DETACH {entry[0]}")

    @contextmanager
    def reading(self, path: Path, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            alias = self._attach(path, timeout)
            cursor = self._conn.cursor()
        try:
            cursor.execute(f"USE {alias}")
            yield cursor
        finally:
            try:
                cursor.close()
            finally:
                with self._lock:
                    self._detach(path)


_READ_HOST = _ReadHost()


def read_attached(path: Path, *, timeout: float) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A read-only connection to the store file for one unit of work (see _ReadHost)."""
    return _READ_HOST.reading(path, timeout)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection, path: Path | str = "the store") -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a crash or an exception inside leaves the file as before.

    A full disk, inside the transaction or at its commit, becomes DiskFull: DuckDB has
    rolled the transaction back by then, so the store holds what it held before.
    """
    import duckdb

    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException as exc:
        try:
            conn.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the failure already ended the transaction
        if isinstance(exc, duckdb.Error) and is_disk_full(exc):
            raise disk_full(path) from None
        raise
    try:
        conn.execute("COMMIT")
    except duckdb.Error as exc:
        if is_disk_full(exc):
            raise disk_full(path) from None
        raise


def close_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    """Close; a checkpoint that fails on close (a full disk) loses nothing: the WAL holds the commit."""
    import duckdb

    try:
        conn.close()
    except duckdb.Error:
        pass
