#!/usr/bin/env python3
"""A bounded request load test of `honcho serve` on loopback: concurrent clients adding
messages and reading representations, then a count of what the server kept.

    .venv/bin/python bench/server_load.py [--clients 20] [--seconds 30] [--max-requests 20000]
                                          [--read-ratio 0.5] [--model test-double] [--json]

It starts `honcho serve` itself (127.0.0.1, a free port, a throw-away data dir, the
background worker on) and stops it at the end; every client stops at the deadline or
when the shared request budget is spent, whichever comes first. With the default
`--model test-double` the model answers instantly, so the figures are the HTTP + store
cost; `--model NAME` runs the configured local model instead.

Each client has its own session with the agent peer (who observes others); a request is
either one message added (the client's peer speaks) or the agent's view of that peer read
(POST .../representation). At the end the server's message count per session is compared
with the adds that returned 201: `lost` must be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

V3 = "/v3/workspaces/load"


def honcho_command() -> list[str]:
    script = Path(sys.executable).parent / "honcho"
    if script.exists():
        return [str(script)]
    found = shutil.which("honcho")
    return [found] if found else [sys.executable, "-m", "honcho_cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Budget:
    def __init__(self, total: int, deadline: float) -> None:
        self.left = total
        self.deadline = deadline
        self.lock = threading.Lock()

    def take(self) -> bool:
        if time.monotonic() >= self.deadline:
            return False
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def client_loop(i: int, url: str, budget: Budget, read_ratio: float, out: dict) -> None:
    peer, session = f"user-{i}", f"chat-{i}"
    adds: list[float] = []
    reads: list[float] = []
    errors: list[str] = []
    ok_ids: list[str] = []
    attempted = 0
    n = 0
    with httpx.Client(base_url=url, timeout=120) as http:
        while budget.take():
            n += 1
            read = (n * read_ratio) % 1.0 < read_ratio and n > 1  # a deterministic interleaving
            started = time.perf_counter()
            try:
                if read:
                    r = http.post(f"{V3}/peers/agent/representation", json={"target": peer, "session_id": session})
                    (reads if r.status_code == 200 else errors).append(
                        time.perf_counter() - started if r.status_code == 200 else f"read {r.status_code}: {r.text[:200]}"
                    )
                else:
                    attempted += 1
                    body = {"messages": [{"peer_id": peer, "content": f"Message {n} from {peer}: I walked {n} km today."}]}
                    r = http.post(f"{V3}/sessions/{session}/messages", json=body)
                    if r.status_code == 201:
                        adds.append(time.perf_counter() - started)
                        ok_ids.extend(m["id"] for m in r.json())
                    else:
                        errors.append(f"add {r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{'read' if read else 'add'} {type(exc).__name__}: {exc}")
    out[i] = {"adds": adds, "reads": reads, "errors": errors, "ok_ids": ok_ids, "attempted_adds": attempted}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=20_000, help="shared budget across all clients")
    parser.add_argument("--read-ratio", type=float, default=0.5, help="share of requests that read a representation")
    parser.add_argument("--model", default="test-double", help="HONCHO_MODEL for the server (default: the test double)")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="after the run, wait this long at most for reasoning")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args()
    if not (1 <= args.clients <= 200 and 0 < args.seconds <= 600 and 1 <= args.max_requests <= 1_000_000):
        parser.error("keep it bounded: 1-200 clients, at most 600 s, at most 1,000,000 requests")

    root = Path(tempfile.mkdtemp(prefix="honcho-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_")}
    env.update(HONCHO_DATA_DIR=str(root / "data"), HONCHO_CONFIG_DIR=str(root / "config"), HONCHO_MODEL=args.model)
    if args.model != "test-double" and os.environ.get("HONCHO_CACHE_DIR"):
        env["HONCHO_CACHE_DIR"] = os.environ["HONCHO_CACHE_DIR"]
    log = open(root / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([*honcho_command(), "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env)
    summary: dict = {}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{(root / 'serve.log').read_text()}")
            time.sleep(0.1)

        with httpx.Client(base_url=url, timeout=60) as http:
            assert http.post("/v3/workspaces", json={"id": "load"}).status_code == 200
            for i in range(args.clients):
                body = {"id": f"chat-{i}", "peers": {"agent": {"observe_others": True}, f"user-{i}": {}}}
                assert http.post(f"{V3}/sessions", json=body).status_code == 200

        results: dict = {}
        budget = Budget(args.max_requests, time.monotonic() + args.seconds)
        threads = [threading.Thread(target=client_loop, args=(i, url, budget, args.read_ratio, results)) for i in range(args.clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started

        adds = [x for r in results.values() for x in r["adds"]]
        reads = [x for r in results.values() for x in r["reads"]]
        errors = [e for r in results.values() for e in r["errors"]]
        with httpx.Client(base_url=url, timeout=120) as http:
            kept = {}
            for i in range(args.clients):
                page = http.post(f"{V3}/sessions/chat-{i}/messages/list", params={"size": 100, "page": 1}).json()
                kept[i] = page["total"]
            ok_ids = {m for r in results.values() for m in r["ok_ids"]}
            lost = sum(max(0, len(results[i]["ok_ids"]) - kept[i]) for i in range(args.clients))
            phantom = sum(max(0, kept[i] - len(results[i]["ok_ids"])) for i in range(args.clients))
            queue_at_end = http.get(f"{V3}/queue/status").json()
            drain_started = time.perf_counter()
            while True:
                status = http.get(f"{V3}/queue/status").json()
                if status["pending_work_units"] == 0 and status["in_progress_work_units"] == 0:
                    break
                if time.perf_counter() - drain_started > args.drain_seconds:
                    break
                time.sleep(0.5)
            drain = time.perf_counter() - drain_started
        summary = {
            "clients": args.clients, "seconds": round(wall, 2), "model": args.model, "read_ratio": args.read_ratio,
            "requests": len(adds) + len(reads) + len(errors),
            "throughput_rps": round((len(adds) + len(reads) + len(errors)) / wall, 1),
            "adds_ok": len(adds), "adds_per_s": round(len(adds) / wall, 1), "adds_attempted": sum(r["attempted_adds"] for r in results.values()),
            "reads_ok": len(reads), "reads_per_s": round(len(reads) / wall, 1),
            "errors": len(errors), "error_samples": errors[:5],
            "messages_on_server": sum(kept.values()), "distinct_ids_returned": len(ok_ids), "lost": lost, "phantom": phantom,
            "add_ms": {"p50": _ms(percentile(adds, 50)), "p95": _ms(percentile(adds, 95)), "p99": _ms(percentile(adds, 99))},
            "read_ms": {"p50": _ms(percentile(reads, 50)), "p95": _ms(percentile(reads, 95)), "p99": _ms(percentile(reads, 99))},
            "all_ms": {"p50": _ms(percentile(adds + reads, 50)), "p95": _ms(percentile(adds + reads, 95))},
            "reasoned_during_run": queue_at_end["completed_work_units"], "queue_after_run": queue_at_end["pending_work_units"],
            "drain_seconds_after_run": round(drain, 1), "queue_after_drain": status,
        }
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()
        server_log = (root / "serve.log").read_text(errors="replace")
        if summary:
            summary["server_tracebacks"] = server_log.count("Traceback")
        shutil.rmtree(root, ignore_errors=True)

    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['clients']} clients for {summary['seconds']} s on loopback, model {summary['model']}:")
        print(f"  {summary['requests']} requests, {summary['throughput_rps']} req/s "
              f"({summary['adds_per_s']} adds/s, {summary['reads_per_s']} reads/s), {summary['errors']} errors")
        print(f"  add message   p50 {summary['add_ms']['p50']} ms  p95 {summary['add_ms']['p95']} ms  p99 {summary['add_ms']['p99']} ms")
        print(f"  representation p50 {summary['read_ms']['p50']} ms  p95 {summary['read_ms']['p95']} ms  p99 {summary['read_ms']['p99']} ms")
        print(f"  messages: {summary['adds_ok']} acknowledged, {summary['messages_on_server']} on the server, "
              f"lost {summary['lost']}, phantom {summary['phantom']}")
        print(f"  reasoning: {summary['reasoned_during_run']} units done during the run, "
              f"{summary['queue_after_run']} pending at its end, drained {summary['drain_seconds_after_run']} s later "
              f"(pending {summary['queue_after_drain']['pending_work_units']})")
        for sample in summary["error_samples"]:
            print(f"  error: {sample}")
    return 0 if summary.get("lost") == 0 and summary.get("errors") == 0 else 1


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


if __name__ == "__main__":
    sys.exit(main())
