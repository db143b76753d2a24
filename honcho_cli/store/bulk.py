"""Inserting many rows in one statement.

DuckDB's executemany runs one statement per row, fine for a handful and slow for
thousands; a large batch goes in as an Arrow table instead (pyarrow is imported
only then, keeping single-message commands quick to start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

ARROW_THRESHOLD = 64


def insert_rows(conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    if not rows:
        return
    names = ", ".join(columns)
    if len(rows) < ARROW_THRESHOLD:
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        return
    import pyarrow as pa

    batch = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    view = f"incoming_{table}"
    conn.register(view, batch)
    try:
        conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
    finally:
        conn.unregister(view)
