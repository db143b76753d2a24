"""Representation latency by collection size, collection isolation, and whole-process wall time.

    .venv/bin/python bench/representation.py                      # 1k, 10k, 100k (+ isolation, CLI)
    .venv/bin/python bench/representation.py --sizes 1k,10k,100k,1M
    .venv/bin/python bench/representation.py --only sizes --sizes 100k --keep

(a) Sizes: one store per size, each holding ONE collection (alice -> bob) of N synthetic
    conclusions (random unit vectors, 384 dims; chronological ids, dates, sessions and
    reinforcement counts like the deriver writes them) plus N/2 witnessed messages from bob.
    Rows go into DuckDB by Arrow bulk insert into the store's own `conclusions` table and
    into LanceDB through `VectorIndex.upsert` in big batches, so the ANN index is built
    the way the product builds it. Then, in a fresh child process per size (so its peak RSS
    is the query side's only): `Honcho.representation("alice", "bob", search_query=...)`
    over 50 distinct queries and 50 times without a query; p50/p95 in ms. The queries are
    embedded once, up front, with the real embedder (minilm-l6-v2) and handed back from a
    lookup: the timing is the retrieval, the embedding cost is reported on its own.
(b) Isolation: alice -> bob (1k: exact path; 10k: ANN path) alone, then the same store with
    50 other observers' collections of 10k each written interleaved in time with it (the
    deriver's order, so DuckDB cannot skip them by position).
(c) Whole process: wall medians of 5 runs of the installed `honcho` on a small realistic
    store (the seed's scenario + 300 embedded conclusions in alice -> bob), with peak RSS.

Stores are built under --root (default: a temp dir) and reused when --keep left them there.
Nothing here asserts; it prints tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIMS = 384
WORKSPACE = "default"
UPSERT_BATCH = 100_000
N_QUERIES = 50

TOPICS = [
    "breakfast", "pancakes", "coffee", "hiking", "the billing dispute", "his sister", "a job interview",
    "the new apartment", "chess", "running shoes", "a trip to Lisbon", "the dentist", "jazz records",
    "the garden", "a broken laptop", "learning Spanish", "the football match", "tax returns", "a podcast",
    "the neighbour's dog", "a birthday party", "sourdough bread", "the gym", "a camping trip", "night shifts",
]
VERBS = ["likes", "dislikes", "talked about", "is worried about", "plans to deal with", "mentioned",
         "is excited about", "complained about", "asked about", "recommended"]
QUERIES = [
    "What does Bob eat for breakfast?", "billing issues", "Bob's family", "hobbies and sports",
    "where does Bob live", "travel plans", "health and the dentist", "music taste", "work and career",
    "money and taxes", "pets", "cooking and baking", "weekend plans", "what stresses Bob", "languages",
    "technology problems", "friends and parties", "outdoor activities", "sleep and night shifts",
    "what Bob recommends", "food preferences", "exercise routine", "reading habits", "moving house",
    "games Bob plays", "coffee", "holidays", "Bob's sister", "shoes and clothes", "favourite team",
    "what Bob complained about", "plans for next year", "garden and plants", "what makes Bob happy",
    "job interview", "Bob's schedule", "cars and commuting", "the neighbour", "birthdays", "camping",
    "podcasts Bob listens to", "jazz", "chess openings", "bread", "Lisbon", "laptop repair",
    "Spanish lessons", "football", "apartment rent", "running",
]


# -- building stores -------------------------------------------------------------------------


def _ids(prefix: str, n: int) -> list[str]:
    return [prefix + secrets.token_urlsafe(12) for _ in range(n)]


def _unit_vectors(rng, n: int):
    import numpy as np

    v = rng.standard_normal((n, DIMS), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def _list_array(vectors):
    """A FLOAT[] (variable-size list) Arrow column from an (n, d) float32 matrix, without Python lists."""
    import numpy as np
    import pyarrow as pa

    n, d = vectors.shape
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1)))


def _insert_arrow(conn, table: str, data) -> None:
    names = ", ".join(data.column_names)
    conn.register("incoming_bench", data)
    try:
        conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM incoming_bench")
    finally:
        conn.unregister("incoming_bench")


def _setup_peers(h, observers: list[str]) -> None:
    for peer in ["alice", "bob", "charlie", *observers]:
        h.create_peer(peer)


def plan_collection(rng, observer: str, observed: str, n: int, start: datetime, span_days: float, sessions: list[str]):
    """Row data for one collection: dates ascending, reinforcement counts skewed like real ones."""
    import numpy as np

    seconds = np.sort(rng.uniform(0, span_days * 86400, n))
    created = [start + timedelta(seconds=float(s)) for s in seconds]
    topic = rng.integers(0, len(TOPICS), n)
    verb = rng.integers(0, len(VERBS), n)
    content = [f"{observed.capitalize()} {VERBS[v]} {TOPICS[t]} (note {i})" for i, (t, v) in enumerate(zip(topic, verb))]
    times = np.minimum(rng.geometric(0.6, n), 40).astype(np.int32)
    session_idx = np.minimum((seconds / (span_days * 86400) * len(sessions)).astype(int), len(sessions) - 1)
    return {
        "id": _ids("c_", n),
        "observer": [observer] * n,
        "observed": [observed] * n,
        "content": content,
        "normalized": [c.lower() for c in content],
        "level": [("explicit", "deductive", "inductive")[int(x)] for x in rng.choice(3, n, p=[0.7, 0.2, 0.1])],
        "session_id": [sessions[i] for i in session_idx],
        "source_message_ids": [["m_" + secrets.token_urlsafe(12)] for _ in range(n)],
        "times_derived": times,
        "created_at": created,
        "vectors": _unit_vectors(rng, n),
    }


def write_conclusions(h, plan: dict, order=None) -> None:
    """Arrow bulk insert into DuckDB (chunks), then VectorIndex.upsert in big batches."""
    import numpy as np
    import pyarrow as pa

    from honcho_cli.store.vectors import VectorIndex

    n = len(plan["id"])
    order = np.arange(n) if order is None else order
    chunk = 100_000
    with h.store.write() as conn:
        for lo in range(0, n, chunk):
            idx = order[lo : lo + chunk]
            take = lambda key: [plan[key][i] for i in idx]  # noqa: E731
            data = pa.table(
                {
                    "id": take("id"),
                    "workspace_id": [WORKSPACE] * len(idx),
                    "observer": take("observer"),
                    "observed": take("observed"),
                    "content": take("content"),
                    "normalized": take("normalized"),
                    "level": take("level"),
                    "session_id": take("session_id"),
                    "source_message_ids": pa.array(take("source_message_ids"), type=pa.list_(pa.string())),
                    "premise_ids": pa.array([[] for _ in idx], type=pa.list_(pa.string())),
                    "times_derived": pa.array(plan["times_derived"][idx], type=pa.int32()),
                    "embedding": _list_array(plan["vectors"][idx]),
                    "created_at": pa.array(take("created_at"), type=pa.timestamp("us")),
                    "updated_at": pa.array(take("created_at"), type=pa.timestamp("us")),
                }
            )
            _insert_arrow(conn, "conclusions", data)
    index = VectorIndex(h.settings.vectors_path, DIMS)
    for lo in range(0, n, UPSERT_BATCH):
        idx = order[lo : lo + UPSERT_BATCH]
        rows = [
            (plan["id"][i], WORKSPACE, plan["observer"][i], plan["observed"][i], plan["session_id"][i],
             plan["level"][i], plan["vectors"][i])
            for i in idx
        ]
        index.upsert(rows)
    mark_all_indexed(h)


def mark_all_indexed(h) -> None:
    """The conclusions are in LanceDB now: clear their sync markers, as the product's catch-up
    does (a row still marked is searched by an exact DuckDB scan instead, store/index_sync.py)."""
    with h.store.write() as conn:
        conn.execute("UPDATE conclusions SET index_pending = NULL WHERE index_pending IS NOT NULL")


def write_messages(h, rng, sender: str, observers: list[str], n: int, start: datetime, span_days: float,
                   sessions: list[str]) -> None:
    """n messages from `sender` spread over the sessions, witnessed by the sender and the observers."""
    import numpy as np
    import pyarrow as pa

    if n <= 0:
        return
    seconds = np.sort(rng.uniform(0, span_days * 86400, n))
    created = [start + timedelta(seconds=float(s)) for s in seconds]
    session_idx = np.minimum((seconds / (span_days * 86400) * len(sessions)).astype(int), len(sessions) - 1)
    ids = _ids("m_", n)
    seq = np.zeros(n, dtype=np.int64)
    counters: dict[int, int] = {}
    for i, s in enumerate(session_idx):
        counters[s] = counters.get(s, 0) + 1
        seq[i] = counters[s]
    msgs = pa.table(
        {
            "id": ids,
            "workspace_id": [WORKSPACE] * n,
            "session_id": [sessions[i] for i in session_idx],
            "peer_id": [sender] * n,
            "content": [f"{sender} says something about {TOPICS[i % len(TOPICS)]}" for i in range(n)],
            "metadata": ["{}"] * n,
            "created_at": pa.array(created, type=pa.timestamp("us")),
            "inserted_at": pa.array(created, type=pa.timestamp("us")),
            "seq_in_session": seq,
            "token_count": pa.array(np.full(n, 12, dtype=np.int32)),
        }
    )
    witnesses = pa.table(
        {
            "workspace_id": [WORKSPACE] * (n * (1 + len(observers))),
            "message_id": ids * (1 + len(observers)),
            "observer": [p for p in [sender, *observers] for _ in range(n)],
            "observed": [sender] * (n * (1 + len(observers))),
        }
    )
    with h.store.write() as conn:
        _insert_arrow(conn, "messages", msgs)
        _insert_arrow(conn, "message_witnesses", witnesses)


def _sessions_for(h, n_sessions: int, members: list[str], prefix: str = "s") -> list[str]:
    names = [f"{prefix}{i:05d}" for i in range(n_sessions)]
    with h.store.write() as conn:
        now = datetime(2024, 1, 1)
        conn.executemany("INSERT INTO sessions VALUES (?, ?, '{}', TRUE, ?)", [[WORKSPACE, s, now] for s in names])
        conn.executemany(
            "INSERT INTO memberships VALUES (?, ?, ?, ?, NULL)", [[WORKSPACE, s, p, now] for s in names for p in members]
        )
        conn.executemany(
            "INSERT INTO session_peer_config VALUES (?, ?, 'alice', NULL, TRUE)", [[WORKSPACE, s] for s in names]
        )
    return names


def build_size_store(data_dir: Path, n: int, seed: int = 7) -> float:
    import numpy as np

    from honcho_cli import Honcho

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    h = Honcho(data_dir=data_dir)
    _setup_peers(h, [])
    sessions = _sessions_for(h, max(1, n // 250), ["alice", "bob"])
    start, span = datetime(2023, 1, 1), 700.0
    write_messages(h, rng, "bob", ["alice"], n // 2, start, span, sessions)
    write_conclusions(h, plan_collection(rng, "alice", "bob", n, start, span, sessions))
    return time.perf_counter() - started


def build_isolation_store(data_dir: Path, own: int, others: int, per_other: int, seed: int = 11) -> float:
    """alice -> bob of `own` rows, plus `others` observers' collections of bob, interleaved in time."""
    import numpy as np

    from honcho_cli import Honcho

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    observers = [f"observer{i:02d}" for i in range(others)]
    h = Honcho(data_dir=data_dir)
    _setup_peers(h, observers)
    sessions = _sessions_for(h, 40, ["alice", "bob", *observers])
    start, span = datetime(2023, 1, 1), 700.0
    write_messages(h, rng, "bob", ["alice", *observers], own // 2, start, span, sessions)
    plans = [plan_collection(rng, "alice", "bob", own, start, span, sessions)]
    plans += [plan_collection(rng, o, "bob", per_other, start, span, sessions) for o in observers]
    merged = {key: [x for p in plans for x in p[key]] for key in plans[0] if key not in ("vectors", "times_derived")}
    merged["vectors"] = np.concatenate([p["vectors"] for p in plans])
    merged["times_derived"] = np.concatenate([p["times_derived"] for p in plans])
    order = np.argsort(np.array([c.timestamp() for c in merged["created_at"]]), kind="stable")
    write_conclusions(h, merged, order)
    return time.perf_counter() - started


def build_small_store(data_dir: Path, n: int = 300) -> float:
    """The seed's scenario through the CLI, then n embedded conclusions in alice -> bob (real embedder)."""
    started = time.perf_counter()
    env = dict(os.environ, HONCHO_DATA_DIR=str(data_dir), HONCHO=str(REPO / ".venv" / "bin" / "honcho"))
    subprocess.run(["bash", str(REPO / "fixtures" / "seed-scenario.sh")], check=True, env=env, capture_output=True)
    from honcho_cli import Honcho

    h = Honcho(data_dir=data_dir)
    import numpy as np

    rng = np.random.default_rng(3)
    texts = [
        f"Bob {VERBS[int(rng.integers(len(VERBS)))]} {TOPICS[int(rng.integers(len(TOPICS)))]} (said on day {i})"
        for i in range(n)
    ]
    texts[0] = "Bob had pancakes for breakfast"
    embedder = h.embedder()
    vectors = embedder.embed(texts)
    rows = []
    with h.store.write() as conn:
        from honcho_cli.core.conclusions import embeddings_of, record_conclusion

        for text, vec in zip(texts, vectors):
            rec = record_conclusion(conn, WORKSPACE, "alice", "bob", text, session_id="game-session",
                                    embedding=[float(x) for x in vec])
            rows.append(rec.id)
        index_rows = embeddings_of(conn, rows)
    from honcho_cli.store.vectors import VectorIndex

    VectorIndex(h.settings.vectors_path, DIMS).upsert(index_rows)
    return time.perf_counter() - started


# -- measuring (in a child process) ----------------------------------------------------------


class LookupEmbedder:
    """Hands back the query vectors embedded up front, so the timing is the retrieval only."""

    def __init__(self, texts: list[str], vectors) -> None:
        self.table = {t: v for t, v in zip(texts, vectors)}

    def embed(self, texts: list[str]):
        import numpy as np

        return np.stack([self.table[t] for t in texts])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure_child(data_dir: Path, queries_path: Path, observer: str, observed: str, n: int) -> dict:
    import numpy as np

    from honcho_cli import Honcho

    saved = np.load(queries_path)
    texts = json.loads(queries_path.with_suffix(".json").read_text())
    h = Honcho(data_dir=data_dir)
    h.engine.use(embedder=LookupEmbedder(texts, saved))
    t0 = time.perf_counter()
    first = h.representation(observer, observed, search_query=texts[0])
    cold_ms = (time.perf_counter() - t0) * 1000
    with_q, without_q, cpu_q, cpu_noq = [], [], [], []
    sizes = []
    for i in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        view = h.representation(observer, observed, search_query=texts[i % len(texts)])
        with_q.append((time.perf_counter() - t0) * 1000)
        cpu_q.append((time.process_time() - c0) * 1000)
        sizes.append(len(view.conclusions))
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        h.representation(observer, observed)
        without_q.append((time.perf_counter() - t0) * 1000)
        cpu_noq.append((time.process_time() - c0) * 1000)
    t0 = time.perf_counter()
    for i in range(n):
        h.representation(observer, observed, search_query=texts[i % len(texts)], include_most_frequent=True)
    freq_ms = (time.perf_counter() - t0) * 1000 / n
    from honcho_cli.store.vectors import has_ann_index

    try:
        from honcho_cli.core.conclusions import exact_scan_is_cheap
    except ImportError:  # an older honcho_cli on PYTHONPATH, for before/after runs
        cheap = True
    else:
        with h.store.read() as conn:
            cheap = exact_scan_is_cheap(conn)
    if has_ann_index(h.settings.vectors_path, WORKSPACE, observer, observed):
        path = "lancedb-ann"
    else:
        path = "duckdb-exact" if cheap else "lancedb-flat"
    return {
        "path": path,
        "first_ms": cold_ms,
        "first_size": len(first.conclusions),
        "q_p50": _pct(with_q, 0.5), "q_p95": _pct(with_q, 0.95),
        "noq_p50": _pct(without_q, 0.5), "noq_p95": _pct(without_q, 0.95),
        "q_cpu": _pct(cpu_q, 0.5), "noq_cpu": _pct(cpu_noq, 0.5),
        "freq_mean": freq_ms,
        "returned": statistics.median(sizes),
        "rss_mib": peak_rss_mib(),
    }


def peak_rss_mib() -> float:
    """This process's peak RSS. Not ru_maxrss: a child started by a big parent inherits the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {args}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed_process(cmd: list[str], env: dict, scratch: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one process.

    The RSS comes from /usr/bin/time, which starts the command itself: a process this
    (large) bench starts directly inherits its ru_maxrss.
    """
    report = scratch / "time.txt"
    wrapped = ["/usr/bin/time", "-f", "%M", "-o", str(report), *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    rss = float("nan")
    if wrapped is not cmd and report.exists():
        rss = int(report.read_text().split()[-1]) / 1024
    return wall, rss, proc.returncode


# -- orchestration -----------------------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "km" else text) * mult)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def embed_queries(root: Path) -> tuple[Path, float]:
    """Embed the 50 queries once with the real embedder; returns the file and ms per query."""
    import numpy as np

    from honcho_cli import Honcho

    h = Honcho(data_dir=root / "embedder-scratch")
    embedder = h.embedder()
    embedder.embed(["warm up"])
    times = []
    vectors = []
    for q in QUERIES[:N_QUERIES]:
        t0 = time.perf_counter()
        vectors.append(embedder.embed([q])[0])
        times.append((time.perf_counter() - t0) * 1000)
    path = root / "queries.npy"
    np.save(path, np.stack(vectors).astype(np.float32))
    path.with_suffix(".json").write_text(json.dumps(QUERIES[:N_QUERIES]))
    return path, statistics.median(times)


def ensure(store: Path, build, *args) -> str:
    marker = store / "BUILT"
    if marker.exists():
        return "reused"
    if store.exists():
        shutil.rmtree(store)
    seconds = build(store, *args)
    marker.write_text(f"{seconds:.1f}\n")
    return f"built in {seconds:.1f} s"


def bench_sizes(root: Path, sizes: list[int], queries: Path, n: int) -> None:
    rows = []
    for size in sizes:
        store = root / f"size-{label(size)}"
        how = ensure(store, build_size_store, size)
        print(f"  {label(size)}: store {how}", file=sys.stderr, flush=True)
        result = run_child(["--child", str(store), str(queries), "alice", "bob", str(n)])
        rows.append((size, result))
    print(f"\n(a) Honcho.representation('alice', 'bob', ...) in-process, one collection, {n} runs each (ms)")
    print("| conclusions | path | with query p50 | p95 | CPU p50 | no query p50 | p95 | CPU p50 "
          "| +most frequent, mean | first call | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, r in rows:
        print(
            f"| {label(size)} | {r['path']} | {r['q_p50']:.2f} | {r['q_p95']:.2f} | {r['q_cpu']:.2f} | "
            f"{r['noq_p50']:.2f} | {r['noq_p95']:.2f} | {r['noq_cpu']:.2f} | {r['freq_mean']:.2f} | "
            f"{r['first_ms']:.0f} | {r['rss_mib']:.0f} MiB |"
        )
    if len(rows) > 1:
        (s0, r0), (s1, r1) = rows[0], rows[-1]
        print(
            f"growth {label(s0)} -> {label(s1)}: with query x{r1['q_p50'] / r0['q_p50']:.2f}, "
            f"without x{r1['noq_p50'] / r0['noq_p50']:.2f} (p50)"
        )


def bench_isolation(root: Path, queries: Path, n: int, others: int, per_other: int, own_sizes: list[int]) -> None:
    print(f"\n(b) isolation: alice -> bob p50 (ms) alone, and with {others} other observers' collections "
          f"of {label(per_other)} each (interleaved in time)")
    print("| alice->bob | path (alone / with others) | alone, query | with others, query | alone, no query | with others, no query "
          "| alone, +frequent (mean) | with others, +frequent (mean) |")
    print("|---|---|---|---|---|---|---|---|")
    for own in own_sizes:
        alone = root / f"iso-{label(own)}-alone"
        crowd = root / f"iso-{label(own)}-with-{others}x{label(per_other)}"
        for store, args in ((alone, (own, 0, per_other)), (crowd, (own, others, per_other))):
            how = ensure(store, build_isolation_store, *args)
            print(f"  {store.name}: store {how}", file=sys.stderr, flush=True)
        a = run_child(["--child", str(alone), str(queries), "alice", "bob", str(n)])
        c = run_child(["--child", str(crowd), str(queries), "alice", "bob", str(n)])
        print(f"| {label(own)} | {a['path']} / {c['path']} | {a['q_p50']:.2f} | {c['q_p50']:.2f} | {a['noq_p50']:.2f} | "
              f"{c['noq_p50']:.2f} | {a['freq_mean']:.2f} | {c['freq_mean']:.2f} |")
        print(f"|  | CPU p50 | {a['q_cpu']:.2f} | {c['q_cpu']:.2f} | {a['noq_cpu']:.2f} | {c['noq_cpu']:.2f} |  |  |")


def bench_process(root: Path, runs: int) -> None:
    store = root / "small"
    how = ensure(store, build_small_store)
    print(f"  small store {how}", file=sys.stderr, flush=True)
    honcho = str(REPO / ".venv" / "bin" / "honcho")
    env = dict(os.environ, HONCHO_DATA_DIR=str(store))
    env.pop("HONCHO_JSON", None)
    cases = [
        ("honcho --help", [honcho, "--help"], 0.15),
        ("honcho representation alice --target bob", [honcho, "representation", "alice", "--target", "bob"], 0.3),
        ("honcho representation alice --target bob --search-query 'breakfast'",
         [honcho, "representation", "alice", "--target", "bob", "--search-query", "breakfast"], 0.6),
    ]
    python = str(REPO / ".venv" / "bin" / "python")
    references = [
        ("reference: python -c pass", [python, "-c", "pass"], None),
        ("reference: python -c 'import typer'", [python, "-c", "import typer"], None),
        ("reference: python -c 'import duckdb'", [python, "-c", "import duckdb"], None),
    ]
    print(f"\n(c) whole process, wall median of {runs} runs (+1 warm-up), small store (seed + 300 embedded conclusions)")
    print("| command | median | min | max | target | peak RSS |")
    print("|---|---|---|---|---|---|")
    for name, cmd, target in references + cases:
        timed_process(cmd, env, root)
        results = [timed_process(cmd, env, root) for _ in range(runs)]
        if any(code != 0 for _, _, code in results):
            raise SystemExit(f"{name} failed")
        walls = [w for w, _, _ in results]
        rss = max(r for _, r, _ in results)
        print(f"| `{name}` | {statistics.median(walls):.3f} s | {min(walls):.3f} | {max(walls):.3f} | "
              f"{f'<= {target} s' if target else '-'} | {rss:.0f} MiB |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, data_dir, queries, observer, observed, n = sys.argv
        print(json.dumps(measure_child(Path(data_dir), Path(queries), observer, observed, int(n))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1k,10k,100k", help="comma-separated collection sizes (e.g. 1k,10k,100k,1M)")
    parser.add_argument("--only", choices=["sizes", "isolation", "process"], action="append",
                        help="run only these parts (repeatable); default: all")
    parser.add_argument("--root", type=Path, help="where the stores are built (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (and reuse them next time)")
    parser.add_argument("--runs", type=int, default=N_QUERIES, help="queries per measurement")
    parser.add_argument("--others", type=int, default=50, help="other observers in the isolation store")
    parser.add_argument("--per-other", default="10k", help="size of each other observer's collection")
    args = parser.parse_args()
    parts = set(args.only or ["sizes", "isolation", "process"])
    root = args.root or Path(tempfile.mkdtemp(prefix="honcho-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ.pop("HONCHO_MODEL", None)  # the real embedder for the queries and the CLI runs
    os.environ.pop("HONCHO_EMBEDDING_MODEL", None)
    try:
        print(f"stores under {root}", file=sys.stderr)
        print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at start "
              "(wall times on a loaded machine inflate; the CPU columns much less)")
        if parts & {"sizes", "isolation"}:
            queries, embed_ms = embed_queries(root)
            print(f"query embedding (minilm-l6-v2, one query, in-process, warm): p50 {embed_ms:.1f} ms — "
                  "excluded from the retrieval figures below")
        if "sizes" in parts:
            bench_sizes(root, [parse_size(s) for s in args.sizes.split(",")], queries, args.runs)
        if "isolation" in parts:
            bench_isolation(root, queries, args.runs, args.others, parse_size(args.per_other), [1_000, 10_000])
        if "process" in parts:
            bench_process(root, 5)
        print(f"\npeak RSS of this orchestrating process (builds the stores): {peak_rss_mib():.0f} MiB")
    finally:
        if not args.keep and args.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
