"""Opening the DuckDB file briefly, with bounded retry, so many processes can share it.

DuckDB lets one process write a file at a time (readers share a lock among
themselves). Every command therefore opens the file, does its work in one
transaction and closes it; a process that finds the file locked waits with
jittered exponential back-off up to the configured timeout, then gives up with
STORE_BUSY instead of hanging or corrupting anything.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from honcho_cli.errors import HonchoError, StoreBusy

if TYPE_CHECKING:
    import duckdb

_LOCK_MARKERS = ("could not set lock", "conflicting lock", "database is locked", "lock on file")


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _LOCK_MARKERS)


def open_with_retry(path: Path, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    import duckdb

    deadline = time.monotonic() + timeout
    delay = 0.005
    attempts = 0
    while True:
        attempts += 1
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):  # not a DuckDB file, unreadable, ...: say so, no traceback
                raise HonchoError(f"cannot open the store at {path}: {exc}", path=str(path)) from None
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the store at {path} stayed locked by another honcho process for {timeout:.0f}s",
                    path=str(path),
                    attempts=attempts,
                ) from None
            time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a crash or an exception inside leaves the file as before."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
