"""Archives: a store, or some of its workspaces, as one streamed, self-describing JSONL file.

Line 1 describes the file: its format and version, the schema it was written from,
the embedding model that made its vectors, and every table's columns with their
types. Then one line per row, `{"table": ..., "row": {...}}`, table by table in a
fixed order and each table in key order; the last line counts the rows, so a file
cut short is refused rather than half imported. Values have one encoding each, so
exporting what was imported gives the same bytes again (but for `exported_at`).

Export copies the rows into a private snapshot file first (seconds, even for a
million messages) and streams from that, so other processes can write to the store
while the JSON is being written. Import stages the file into a private DuckDB file
the same way, without holding the store, then moves everything into the store in
one transaction: all or nothing.

What is carried: workspaces, peers and their settings, sessions, per-session peer
settings, the whole membership history, messages with their ids, times and order,
who witnessed each message, message and conclusion vectors, the reasoning queue,
conclusions with level, provenance, premises, `times_derived` and tombstones,
session summaries, when each view was last consolidated, and everything added to
ARCHIVED_TABLES later. Not carried, because it is rebuilt from the rest: the
full-text index and the LanceDB tables.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from honcho_cli.core.workspaces import WORKSPACE_TABLES, find_workspace, require_workspace
from honcho_cli.errors import Conflict, HonchoError, InvalidInput
from honcho_cli.store.database import WriterTurn, open_with_retry, transaction

if TYPE_CHECKING:
    import duckdb

    from honcho_cli.store.store import Store

FORMAT = "honcho-archive"
VERSION = 1

# Every table that holds a store's content, parents before children. A table added to
# the schema must be listed here or in DERIVED_TABLES (a test keeps the two complete).
ARCHIVED_TABLES = (
    "workspaces", "peers", "sessions", "session_peer_config", "memberships", "messages", "message_witnesses",
    "message_embeddings", "deriver_queue", "conclusions", "session_summaries", "collection_state", "peer_cards",
    "scopes", "scope_sessions", "scope_copies",
)
# Rebuilt from the archived tables, or facts about this file rather than its content.
DERIVED_TABLES = ("schema_migrations", "fulltext_state", "store_meta", "index_removals")

# A natural reading order where the primary key is only an id.
ORDER_BY = {"messages": ("workspace_id", "session_id", "seq_in_session")}

ENCODINGS = {
    "TIMESTAMP": "ISO 8601, UTC, without a zone, to the microsecond",
    "JSON": "the JSON value itself",
    "FLOAT[]": "base64 of the little-endian float32 values",
    "VARCHAR[]": "a JSON array of strings",
}

BATCH_ROWS = 5_000


@dataclass
class Column:
    name: str
    type: str


@dataclass
class TableInfo:
    name: str
    columns: list[Column]
    keys: list[list[str]] = field(default_factory=list)  # primary key and unique constraints

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


Progress = Callable[[str, int], None]  # (table, rows just done)


# -- schema ------------------------------------------------------------------------------------


def describe(conn: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict[str, TableInfo]:
    """The archived tables of a database as it is: columns in order with their types, and keys."""
    where = "table_schema = 'main'" + (f" AND table_catalog = '{catalog}'" if catalog else "")
    rows = conn.execute(
        f"SELECT table_name, column_name, data_type FROM information_schema.columns WHERE {where} "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, TableInfo] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, TableInfo(table, [])).columns.append(Column(column, data_type))
    where = "schema_name = 'main'" + (f" AND database_name = '{catalog}'" if catalog else "")
    for table, kind, names in conn.execute(
        f"SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() WHERE {where} "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY table_name, constraint_type, constraint_index"
    ).fetchall():
        if table in tables and list(names) not in tables[table].keys:
            tables[table].keys.append(list(names))
    return tables


def unaccounted_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables neither archived nor declared derived: a schema change that forgot the archive."""
    names = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    return sorted(names - set(ARCHIVED_TABLES) - set(DERIVED_TABLES))


def _order(info: TableInfo) -> list[str]:
    if info.name in ORDER_BY:
        return list(ORDER_BY[info.name])
    return info.keys[0] if info.keys else [c.name for c in info.columns if not c.type.endswith("[]")]


# -- encoding ------------------------------------------------------------------------------------


def _select_expr(column: Column) -> str:
    name = f'"{column.name}"'
    if column.type.startswith("TIMESTAMP"):
        return f"strftime({name}, '%Y-%m-%dT%H:%M:%S.%f') AS {name}"
    return name


