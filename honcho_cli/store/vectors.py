"""LanceDB vector tables in the data directory: a search index over DuckDB's embeddings.

DuckDB is the source of truth (conclusions keep their embedding there); this index
can always be rebuilt from it (`honcho doctor --repair`). `import lancedb` costs
about a second, so only the commands that search or write vectors load this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

INDEX_MIN_ROWS = 5_000  # below this an exact scan is as fast as an ANN index
INDEX_CATCH_UP_ROWS = 5_000  # rows outside the index (searched flat) before they are added to it, at most
INDEX_CATCH_UP_SHARE = 10  # ... or a tenth of the indexed rows, when that is fewer
INDEX_CATCH_UP_MIN = 1_000  # ... but at least this many
INDEX_MAX_DELTAS = 4  # each catch-up adds a delta index that every search visits; past this, rebuild
COMPACT_SMALL_FRAGMENTS = 16  # each upsert writes a file; a flat search pays per file (200 files: 23 ms vs 3)
COMPACT_SMALL_FRAGMENTS_INDEXED = 64  # the same for an indexed table, where compacting also adds a delta
INDEX_RETRAIN_GROWTH = 4  # retrain partitions and codebooks once a table has grown this much since
SEARCH_MIN_NPROBES = 20  # IVF partitions probed per query, at least (LanceDB's default)
SEARCH_PROBE_SHARE = 0.02  # ... or this share of them on a very big table
SEARCH_REFINE_FACTOR = 10  # re-rank k * this candidates on their full vectors: exact distances, exact order


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def collection_table(workspace_id: str, observer: str, observed: str) -> str:
    """One table per collection, so one observer's size never slows another's queries."""
    digest = hashlib.sha1(f"{workspace_id}/{observer}/{observed}".encode()).hexdigest()[:20]
    return f"c_{digest}"


def messages_table(workspace_id: str) -> str:
    """Message vectors: one table per workspace."""
    return "m_" + hashlib.sha1(workspace_id.encode()).hexdigest()[:20]


def _indexed(vectors_path: Path, table: str) -> bool:
    indices = Path(vectors_path) / f"{table}.lance" / "_indices"
    return indices.is_dir() and any(indices.iterdir())


def has_ann_index(vectors_path: Path, workspace_id: str, observer: str, observed: str) -> bool:
    """Checked on the file system, so a caller can decide without importing LanceDB."""
    return _indexed(vectors_path, collection_table(workspace_id, observer, observed))


def has_message_index(vectors_path: Path, workspace_id: str) -> bool:
    return _indexed(vectors_path, messages_table(workspace_id))


def has_vector_table(vectors_path: Path, workspace_id: str, observer: str, observed: str) -> bool:
    """Whether the collection has a LanceDB table at all (file system only, like has_ann_index)."""
    return (Path(vectors_path) / f"{collection_table(workspace_id, observer, observed)}.lance").is_dir()


def _trained_rows_path(vectors_path: Path, name: str) -> Path:
    """How many rows the table's index was trained on (partitions scale with it)."""
    return Path(vectors_path) / f"{name}.index.json"


