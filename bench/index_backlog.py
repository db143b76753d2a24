"""What the crash-safe read path costs: the backlog lookup before a LanceDB search.

    .venv/bin/python bench/index_backlog.py                # 100k and 500k conclusions
    .venv/bin/python bench/index_backlog.py --sizes 1M

A search that goes to LanceDB (a collection with an ANN index, or a store past
EXACT_SCAN_MAX_ROWS) first asks DuckDB which rows of the collection the index does not
follow yet (store/index_sync.collection_backlog). This builds a store of N conclusions
spread over 50 collections (Arrow bulk insert; every row marked indexed but 10 of the
measured collection), then times, in one process, 200 reads of:
  floor    a read transaction that runs `SELECT 1` (opening the store for a read)
  backlog  the same read running collection_backlog for one collection
and prints p50/p95 in ms, with the backlog's cost over the floor. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

COLLECTIONS = 50
PENDING = 10
REPS = 200


def build(data_dir: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa

    from honcho_cli import Honcho

    h = Honcho(data_dir=data_dir)
    h.create_peer("alice")
    start = datetime(2026, 1, 1)
    chunk = 100_000
    with h.store.write() as conn:
        for lo in range(0, n, chunk):
            k = min(chunk, n - lo)
            ids = [f"c_{lo + i:09d}" for i in range(k)]
            observed = [f"p{(lo + i) % COLLECTIONS:02d}" for i in range(k)]
            data = pa.table({
                "id": ids, "workspace_id": ["default"] * k, "observer": ["alice"] * k, "observed": observed,
                "content": ids, "normalized": ids, "level": ["explicit"] * k, "session_id": ["s"] * k,
                "times_derived": pa.array(np.ones(k, dtype=np.int32)),
                "created_at": pa.array([start + timedelta(seconds=lo + i) for i in range(k)], type=pa.timestamp("us")),
                "updated_at": pa.array([start + timedelta(seconds=lo + i) for i in range(k)], type=pa.timestamp("us")),
                "index_pending": pa.nulls(k, type=pa.int64()),
            })
            conn.register("incoming", data)
            names = ", ".join(data.column_names)
            conn.execute(f"INSERT INTO conclusions ({names}) SELECT {names} FROM incoming")
            conn.unregister("incoming")
        conn.execute(
            f"UPDATE conclusions SET index_pending = 0 WHERE id IN "
            f"(SELECT id FROM conclusions WHERE observed = 'p07' ORDER BY id DESC LIMIT {PENDING})"
        )


def measure(data_dir: Path) -> dict[str, list[float]]:
    from honcho_cli import Honcho
    from honcho_cli.store.index_sync import collection_backlog

    h = Honcho(data_dir=data_dir)
    out: dict[str, list[float]] = {"floor": [], "backlog": []}
    for _ in range(REPS):
        t = time.perf_counter()
        with h.store.read() as conn:
            conn.execute("SELECT 1").fetchone()
        out["floor"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        with h.store.read() as conn:
            backlog = collection_backlog(conn, "default", "alice", "p07")
        out["backlog"].append((time.perf_counter() - t) * 1000)
        assert len(backlog.pending) == PENDING
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,500k")
    args = parser.parse_args()
    sizes = [int(float(s[:-1]) * {"k": 1_000, "M": 1_000_000}[s[-1]]) if s[-1] in "kM" else int(s) for s in args.sizes.split(",")]
    print(f"{'conclusions':>12} {'floor p50':>10} {'backlog p50':>12} {'backlog p95':>12} {'extra p50':>10}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as root:
            build(Path(root), n)
            got = measure(Path(root))
        p50 = {k: statistics.median(v) for k, v in got.items()}
        p95 = statistics.quantiles(got["backlog"], n=20)[18]
        print(f"{n:>12,} {p50['floor']:>9.2f}ms {p50['backlog']:>11.2f}ms {p95:>11.2f}ms {p50['backlog'] - p50['floor']:>9.2f}ms")


if __name__ == "__main__":
    main()