def _vectors_b64(array: Any) -> list[str | None]:
    """A list<float> Arrow column as base64 strings of float32 bytes, without a Python float per value."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = pa.concat_arrays(array.chunks) if array.num_chunks != 1 else array.chunk(0)
    values = pc.cast(array.flatten(), pa.float32()).to_numpy(zero_copy_only=False).astype("<f4", copy=False)
    offsets = array.offsets.to_numpy()
    base = offsets[0]
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    out: list[str | None] = []
    for i in range(len(array)):
        if not valid[i]:
            out.append(None)
            continue
        chunk = values[offsets[i] - base : offsets[i + 1] - base]
        out.append(base64.b64encode(np.ascontiguousarray(chunk).tobytes()).decode("ascii"))
    return out


def _decode_vector(text: str | None, where: str) -> bytes | None:
    """The float32 bytes of one encoded vector (checked, not yet unpacked)."""
    if text is None:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise InvalidInput(f"{where}: a vector is not base64", where=where) from None
    if len(raw) % 4:
        raise InvalidInput(f"{where}: a vector's length is not a whole number of float32 values", where=where)
    return raw


def _vector_column(values: list[bytes | None]) -> Any:
    """Arrow list<float32> from float32 byte strings, without a Python float per value."""
    import numpy as np
    import pyarrow as pa

    lengths = np.fromiter((0 if v is None else len(v) // 4 for v in values), dtype=np.int32, count=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(v for v in values if v is not None), dtype="<f4")
    mask = pa.array([v is None for v in values])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float32()), mask=mask)


# -- export --------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    workspaces: list[str]
    rows: dict[str, int]
    embedding_model: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"workspaces": self.workspaces, "rows": self.rows, "embedding_model": self.embedding_model}


def _scratch_dir(near: Path) -> Path:
    """A private directory for snapshot or staging files, on the store's disk when it is writable."""
    try:
        near.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".honcho-archive-", dir=near))
    except OSError:
        return Path(tempfile.mkdtemp(prefix="honcho-archive-"))


def _snapshot(store: Store, workspaces: list[str] | None, target: Path) -> tuple[list[str], str | None, list[str], dict[str, int]]:
    """Copy the chosen workspaces' rows into `target` (one read, so one consistent moment).

    Returns (workspaces, embedding model, schema migrations, row counts)."""
    with store.read() as conn:
        chosen = workspaces
        if chosen is None:
            chosen = [r[0] for r in conn.execute("SELECT id FROM workspaces ORDER BY id").fetchall()]
        else:
            for ws in chosen:
                require_workspace(conn, ws)
        model_row = conn.execute("SELECT value FROM store_meta WHERE key = 'embedding_model'").fetchone()
        migrations = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
        source = conn.execute("SELECT current_database()").fetchone()[0]
        literal = "'" + str(target).replace("'", "''") + "'"
        conn.execute(f"ATTACH {literal} AS archive_snapshot")
        counts = {}
        try:
            listed = ", ".join("'" + w.replace("'", "''") + "'" for w in chosen) or "NULL"
            for table in ARCHIVED_TABLES:
                key = "id" if table == "workspaces" else "workspace_id"
                if table == "deriver_queue":
                    # work in progress when the archive was made is work to do wherever it lands
                    conn.execute(
                        f"CREATE TABLE archive_snapshot.{table} AS SELECT * REPLACE ("
                        "CASE WHEN status = 'in_progress' THEN 'pending' ELSE status END AS status, "
                        "CASE WHEN status = 'in_progress' THEN NULL ELSE lease_owner END AS lease_owner, "
                        "CASE WHEN status = 'in_progress' THEN NULL ELSE lease_until END AS lease_until, "
                        "NULL::VARCHAR AS lease_host, NULL::INTEGER AS lease_pid, NULL::VARCHAR AS lease_process) "
                        f"FROM {source}.main.{table} WHERE {key} IN ({listed})"
                    )
                elif table in ("conclusions", "message_embeddings"):
                    # whether a row is in this store's vector index says nothing about the next one's
                    conn.execute(
                        f"CREATE TABLE archive_snapshot.{table} AS SELECT * REPLACE (0::BIGINT AS index_pending) "
                        f"FROM {source}.main.{table} WHERE {key} IN ({listed})"
                    )
                else:
                    conn.execute(
                        f"CREATE TABLE archive_snapshot.{table} AS SELECT * FROM {source}.main.{table} WHERE {key} IN ({listed})"
                    )
                counts[table] = conn.execute(f"SELECT count(*) FROM archive_snapshot.{table}").fetchone()[0]
        finally:
            conn.execute("DETACH archive_snapshot")
    return chosen, model_row[0] if model_row else None, migrations, counts


