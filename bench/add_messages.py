#!/usr/bin/env python3
"""How fast messages go in: whole `honcho` processes, a JSONL import, and the Python API.

    .venv/bin/python bench/add_messages.py [--n 50] [--parallel 8] [--import-lines 10000] [--api-calls 200]

Everything runs against a throw-away data dir. Rows:
  - `add-message` x N: N `honcho session add-message` processes one after another;
    wall time of the whole loop (process start, imports, store open, write, exit).
  - `add-message` x N, P at once: the same N processes spread over P parallel shell-like
    workers on one session, as a `&` loop or parallel CI jobs would do.
  - `--file` import: one process importing an N-line JSONL file, wall time of the process.
  - `Honcho.add_message`: in-process calls, latency per call (p50/p95).
Peak RSS is per child process (from wait4), the largest seen in that row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def honcho_command() -> list[str]:
    script = Path(sys.executable).parent / "honcho"
    if script.exists():
        return [str(script)]
    found = shutil.which("honcho")
    return [found] if found else [sys.executable, "-m", "honcho_cli"]


HONCHO = honcho_command()


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Run one honcho process; (wall seconds, peak RSS in KiB, CPU seconds) of that process."""
    start = time.perf_counter()
    proc = subprocess.Popen([*HONCHO, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"honcho {' '.join(args)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench_single_processes(env: dict[str, str], n: int) -> dict:
    walls, peak, cpu = [], 0, 0.0
    start = time.perf_counter()
    for i in range(n):
        wall, rss, used = run(["session", "add-message", "bench", "--peer", "alice", f"single message {i} about pancakes"], env)
        walls.append(wall)
        peak = max(peak, rss)
        cpu += used
    total = time.perf_counter() - start
    return {"row": f"add-message x {n} (one at a time)", "messages": n, "seconds": total, "rate": n / total,
            "p50_ms": statistics.median(walls) * 1000, "p95_ms": percentile(walls, 0.95) * 1000, "rss_kib": peak,
            "cpu_ms": cpu / n * 1000}


def bench_parallel_processes(env: dict[str, str], n: int, workers: int) -> dict:
    walls: list[float] = []
    peaks: list[int] = []
    cpus: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(k: int, count: int) -> None:
        try:
            for i in range(count):
                wall, rss, used = run(["session", "add-message", "bench", "--peer", f"w{k}", f"parallel {k}-{i}"], env)
                with lock:
                    walls.append(wall)
                    peaks.append(rss)
                    cpus.append(used)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    counts = [n // workers + (1 if k < n % workers else 0) for k in range(workers)]
    threads = [threading.Thread(target=worker, args=(k, c)) for k, c in enumerate(counts)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - start
    if errors:
        raise SystemExit(f"parallel writer failed: {errors[0]}")
    return {"row": f"add-message x {n} ({workers} at once)", "messages": n, "seconds": total, "rate": n / total,
            "p50_ms": statistics.median(walls) * 1000, "p95_ms": percentile(walls, 0.95) * 1000, "rss_kib": max(peaks),
            "cpu_ms": sum(cpus) / n * 1000}


def bench_import(env: dict[str, str], lines: int, workdir: Path) -> dict:
    path = workdir / "import.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(lines):
            peer = ("alice", "bob", "charlie")[i % 3]
            f.write(json.dumps({"peer": peer, "content": f"imported message {i}: I had pancakes for breakfast."}) + "\n")
    wall, rss, used = run(["session", "add-message", "bench", "--file", str(path)], env)
    return {"row": f"--file import of {lines:,} lines", "messages": lines, "seconds": wall, "rate": lines / wall,
            "p50_ms": None, "p95_ms": None, "rss_kib": rss, "cpu_ms": used / lines * 1000}


def bench_api(data_dir: Path, calls: int) -> dict:
    from honcho_cli import Honcho

    h = Honcho(data_dir=data_dir)
    h.add_message("bench", "alice", "warm-up")  # first call pays the imports and the schema check
    latencies = []
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for i in range(calls):
        t0 = time.perf_counter()
        h.add_message("bench", "alice", f"api message {i} about waffles")
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {"row": f"Honcho.add_message x {calls} (in process)", "messages": calls, "seconds": total, "rate": calls / total,
            "p50_ms": statistics.median(latencies) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
            "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "cpu_ms": cpu / calls * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="single add-message processes (default 50)")
    parser.add_argument("--parallel", type=int, default=8, help="parallel workers for the concurrent row; 0 skips it")
    parser.add_argument("--import-lines", type=int, default=10_000, help="lines in the --file import (default 10,000)")
    parser.add_argument("--api-calls", type=int, default=200, help="in-process Honcho.add_message calls (default 200)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="honcho-bench-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        env = dict(os.environ, HONCHO_DATA_DIR=str(data_dir), HONCHO_CONFIG_DIR=str(workdir / "config"))
        for name in ("HONCHO_WORKSPACE_ID", "HONCHO_JSON", "HONCHO_LOCK_TIMEOUT"):
            env.pop(name, None)
        os.environ.update(HONCHO_DATA_DIR=env["HONCHO_DATA_DIR"], HONCHO_CONFIG_DIR=env["HONCHO_CONFIG_DIR"])

        peers = ["alice", "bob", "charlie"] + [f"w{k}" for k in range(max(args.parallel, 0))]
        for peer in peers:
            run(["peer", "create", peer], env)
        run(["session", "create", "bench", "--peers", ",".join(peers)], env)
        run(["session", "set-peer-config", "bench", "alice", "--observe-others"], env)  # witnesses are part of the cost

        rows = [bench_single_processes(env, args.n)]
        if args.parallel > 0:
            rows.append(bench_parallel_processes(env, args.n, args.parallel))
        rows.append(bench_import(env, args.import_lines, workdir))
        rows.append(bench_api(data_dir, args.api_calls))
        children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    cpu = platform.processor() or platform.machine()
    print(f"honcho add-message benchmark - {os.cpu_count()} CPU(s) {cpu}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    header = (f"{'':44} {'messages':>9} {'seconds':>9} {'msg/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms/msg':>10} "
              f"{'peak RSS':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
        p95 = f"{r['p95_ms']:.1f}" if r["p95_ms"] is not None else "-"
        print(f"{r['row']:44} {r['messages']:>9,} {r['seconds']:>9.2f} {r['rate']:>10,.1f} {p50:>8} {p95:>8} "
              f"{r['cpu_ms']:>10.2f} {r['rss_kib'] / 1024:>7.0f}MB")
    print(f"peak RSS of any child process (getrusage RUSAGE_CHILDREN): {children_peak / 1024:.0f} MB")
    print("p50/p95 for processes: wall time of one whole process; for the API: one call.")
    print("CPU ms/msg: user+system CPU per message (of the processes, or of this process for the API row);")
    print("unlike wall time it hardly moves when other jobs share the machine.")


if __name__ == "__main__":
    main()