class VectorIndex:
    def __init__(self, path: Path, dimensions: int = 384) -> None:
        os.environ.setdefault("LANCE_LOG", "error")
        import lancedb

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.dimensions = dimensions
        # a zero interval: every search sees what other processes (the deriver) committed, as DuckDB does
        self._db = lancedb.connect(str(self.path), read_consistency_interval=timedelta(0))
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

    def _unfinished(self, name: str) -> bool:
        """A table whose creation never committed (the process died, or the disk filled, first):
        its directory holds no version, so no row of it was ever marked as indexed."""
        versions = self.path / f"{name}.lance" / "_versions"
        return not any(versions.glob("*.manifest"))

    def table_names(self) -> list[str]:
        return [name for name in self._db.list_tables().tables if not self._unfinished(name)]

    def _clear_unfinished(self, name: str) -> None:
        """Remove what an interrupted creation left, so the table can be created again
        (writers call this holding the catch-up lock: no creation is under way elsewhere)."""
        import shutil

        folder = self.path / f"{name}.lance"
        if folder.is_dir() and self._unfinished(name):
            shutil.rmtree(folder)

    def table(self, name: str, create: bool = False):
        if name in self._tables:
            return self._tables[name]
        if name in self.table_names():
            table = self._db.open_table(name)
        elif create:
            self._clear_unfinished(name)
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
        import numpy as np

        for name, group in groups.items():
            # one float32 matrix, not a Python list per row: 100k rows in well under a second
            matrix = np.asarray([r[6] for r in group], dtype=np.float32).reshape(len(group), self.dimensions)
            data = pa.table(
                {
                    "id": [r[0] for r in group],
                    "session_id": [r[4] for r in group],
                    "level": [r[5] for r in group],
                    "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), self.dimensions),
                }
            )
            table = self.table(name, create=True)
            table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
            self._maintain_index(name, table)
        return len(rows)

    def upsert_messages(self, rows: Sequence[tuple]) -> int:
        """rows: (message id, workspace_id, session_id, peer_id, embedding)."""
        import pyarrow as pa

        groups: dict[str, list[tuple]] = {}
        for row in rows:
            groups.setdefault(messages_table(row[1]), []).append(row)
        for name, group in groups.items():
            data = pa.table(
                {
                    "id": [r[0] for r in group],
                    "session_id": [r[2] for r in group],
                    "peer_id": [r[3] for r in group],
                    "vector": pa.array([list(r[4]) for r in group], type=pa.list_(pa.float32(), self.dimensions)),
                }
            )
            if name in self._tables or name in self.table_names():
                table = self.table(name)
            else:
                self._clear_unfinished(name)
                table = self._db.create_table(name, data=data, exist_ok=True)
                self._tables[name] = table
            table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
            self._maintain_index(name, table)
        return len(rows)

    def search_messages(
        self,
        vector: Sequence[float],
        *,
        workspace_id: str,
        session_id: str | None = None,
        peer_id: str | None = None,
        limit: int = 50,
    ) -> list[tuple[str, float]]:
        table = self.table(messages_table(workspace_id))
        if table is None:
            return []
        query = table.search(list(vector)).metric("cosine").limit(limit)
        filters = [f"{column} = {_sql_text(value)}" for column, value in (("session_id", session_id), ("peer_id", peer_id)) if value]
        if filters:
            query = query.where(" AND ".join(filters), prefilter=True)
        return [(h["id"], float(h["_distance"])) for h in query.select(["id"]).to_list()]

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

    def delete_from(self, name: str, ids: Sequence[str]) -> None:
        """Remove ids from one table, if it exists."""
        table = self.table(name) if ids else None
        if table is not None:
            for start in range(0, len(ids), 1_000):
                table.delete(f"id IN ({', '.join(_sql_text(i) for i in ids[start : start + 1_000])})")

    def drop_tables(self, names: Sequence[str]) -> None:
        """Drop whole tables (a deleted workspace's), those that exist."""
        existing = set(self.table_names()) if names else set()
        for name in names:
            self._tables.pop(name, None)
            if name in existing:
                self._db.drop_table(name)
            _trained_rows_path(self.path, name).unlink(missing_ok=True)

    def drop_all(self) -> None:
        for name in self.table_names():
            self._db.drop_table(name)
            _trained_rows_path(self.path, name).unlink(missing_ok=True)
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
        """(conclusion id, cosine distance) nearest first, within one collection.

        The candidates come from the IVF_PQ index and are re-ranked on their full vectors
        (refine), so distances are exact and ties break on the id, as in the exact scan.
        """
        name = collection_table(workspace_id, observer, observed)
        table = self.table(name)
        if table is None:
            return []
        query = (
            table.search(vector)
            .metric("cosine")
            .limit(limit)
            .nprobes(self._nprobes(name))
            .refine_factor(SEARCH_REFINE_FACTOR)
        )
        if session_id is not None:
            query = query.where(f"session_id = {_sql_text(session_id)}", prefilter=True)
        hits = query.select(["id", "_distance"]).to_arrow()
        pairs = zip(hits.column("id").to_pylist(), hits.column("_distance").to_pylist())
        found = sorted((float(d), i) for i, d in pairs if max_distance is None or d <= max_distance)
        return [(i, d) for d, i in found]

    def _nprobes(self, name: str) -> int:
        partitions = math.sqrt(max(self._trained_rows(name), 1))  # LanceDB's default partition count
        return max(SEARCH_MIN_NPROBES, math.ceil(partitions * SEARCH_PROBE_SHARE))

    def _trained_rows(self, name: str) -> int:
        try:
            return int(json.loads(_trained_rows_path(self.path, name).read_text())["trained_rows"])
        except (OSError, ValueError, KeyError, TypeError):
            return INDEX_MIN_ROWS

    def _maintain_index(self, name: str, table) -> str | None:
        """Compact small tables; build the ANN index once a table is big enough, then keep it covering the table.

        Every upsert (the deriver's, a few rows per unit) leaves one small file, and a flat
        search pays per file, so a table without an index is compacted once it has
        COMPACT_SMALL_FRAGMENTS small ones. Rows added after the index was built are
        searched flat until there are enough of them (a tenth of the index, between
        INDEX_CATCH_UP_MIN and INDEX_CATCH_UP_ROWS, or COMPACT_SMALL_FRAGMENTS_INDEXED files); then `optimize`
        compacts and adds them to the index as a delta. Every delta is one more index each
        search visits (7 deltas doubled the search time at 1M rows), so once there are
        INDEX_MAX_DELTAS of them, or the table is INDEX_RETRAIN_GROWTH times the size the
        index was trained on, the index is rebuilt in one piece, with as many partitions
        as the size now calls for.
        """
        rows = table.count_rows()
        if rows < INDEX_MIN_ROWS:
            if table.stats()["fragment_stats"]["num_small_fragments"] >= COMPACT_SMALL_FRAGMENTS:
                table.optimize()
                return "compacted"
            return None
        from lancedb.index import IvfPq

        stats = table.index_stats("vector_idx")
        catch_up = False
        if stats is not None and stats.num_unindexed_rows > 0:
            threshold = min(INDEX_CATCH_UP_ROWS, max(INDEX_CATCH_UP_MIN, stats.num_indexed_rows // INDEX_CATCH_UP_SHARE))
            catch_up = stats.num_unindexed_rows >= threshold or (
                table.stats()["fragment_stats"]["num_small_fragments"] >= COMPACT_SMALL_FRAGMENTS_INDEXED
            )
        if (
            stats is None
            or rows >= INDEX_RETRAIN_GROWTH * self._trained_rows(name)
            or (catch_up and stats.num_indices >= INDEX_MAX_DELTAS)
        ):
            table.create_index("vector", config=IvfPq(distance_type="cosine"), name="vector_idx", replace=True)
            _trained_rows_path(self.path, name).write_text(json.dumps({"trained_rows": rows}))
            return "built"
        if catch_up:
            table.optimize()
            return "updated"
        return None
