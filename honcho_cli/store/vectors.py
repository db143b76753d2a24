"""LanceDB vector tables in the data directory: a search index over DuckDB's embeddings.

DuckDB is the source of truth (conclusions keep their embedding there); this index
can always be rebuilt from it (`honcho doctor --repair`). `import lancedb` costs
about a second, so only the commands that search or write vectors load this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONCLUSIONS = "conclusions"
INDEX_MIN_ROWS = 5_000  # below this a flat scan is as fast as an index


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
                pa.field("workspace_id", pa.string()),
                pa.field("observer", pa.string()),
                pa.field("observed", pa.string()),
                pa.field("session_id", pa.string()),
                pa.field("level", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), self.dimensions)),
            ]
        )

    def table(self, create: bool = False):
        if CONCLUSIONS in self._tables:
            return self._tables[CONCLUSIONS]
        if CONCLUSIONS in self._db.list_tables().tables:
            table = self._db.open_table(CONCLUSIONS)
        elif create:
            table = self._db.create_table(CONCLUSIONS, schema=self._schema(), exist_ok=True)
        else:
            return None
        self._tables[CONCLUSIONS] = table
        return table

    def upsert(self, rows: Sequence[tuple]) -> int:
        """rows: (id, workspace_id, observer, observed, session_id, level, embedding)."""
        if not rows:
            return 0
        import pyarrow as pa

        columns = list(zip(*rows))
        data = pa.table(
            {
                "id": list(columns[0]),
                "workspace_id": list(columns[1]),
                "observer": list(columns[2]),
                "observed": list(columns[3]),
                "session_id": list(columns[4]),
                "level": list(columns[5]),
                "vector": pa.array([list(v) for v in columns[6]], type=pa.list_(pa.float32(), self.dimensions)),
            }
        )
        table = self.table(create=True)
        table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
        return len(rows)

    def delete(self, ids: Sequence[str]) -> None:
        table = self.table()
        if table is None or not ids:
            return
        table.delete(f"id IN ({', '.join(_sql_text(i) for i in ids)})")

    def delete_where(self, **equals: str) -> None:
        table = self.table()
        if table is None:
            return
        table.delete(" AND ".join(f"{k} = {_sql_text(v)}" for k, v in equals.items()))

    def all_ids(self) -> set[str]:
        table = self.table()
        if table is None:
            return set()
        return set(table.to_arrow().column("id").to_pylist())

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
        table = self.table()
        if table is None:
            return []
        where = (
            f"workspace_id = {_sql_text(workspace_id)} AND observer = {_sql_text(observer)} "
            f"AND observed = {_sql_text(observed)}"
        )
        if session_id is not None:
            where += f" AND session_id = {_sql_text(session_id)}"
        query = table.search(list(vector)).metric("cosine").where(where, prefilter=True).limit(limit)
        if max_distance is not None:
            query = query.distance_range(upper_bound=max_distance)
        hits = query.select(["id"]).to_list()
        return [(h["id"], float(h["_distance"])) for h in hits]

    def ensure_indexes(self) -> bool:
        """Build the ANN and filter indexes once the table is big enough to need them."""
        table = self.table()
        if table is None or table.count_rows() < INDEX_MIN_ROWS:
            return False
        from lancedb.index import IvfPq

        existing = {ix.name for ix in table.list_indices()}
        for column in ("workspace_id", "observer", "observed"):
            if f"{column}_idx" not in existing:
                table.create_scalar_index(column, index_type="BITMAP")
        if "vector_idx" not in existing:
            table.create_index("vector", config=IvfPq(distance_type="cosine"))
        return True
