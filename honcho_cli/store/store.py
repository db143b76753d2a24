"""The relational store: one DuckDB file, opened per unit of work and closed at once.

`Store.write()` yields a connection inside a transaction and commits on exit;
`Store.read()` shares the file with other readers. Migrations run the first time a
process writes, or when a read finds the schema behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from honcho_cli.errors import InvalidInput, StoreUnusable
from honcho_cli.store.database import open_for_write, read_attached, transaction
from honcho_cli.store.migrations import apply_migrations, applied_migrations, pending_migrations, unknown_migrations

if TYPE_CHECKING:
    import duckdb


class Store:
    def __init__(self, path: Path, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._migrated = False

    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot use {self.path.parent} as the data directory: {exc.strerror}", path=str(self.path.parent)) from None
        if self.path.exists():
            # look before writing: a file honcho cannot use is reported and left byte for byte as it was
            with read_attached(self.path, timeout=self.lock_timeout) as conn:
                self._refuse_newer(conn)
        with open_for_write(self.path, timeout=self.lock_timeout) as conn:
            self._refuse_newer(conn)
            if pending_migrations(conn):
                apply_migrations(conn)
                conn.execute("CHECKPOINT")
        self._migrated = True

    def _refuse_newer(self, conn: duckdb.DuckDBPyConnection, applied: set[str] | None = None) -> None:
        unknown = unknown_migrations(conn, applied)
        if unknown:
            raise StoreUnusable(
                f"the store at {self.path} was written by a newer honcho (schema steps {', '.join(unknown)} "
                "are unknown to this version); upgrade honcho to use it (the file was left untouched)",
                path=str(self.path), unknown_migrations=unknown,
            )

    def _schema_current(self, conn: duckdb.DuckDBPyConnection) -> bool:
        applied = applied_migrations(conn)  # read once for both questions
        self._refuse_newer(conn, applied)
        return not pending_migrations(conn, applied)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction, all or nothing, then the file is released.

        The schema is checked on the same connection (opening the file costs ~20 ms and
        closing it after a write a checkpoint: a cold command pays that once, not twice).
        One thread, as for reads: a unit of work is a few small statements, and a second
        worker thread roughly doubles the CPU its commit and checkpoint take.
        """
        if not self._migrated and not self.path.exists():
            self._ensure_schema()
        with open_for_write(self.path, timeout=self.lock_timeout, threads=1) as conn:
            if not self._migrated:
                if not self._schema_current(conn):
                    apply_migrations(conn)
                self._migrated = True
            with transaction(conn, self.path):
                yield conn

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A shared, read-only view; creates or upgrades the file first when needed.

        The file is attached to this process's in-memory DuckDB for the duration and
        detached after (database.read_attached): the same shared lock as opening it, at a
        fraction of the cost of building a database instance per read.
        """
        if not self._migrated and not self.path.exists():
            self._ensure_schema()
        if not self._migrated:
            with read_attached(self.path, timeout=self.lock_timeout) as conn:
                current = self._schema_current(conn)
                if current:
                    self._migrated = True
                    yield conn
                    return
            self._ensure_schema()
        with read_attached(self.path, timeout=self.lock_timeout) as conn:
            yield conn