def export_archive(
    store: Store,
    out: IO[bytes],
    *,
    workspaces: list[str] | None = None,
    progress: Callable[[dict[str, int]], Progress] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write the chosen workspaces (all when None) to `out` as an archive.

    `progress`, given the row counts, returns a callback told of each batch written."""
    import duckdb

    with store.read():
        pass  # creates or upgrades the store first, like every reader
    scratch = _scratch_dir(store.path.parent)
    try:
        snapshot = scratch / "snapshot.duckdb"
        chosen, model, migrations, counts = _snapshot(store, workspaces, snapshot)
        advance = progress(counts) if progress else None
        conn = duckdb.connect(str(snapshot), read_only=True, config={"memory_limit": "256MB", "threads": 1})
        try:
            tables = describe(conn)
            stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
            header = {
                "format": FORMAT,
                "version": VERSION,
                "exported_at": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "schema": migrations,
                "workspaces": chosen,
                "embedding_model": model,
                "tables": {t: [[c.name, c.type] for c in tables[t].columns] for t in ARCHIVED_TABLES},
                "encodings": ENCODINGS,
            }
            out.write(_line(header))
            for table in ARCHIVED_TABLES:
                for batch in _rows(conn, tables[table]):
                    out.write(b"".join(_line({"table": table, "row": row}) for row in batch))
                    if advance:
                        advance(table, len(batch))
            out.write(_line({"end": True, "rows": counts}))
        finally:
            conn.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(workspaces=chosen, rows=counts, embedding_model=model)


def _line(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _rows(conn: duckdb.DuckDBPyConnection, info: TableInfo) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in key order, as JSON-ready dicts, a batch at a time."""
    columns = info.columns
    select = ", ".join(_select_expr(c) for c in columns)
    order = ", ".join(f'"{c}"' for c in _order(info))
    reader = conn.execute(f"SELECT {select} FROM {info.name} ORDER BY {order}").fetch_record_batch(BATCH_ROWS)
    for batch in reader:
        values = []
        for i, column in enumerate(columns):
            array = batch.column(i)
            if column.type in ("FLOAT[]", "DOUBLE[]"):
                values.append(_vectors_b64(array))
            elif column.type == "JSON":
                values.append([None if v is None else json.loads(v) for v in array.to_pylist()])
            else:
                values.append(array.to_pylist())
        names = [c.name for c in columns]
        yield [dict(zip(names, row)) for row in zip(*values)]


# -- import --------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    workspaces: list[str]
    rows: dict[str, int]
    skipped: dict[str, int]
    vectors: str  # carried | reembedded | none

    def to_dict(self) -> dict[str, Any]:
        return {"workspaces": self.workspaces, "rows": self.rows, "skipped": self.skipped, "vectors": self.vectors}


def open_archive(path: str | Path, stdin: IO[bytes] | None = None) -> IO[bytes]:
    """The archive's bytes, gunzipped when the file is gzip (or named .gz)."""
    if str(path) == "-":
        raw: IO[bytes] = stdin if stdin is not None else io.BufferedReader(io.FileIO(0, closefd=False))
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
    peek = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if peek == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


class _Stager:
    """Rows of the archive, checked and converted, collected into a private DuckDB file."""

    def __init__(self, path: Path, target: dict[str, TableInfo], header: dict[str, Any]) -> None:
        import duckdb

        self.conn = duckdb.connect(str(path), config={"memory_limit": "256MB", "threads": 1})
        self.target = target
        self.columns: dict[str, list[Column]] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.rows: dict[str, int] = {}
        for table, spec in header["tables"].items():
            if table not in ARCHIVED_TABLES or table not in target:
                raise InvalidInput(
                    f"the archive holds table {table!r}, which this honcho does not know (made by a newer version?)",
                    table=table,
                )
            mine = target[table]
            names = []
            for name, _type in spec:
                column = mine.column(name)
                if column is None:
                    raise InvalidInput(
                        f"the archive's table {table} has a column {name!r} this honcho does not know (made by a newer version?)",
                        table=table, column=name,
                    )
                names.append(column)
            self.columns[table] = names
            defs = ", ".join(f'"{c.name}" {c.type}' for c in names)
            self.conn.execute(f"CREATE TABLE {table} ({defs})")
            self.pending[table] = []
            self.rows[table] = 0

    def add(self, table: str, row: Any, where: str) -> None:
        if table not in self.columns:
            raise InvalidInput(f"{where}: table {table!r} is not described in the archive's header", line=where)
        if not isinstance(row, dict):
            raise InvalidInput(f"{where}: \"row\" must be an object", line=where)
        columns = self.columns[table]
        if len(row) != len(columns) or any(c.name not in row for c in columns):
            expected = [c.name for c in columns]
            raise InvalidInput(f"{where}: a {table} row must have exactly the columns {expected}", line=where)
        out = {}
        for c in columns:
            value = row[c.name]
            if c.type in ("FLOAT[]", "DOUBLE[]"):
                value = _decode_vector(value, where)
            elif c.type == "JSON" and value is not None:
                value = json.dumps(value)  # as the rest of honcho stores JSON
            out[c.name] = value
        self.pending[table].append(out)
        self.rows[table] += 1
        if len(self.pending[table]) >= BATCH_ROWS:
            self.flush(table)

    def flush(self, table: str) -> None:
        import pyarrow as pa

        rows = self.pending[table]
        if not rows:
            return
        columns = self.columns[table]
        arrays = {}
        for c in columns:
            values = [r[c.name] for r in rows]
            if c.type in ("FLOAT[]", "DOUBLE[]"):
                arrays[c.name] = _vector_column(values)
            elif c.type == "VARCHAR[]":
                arrays[c.name] = pa.array(values, type=pa.list_(pa.string()))
            elif c.type in ("BOOLEAN",):
                arrays[c.name] = pa.array(values, type=pa.bool_())
            elif c.type in ("INTEGER", "BIGINT", "SMALLINT", "HUGEINT", "UBIGINT"):
                arrays[c.name] = pa.array(values, type=pa.int64())
            elif c.type in ("DOUBLE", "FLOAT"):
                arrays[c.name] = pa.array(values, type=pa.float64())
            else:  # VARCHAR, JSON text, TIMESTAMP text: DuckDB parses on the way in
                arrays[c.name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        batch = pa.table(arrays)
        names = ", ".join(f'"{c.name}"' for c in columns)
        casts = ", ".join(f'CAST("{c.name}" AS {c.type})' for c in columns)
        self.conn.register("incoming", batch)
        try:
            self.conn.execute(f"INSERT INTO {table} ({names}) SELECT {casts} FROM incoming")
        except Exception as exc:  # noqa: BLE001 - a value DuckDB cannot take: bad input, not a bug
            import duckdb

            if not isinstance(exc, duckdb.Error):
                raise
            raise InvalidInput(f"table {table}: a value does not fit its column ({str(exc).splitlines()[0]})", table=table) from None
        finally:
            self.conn.unregister("incoming")
        self.pending[table] = []

    def close(self) -> None:
        for table in list(self.pending):
            self.flush(table)
        self.conn.execute("CHECKPOINT")
        self.conn.close()


def read_header(line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        raise InvalidInput("line 1: not JSON: this is not a honcho archive", line=1) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(f"line 1: not a {FORMAT} header: this is not a honcho archive", line=1)
    if header.get("version") != VERSION:
        raise InvalidInput(
            f"archive version {header.get('version')!r} is not supported (this honcho reads version {VERSION})",
            version=header.get("version"),
        )
    if not isinstance(header.get("tables"), dict) or not isinstance(header.get("workspaces"), list):
        raise InvalidInput("line 1: the header does not describe the archive's tables and workspaces", line=1)
    return header


def import_archive(
    store: Store,
    source: IO[bytes],
    *,
    skip_existing: bool = False,
    progress: Progress | None = None,
    keep_vectors: Callable[[str | None, str | None], bool] | None = None,
    on_committed: Callable[[Path, ImportResult], None] | None = None,
) -> ImportResult:
    """Stage the archive, then move it into the store in one transaction.

    `keep_vectors(archive model, store model)` decides whether the archive's vectors
    are stored (default: when the store has none, or the same model made both); when
    not, they are left out, for the caller to compute again. `on_committed(staging file,
    result)` runs after the commit, while the staged rows can still be read (e.g. to
    write the vector index)."""
    with store.write():
        pass  # the schema, created or brought up to date
    with store.read() as conn:
        target = describe(conn)
    scratch = _scratch_dir(store.path.parent)
    try:
        staging = scratch / "staging.duckdb"
        header, rows = _stage(source, staging, target, progress)
        result = _commit(store, staging, header, target, rows, skip_existing=skip_existing,
                         keep_vectors=keep_vectors or same_model)
        if on_committed is not None:
            on_committed(staging, result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def same_model(archive_model: str | None, store_model: str | None) -> bool:
    return store_model is None or archive_model == store_model


def _stage(source: IO[bytes], staging: Path, target: dict[str, TableInfo], progress: Progress | None) -> tuple[dict[str, Any], dict[str, int]]:
    stager: _Stager | None = None
    header: dict[str, Any] | None = None
    footer: dict[str, Any] | None = None
    try:
        for number, raw in enumerate(source, start=1):
            if number == 1:
                header = read_header(raw)
                stager = _Stager(staging, target, header)
                continue
            where = f"line {number}"
            if footer is not None:
                if raw.strip():
                    raise InvalidInput(f"{where}: content after the archive's last line", line=number)
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                raise InvalidInput(f"{where}: invalid JSON ({getattr(exc, 'msg', exc)})", line=number) from None
            if not isinstance(record, dict):
                raise InvalidInput(f"{where}: expected a JSON object", line=number)
            if record.get("end") is True:
                footer = record
                continue
            if set(record) != {"table", "row"}:
                raise InvalidInput(f"{where}: expected {{\"table\": ..., \"row\": {{...}}}}", line=number)
            stager.add(record["table"], record["row"], where)
            if progress and number % 1000 == 0:
                progress(record["table"], 1000)
        if header is None:
            raise InvalidInput("the archive is empty")
        if footer is None:
            raise InvalidInput("the archive ends before its last line: the file is incomplete, nothing was imported")
        declared = footer.get("rows")
        if not isinstance(declared, dict) or {k: v for k, v in declared.items() if v} != {k: v for k, v in stager.rows.items() if v}:
            raise InvalidInput(
                "the archive's row counts do not match its rows: the file is damaged, nothing was imported",
                declared=declared, found=stager.rows,
            )
        rows = dict(stager.rows)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InvalidInput(f"cannot read the archive: {exc}") from None
    finally:
        if stager is not None:
            stager.close()
    return header, rows


def _commit(
    store: Store,
    staging: Path,
    header: dict[str, Any],
    target: dict[str, TableInfo],
    rows: dict[str, int],
    *,
    skip_existing: bool,
    keep_vectors: Callable[[str | None, str | None], bool],
) -> ImportResult:
    literal = "'" + str(staging).replace("'", "''") + "'"
    turn = WriterTurn(store.path)  # its turn among writers, like every other write (store/database)
    turn.acquire(store.lock_timeout)
    try:
        conn = open_with_retry(store.path, read_only=False, timeout=store.lock_timeout)
    except BaseException:
        turn.release()
        raise
    skipped: dict[str, int] = {}
    inserted: dict[str, int] = {}
    try:
        conn.execute(f"ATTACH {literal} AS staged (READ_ONLY)")
        try:
            with transaction(conn):
                _take_over_empty_workspaces(conn, header)
                archive_model = header.get("embedding_model")
                found_model = conn.execute("SELECT value FROM store_meta WHERE key = 'embedding_model'").fetchone()
                store_model = found_model[0] if found_model else None
                carry = keep_vectors(archive_model, store_model)
                has_vectors = conn.execute(
                    "SELECT (SELECT count(*) FROM staged.message_embeddings) + "
                    "(SELECT count(*) FROM staged.conclusions WHERE embedding IS NOT NULL)"
                ).fetchone()[0] > 0
                vectors = "none" if not has_vectors else ("carried" if carry else "dropped")
                for table in ARCHIVED_TABLES:
                    if table not in header["tables"]:
                        continue
                    info = target[table]
                    names = [c[0] for c in header["tables"][table]]
                    clash = _clash_condition(info, names)
                    found = conn.execute(f"SELECT count(*) FROM staged.{table} s WHERE {clash}").fetchone()[0] if clash else 0
                    if table == "workspaces":
                        skipped[table] = found  # an existing workspace is merged into, not a clash
                    elif found and not skip_existing:
                        example = _example_clash(conn, table, info, names, clash)
                        raise Conflict(
                            f"{found} {table} row(s) of the archive already exist in this store (e.g. {example}); "
                            "nothing was imported (pass --skip-existing to keep the existing ones and import the rest)",
                            table=table, existing=found,
                        )
                    else:
                        skipped[table] = found
                    if table == "message_embeddings" and vectors == "dropped":
                        inserted[table] = 0
                        continue
                    columns = ", ".join(f'"{n}"' for n in names)
                    values = ", ".join(
                        "NULL" if (vectors == "dropped" and table == "conclusions" and n == "embedding") else f's."{n}"'
                        for n in names
                    )
                    where = f"WHERE NOT ({clash})" if clash else ""
                    conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {values} FROM staged.{table} s {where}")
                    inserted[table] = rows.get(table, 0) - found
                if vectors == "carried" and store_model is None and archive_model is not None:
                    conn.execute("INSERT INTO store_meta VALUES ('embedding_model', ?)", [archive_model])
                conn.execute("DELETE FROM fulltext_state")  # the word index is rebuilt on the next search
        except HonchoError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a key repeated inside the archive itself
            import duckdb

            if not isinstance(exc, duckdb.Error):
                raise
            raise InvalidInput(f"the archive cannot be stored: {str(exc).splitlines()[0]}; nothing was imported") from None
        finally:
            with contextlib.suppress(Exception):
                conn.execute("DETACH staged")
    finally:
        conn.close()
        turn.release()
    return ImportResult(
        workspaces=list(header["workspaces"]),
        rows={t: n for t, n in inserted.items() if n},
        skipped={t: n for t, n in skipped.items() if n},
        vectors=vectors,
    )


def _clash_condition(info: TableInfo, names: list[str]) -> str | None:
    """SQL true for a staged row `s` that meets an existing row on any key (all columns when keyless)."""
    keys = [k for k in info.keys if all(n in names for n in k)]
    if not keys:
        keys = [[n for n in names if not (info.column(n) and info.column(n).type.endswith("[]"))]]
    parts = []
    for key in keys:
        match = " AND ".join(f'd."{n}" IS NOT DISTINCT FROM s."{n}"' for n in key)
        parts.append(f"EXISTS (SELECT 1 FROM main.{info.name} d WHERE {match})")
    return " OR ".join(parts) if parts else None


def _example_clash(conn: duckdb.DuckDBPyConnection, table: str, info: TableInfo, names: list[str], clash: str) -> str:
    key = info.keys[0] if info.keys else names[:3]
    row = conn.execute(f"SELECT {', '.join(f's.{chr(34)}{n}{chr(34)}' for n in key)} FROM staged.{table} s WHERE {clash} LIMIT 1").fetchone()
    return ", ".join(f"{n}={v}" for n, v in zip(key, row or ()))


def _take_over_empty_workspaces(conn: duckdb.DuckDBPyConnection, header: dict[str, Any]) -> None:
    """A workspace that exists here but holds nothing (e.g. `default`, made on first use)
    takes the archive's metadata and creation time, so a round trip changes nothing."""
    for ws in header["workspaces"]:
        if not isinstance(ws, str):
            raise InvalidInput("the header's workspaces must be ids")
        if find_workspace(conn, ws) is None:
            continue
        if conn.execute("SELECT count(*) FROM staged.workspaces WHERE id = ?", [ws]).fetchone()[0] == 0:
            continue
        if any(conn.execute(f"SELECT count(*) FROM main.{t} WHERE workspace_id = ?", [ws]).fetchone()[0]
               for t in WORKSPACE_TABLES):
            continue
        conn.execute("DELETE FROM workspaces WHERE id = ?", [ws])


def default_output_name(workspaces: list[str] | None) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    what = "all" if workspaces is None else "-".join(workspaces)
    return f"honcho-{what}-{stamp}.jsonl"


def atomic_output(path: Path) -> contextlib.AbstractContextManager[IO[bytes]]:
    """Write beside `path` and rename on success: no half-written archive is ever left."""

    @contextlib.contextmanager
    def writer() -> Iterator[IO[bytes]]:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            raw = open(tmp, "wb")  # noqa: SIM115
        except OSError as exc:
            raise InvalidInput(f"cannot write {path}: {exc.strerror}", path=str(path)) from None
        try:
            if path.suffix == ".gz":
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
                    yield zipped  # type: ignore[misc]
            else:
                yield raw
            raw.close()
            tmp.replace(path)
        except BaseException:
            raw.close()
            tmp.unlink(missing_ok=True)
            raise

    return writer()
