#!/usr/bin/env python3
"""Moving a store: `honcho export`, `honcho import` and `honcho push`, against raw-engine floors.

    .venv/bin/python bench/portability.py [--messages 100000] [--push-messages 10000] [--keep DIR]

Builds a throw-away store shaped like one the deriver has worked through: `--messages`
messages in sessions of 1,000 between two peers (one observing the other), written
through the Python API (witnesses and queue rows included); then, in SQL for speed, a
384-d vector for every message, one conclusion with a vector per ten messages, and the
queue marked done but for the last 1%. Rows:

  - export: one `honcho export --all -o FILE` process; messages/s and its peak RSS.
  - import: one `honcho import FILE` process into an empty data dir; messages/s, peak RSS.
  - floor (export): DuckDB alone copying the messages table to JSON lines
    (`COPY (SELECT ...) TO ... (FORMAT JSON)`).
  - floor (import): DuckDB alone loading that file back (`read_json`).
    Each floor runs in its own process, so its peak RSS stands beside honcho's.
  - push: `honcho push` of a `--push-messages` store into `honcho serve --no-worker` on
    loopback; floor: the official SDK adding the same messages, 100 per call, to the same
    server, with nothing else (no peers' settings, membership replay or conclusions).

Peak RSS is per child process (wait4). Also printed: `python -c "import duckdb"`, the
machine's start-up floor, to compare runs across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HONCHO = [str(Path(sys.executable).parent / "honcho")]


def run(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """One honcho process: (wall seconds, peak RSS KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([*HONCHO, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"honcho {' '.join(args)} failed: {err}")
    return wall, usage.ru_maxrss


def build_store(data_dir: Path, messages: int, *, reasoned: bool = True) -> None:
    from honcho_cli import Honcho

    h = Honcho(data_dir=data_dir)
    h.create_peer("alice")
    h.create_peer("bob")
    per_session = 1_000
    sessions = max(1, messages // per_session)
    for s in range(sessions):
        sid = f"s{s:05d}"
        h.create_session(sid, ["alice", "bob"], {"n": s})
        h.set_peer_config(sid, "alice", observe_others=True)
        count = min(per_session, messages - s * per_session)
        h.add_messages(sid, [
            {"peer": "bob" if i % 2 else "alice",
             "content": f"Message {i} of session {s}: I walked {i % 40} km to the market and bought {i % 7} apples."}
            for i in range(count)
        ])
    if not reasoned:
        return
    with h.store.write() as conn:
        conn.execute("""INSERT INTO message_embeddings (workspace_id, message_id, embedding) SELECT workspace_id, id,
                        list_transform(range(384), x -> (random() - 0.5)::FLOAT) FROM messages""")
        conn.execute("""INSERT INTO conclusions (id, workspace_id, observer, observed, content, normalized, level, session_id,
                            source_message_ids, premise_ids, times_derived, embedding, created_at, updated_at)
                        SELECT 'c_' || id, workspace_id, peer_id, peer_id, peer_id || ' walked to the market ' || seq_in_session,
                               lower(peer_id || ' walked to the market ' || seq_in_session), 'explicit', session_id, [id], [],
                               1, list_transform(range(384), x -> (random() - 0.5)::FLOAT), created_at, created_at
                        FROM messages WHERE seq_in_session % 10 = 0""")
        total = conn.execute("SELECT count(*) FROM deriver_queue").fetchone()[0]
        conn.execute(f"""UPDATE deriver_queue SET status = 'completed', attempts = 1 WHERE rowid IN
                         (SELECT rowid FROM deriver_queue ORDER BY created_at LIMIT {int(total * 0.99)})""")
        conn.execute("INSERT INTO store_meta VALUES ('embedding_model', 'bench-random-384') ON CONFLICT DO NOTHING")


_FLOOR = """
import sys, time, duckdb
source, out, target = sys.argv[1:4]
if source != "-":
    conn = duckdb.connect(source, read_only=True)
    start = time.perf_counter()
    conn.execute(f"COPY (SELECT * FROM messages ORDER BY workspace_id, session_id, seq_in_session) TO '{out}' (FORMAT JSON)")
else:
    conn = duckdb.connect(target)
    start = time.perf_counter()
    conn.execute(f"CREATE TABLE messages AS SELECT * FROM read_json('{out}')")
print(time.perf_counter() - start)
"""


def _floor_child(args: list[str]) -> tuple[float, int]:
    """DuckDB alone in its own process: (seconds of the copy itself, peak RSS KiB of the process)."""
    proc = subprocess.Popen([sys.executable, "-c", _FLOOR, *args], stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = float(proc.stdout.read().decode().strip() or "nan")
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the DuckDB floor failed")
    return seconds, usage.ru_maxrss


def floors(data_dir: Path, scratch: Path) -> dict:
    import duckdb

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import duckdb"], check=True)
    import_floor = time.perf_counter() - start
    out = scratch / "raw.jsonl"
    conn = duckdb.connect(str(data_dir / "honcho.duckdb"), read_only=True)
    count = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    conn.close()
    export_raw, export_rss = _floor_child([str(data_dir / "honcho.duckdb"), str(out), "-"])
    import_raw, import_rss = _floor_child(["-", str(out), str(scratch / "raw.duckdb")])
    return {"import_duckdb_s": import_floor, "raw_export_s": export_raw, "raw_import_s": import_raw, "messages": count,
            "raw_export_rss_kib": export_rss, "raw_import_rss_kib": import_rss}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([*HONCHO, "serve", "--port", str(port), "--no-worker"], env={**env, "HONCHO_DATA_DIR": str(data_dir)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("honcho serve did not start")


def bench_push(scratch: Path, n: int, env: dict[str, str]) -> dict:
    from honcho import Honcho as Remote
    from honcho.api_types import MessageCreateParams

    source = scratch / "push-source"
    build_store(source, n, reasoned=False)
    server, url = serve(scratch / "push-server", env)
    try:
        wall, rss = run(["push", "--url", url], {**env, "HONCHO_DATA_DIR": str(source)})
        remote = Remote(base_url=url, workspace_id="floor", max_retries=0, timeout=120)
        from honcho_cli import Honcho

        h = Honcho(data_dir=source)
        start = time.perf_counter()
        for session in h.list_sessions():
            target = remote.session(session.id)
            items = h.list_messages(session.id)
            for i in range(0, len(items), 100):
                target.add_messages([MessageCreateParams(peer_id=m.peer_id, content=m.content) for m in items[i:i + 100]])
        raw = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"messages": n, "push_s": wall, "push_rss_kib": rss, "sdk_floor_s": raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--push-messages", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the store here instead of a temporary dir")
    parser.add_argument("--skip-push", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")} | {"HONCHO_MODEL": "test-double"}
    scratch = Path(tempfile.mkdtemp(prefix="honcho-bench-portability-"))
    try:
        store = args.keep or scratch / "store"
        if not (store / "honcho.duckdb").exists():
            start = time.perf_counter()
            build_store(store, args.messages)
            print(f"built a {args.messages:,}-message store in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        archive = scratch / "store.jsonl"
        export_s, export_rss = run(["export", "--all", "-o", str(archive)], {**env, "HONCHO_DATA_DIR": str(store)})
        import_s, import_rss = run(["import", str(archive)], {**env, "HONCHO_DATA_DIR": str(scratch / "imported")})
        floor = floors(store, scratch)
        n = floor["messages"]
        rows = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
            "messages": n,
            "archive_mib": round(archive.stat().st_size / 2**20, 1),
            "export": {"seconds": round(export_s, 2), "messages_per_s": round(n / export_s), "peak_rss_mib": round(export_rss / 1024)},
            "import": {"seconds": round(import_s, 2), "messages_per_s": round(n / import_s), "peak_rss_mib": round(import_rss / 1024)},
            "floor_raw_duckdb_export_messages_only_s": round(floor["raw_export_s"], 2),
            "floor_raw_duckdb_import_messages_only_s": round(floor["raw_import_s"], 2),
            "floor_raw_duckdb_export_peak_rss_mib": round(floor["raw_export_rss_kib"] / 1024),
            "floor_raw_duckdb_import_peak_rss_mib": round(floor["raw_import_rss_kib"] / 1024),
            "ratio_export_to_floor": round(export_s / floor["raw_export_s"], 1),
            "ratio_import_to_floor": round(import_s / floor["raw_import_s"], 1),
            "python_import_duckdb_s": round(floor["import_duckdb_s"], 3),
        }
        if not args.skip_push:
            pushed = bench_push(scratch, args.push_messages, env)
            rows["push"] = {
                "messages": pushed["messages"], "seconds": round(pushed["push_s"], 2),
                "messages_per_s": round(pushed["messages"] / pushed["push_s"]), "peak_rss_mib": round(pushed["push_rss_kib"] / 1024),
                "floor_sdk_add_messages_s": round(pushed["sdk_floor_s"], 2),
                "ratio_to_floor": round(pushed["push_s"] / pushed["sdk_floor_s"], 2),
            }
        print(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
