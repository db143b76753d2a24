"""LanceDB vector tables in the data directory: a search index over DuckDB's embeddings.

DuckDB is the source of truth (conclusions keep their embedding there); this index
can always be rebuilt from it (`honcho doctor --repair`). `import lancedb` costs
about a second, so only the commands that search or write vectors load this module.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INDEX_MIN_ROWS = 5_000  # below this an exact scan is as fast as an ANN index


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def collection_table(workspace_id: str, observer: str, observed: str) -> str:
    """One table per collection, so one observer's size never slows another's queries."""
    digest = hashlib.sha1(f"{workspace_id}/{observer}/{observed}".encode()).hexdigest()[:20]
    return f"c_{digest}"


def has_ann_index(vectors_path: Path, workspace_id: str, observer: str, observed: str) -> bool:
    """Checked on the file system, so a caller can decide without importing LanceDB."""
    indices = Path(vectors_path) / f"{collection_table(workspace_id, observer, observed)}.lance" / "_indices"
    return indices.is_dir() and any(indices.iterdir())


class VectorIndex:
    def __init__(self, path: Path, dimensions: int = 384) -> None:
        os.environ.setdefault("LANCE_LOG", "error")
        import lancedb

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.dimensions = dimensions
        self._db = lancedb.connect(str(self.path))
        self._tables: dict[str, Any] = {}

    def _schema(self):
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("id", pa.string()),
                pa.field("session_id", pa.string()),
                pa.field("level", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), self.dimensions)),
            ]
        )

    def table_names(self) -> list[str]:
        return list(self._db.list_tables().tables)

    def table(self, name: str, create: bool = False):
        if name in self._tables:
            return self._tables[name]
        if name in self.table_names():
            table = self._db.open_table(name)
        elif create:
            table = self._db.create_table(name, schema=self._schema(), exist_ok=True)
        else:
            return None
        self._tables[name] = table
        return table

    def upsert(self, rows: Sequence[tuple]) -> int:
        """rows: (id, workspace_id, observer, observed, session_id, level, embedding)."""
        import pyarrow as pa

        groups: dict[str, list[tuple]] = {}
        for row in rows:
            groups.setdefault(collection_table(row[1], row[2], row[3]), []).append(row)
        for name, group in groups.items():
            data = pa.table(
                {
                    "id": [r[0] for r in group],
                    "session_id": [r[4] for r in group],
                    "level": [r[5] for r in group],
                    "vector": pa.array([list(r[6]) for r in group], type=pa.list_(pa.float32(), self.dimensions)),
                }
            )
            table = self.table(name, create=True)
            table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
            self._maybe_index(table)
        return len(rows)

    def delete(self, ids: Sequence[str], *, workspace_id: str | None = None, observer: str | None = None,
               observed: str | None = None) -> None:
        """Remove ids from one collection's table, or from every table when the collection is not given."""
        if not ids:
            return
        names = (
            [collection_table(workspace_id, observer, observed)]
            if workspace_id and observer and observed
            else self.table_names()
        )
        where = f"id IN ({', '.join(_sql_text(i) for i in ids)})"
        for name in names:
            table = self.table(name)
            if table is not None:
                table.delete(where)

    def drop_all(self) -> None:
        for name in self.table_names():
            self._db.drop_table(name)
        self._tables.clear()

    def all_ids(self) -> dict[str, set[str]]:
        """Ids per table, for consistency checks."""
        return {name: set(self.table(name).to_arrow().column("id").to_pylist()) for name in self.table_names()}

    def search(
        self,
        vector: Sequence[float],
        *,
        workspace_id: str,
        observer: str,
        observed: str,
        session_id: str | None = None,
        limit: int = 10,
        max_distance: float | None = None,
    ) -> list[tuple[str, float]]:
        """(conclusion id, cosine distance) nearest first, within one collection."""
        table = self.table(collection_table(workspace_id, observer, observed))
        if table is None:
            return []
        query = table.search(list(vector)).metric("cosine").limit(limit)
        if session_id is not None:
            query = query.where(f"session_id = {_sql_text(session_id)}", prefilter=True)
        if max_distance is not None:
            query = query.distance_range(upper_bound=max_distance)
        hits = query.select(["id"]).to_list()
        return [(h["id"], float(h["_distance"])) for h in hits]

    def _maybe_index(self, table) -> bool:
        """Build the ANN index once a collection is big enough to need one."""
        if table.count_rows() < INDEX_MIN_ROWS:
            return False
        if any(ix.name == "vector_idx" for ix in table.list_indices()):
            return False
        from lancedb.index import IvfPq

        table.create_index("vector", config=IvfPq(distance_type="cosine"), name="vector_idx")
        return True
