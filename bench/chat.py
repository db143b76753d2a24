"""Chat latency against the raw llama.cpp floor, cold and warm, measured in one run.

    .venv/bin/python bench/chat.py                          # default model, 1 thread, 3 rounds
    .venv/bin/python bench/chat.py --threads 2 --rounds 5 --view locomo

The floor: a fresh process that imports llama_cpp, loads the chat model and answers a
~300-token prompt with 24 tokens (greedy, streamed), on the same threads. Measured beside:

- cold: `honcho chat alice QUESTION --target bob --stream --json` as a fresh process
  (NDJSON deltas): whole wall, time to the first delta, peak RSS; with no KV store, then
  with an empty one (the first question stores its KV), then another question to the
  same view starting from what the first stored.
- warm: a `honcho serve` on the same data directory, asked over HTTP with `stream: true`:
  the first question right after start-up (the models load at start), the same question
  again, another question to the same view. The CLI's `--server URL` hand-off is timed
  too: a fresh `honcho chat` process that sends the question to that server.

Rounds alternate floor / cold / warm so they share the machine's state; medians are
reported with ratios to the floor's median. The store: the seed's scenario plus 20
more messages from bob (`--view small`), or that plus 300 synthetic conclusions in
alice's view of bob (`--view locomo`). Conclusions are extracted by the deterministic
test double (the chat model's quality is not what is measured here) and embedded with
the real embedder, so the chat prompt holds realistic retrieved material. Prompt sizes
are printed. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
HONCHO = str(REPO / ".venv" / "bin" / "honcho")

BOB_SAYS = [
    "I walk my dog Rex every morning before work.", "My sister lives in Lisbon and I visit her every summer.",
    "I started learning Spanish last month.", "I work night shifts at the hospital on weekends.",
    "My favourite band is a jazz trio from Chicago.", "I bake sourdough bread on Sundays.",
    "I broke my laptop screen on Tuesday.", "I'm training for a half marathon in April.",
    "I can't stand coffee, I only drink tea.", "We adopted a cat called Miso in October.",
    "I play chess online most evenings.", "My dentist appointment is next Friday.",
    "I moved into a new apartment near the river.", "I lost my wallet at the football match.",
    "I'm saving money for a camping trip in Norway.", "My neighbour's dog barks all night.",
    "I listen to history podcasts while cooking.", "I prefer trains to planes for travel.",
    "I'm allergic to peanuts.", "My birthday party is on the 12th of May.",
]
QUESTIONS = ["What does Bob like?", "Where does Bob's sister live?"]
FLOOR_SCRIPT = r"""
import json, os, sys, time
started = time.perf_counter()
import llama_cpp
model_path, threads = sys.argv[1], int(sys.argv[2])
llm = llama_cpp.Llama(model_path=model_path, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
loaded = time.perf_counter()
filler = " ".join(f"Note {i}: Bob mentioned a detail about his week, his work and his friends." for i in range(18))
messages = [{"role": "system", "content": "You answer questions about a person from notes."},
            {"role": "user", "content": filler + "\nQUESTION: Write a long list of everything Bob did.\nANSWER:"}]
first = None
pieces = 0
for chunk in llm.create_chat_completion(messages=messages, max_tokens=24, temperature=0.0, top_k=1, stream=True):
    if chunk["choices"][0].get("delta", {}).get("content"):
        pieces += 1
        if first is None:
            first = time.perf_counter()
done = time.perf_counter()
print(json.dumps({"load": loaded - started, "first": first - started, "total": done - started,
                  "pieces": pieces, "n_tokens": llm.n_tokens}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_store(data_dir: Path, view: str) -> dict:
    """Seed scenario + bob's 20 messages, reasoned by the test double with the real embedder."""
    from honcho_cli import Honcho
    from honcho_cli.config import resolve_settings
    from honcho_cli.engine import Engine
    from honcho_cli.reasoning.deriver import open_deriver

    settings = resolve_settings(data_dir=data_dir, model="test-double", embedding_model="minilm-l6-v2")
    h = Honcho(engine=Engine(settings))
    for peer in ("alice", "bob", "charlie"):
        h.create_peer(peer)
    h.create_session("game-session", ["alice", "bob", "charlie"])
    h.set_peer_config("game-session", "alice", observe_others=True)
    h.add_message("game-session", "bob", "I had pancakes for breakfast.")
    h.add_message("game-session", "charlie", "I prefer waffles.")
    h.create_session("game-session-2", ["alice", "charlie"])
    h.set_peer_config("game-session-2", "alice", observe_others=True)
    h.add_message("game-session-2", "charlie", "I didn't have breakfast. I lied to Bob.")
    for text in BOB_SAYS:
        h.add_message("game-session", "bob", text)
    open_deriver(h, summaries=False).run()
    if view == "locomo":
        topics = ["hiking", "jazz", "his sister", "the billing dispute", "chess", "Lisbon", "the gym", "sourdough"]
        verbs = ["likes", "talked about", "is worried about", "mentioned", "plans to deal with"]
        items = [{"observer": "alice", "observed": "bob", "session_id": "game-session",
                  "content": f"Bob {verbs[i % len(verbs)]} {topics[(i * 7) % len(topics)]} on day {i}"} for i in range(300)]
        h.create_conclusions(items, embedder=h.embedder())
    n = len(h.list_conclusions(observer="alice", observed="bob"))
    return {"conclusions_alice_bob": n, "messages": len(h.list_messages())}


def run_floor(model_path: str, threads: int) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen([PYTHON, "-c", FLOOR_SCRIPT, model_path, str(threads)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    data = json.loads(out.decode().strip().splitlines()[-1])
    data["wall"] = wall
    return data


def run_cold(env: dict, question: str, extra: list[str] | None = None) -> dict:
    """One `honcho chat` process; first delta time read off its NDJSON stream; peak RSS from wait4."""
    cmd = [HONCHO, "chat", "alice", question, "--target", "bob", "--stream", "--json", *(extra or [])]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = None
    lines = []
    for raw in proc.stdout:
        lines.append(raw.decode())
        if first is None and raw.startswith(b'{"delta"'):
            first = time.perf_counter() - started
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0 or not lines:
        raise SystemExit(f"chat exited {os.waitstatus_to_exitcode(status)} with {lines!r}: {proc.stderr.read().decode()[-2000:]}")
    return {"wall": wall, "first": first, "rss_mib": usage.ru_maxrss / 1024, "answer": json.loads(lines[-1])["answer"]}


def ask_server(url: str, question: str) -> dict:
    body = json.dumps({"query": question, "target": "bob", "stream": True}).encode()
    request = urllib.request.Request(f"{url}/v3/workspaces/default/peers/alice/chat", data=body,
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    first = None
    text = []
    with urllib.request.urlopen(request, timeout=600) as response:
        for raw in response:
            if not raw.startswith(b"data: "):
                continue
            event = json.loads(raw[6:])
            piece = event.get("delta", {}).get("content")
            if piece and first is None:
                first = time.perf_counter() - started
            text.append(piece or "")
            if event.get("done"):
                break
    return {"first": first, "wall": time.perf_counter() - started, "answer": "".join(text)}


def start_server(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([HONCHO, "serve", "--port", str(port), "--no-worker", "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"honcho serve did not start: {proc.stderr.read().decode()[-2000:]}")


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="chat model name or path (default: the configured default)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads for the floor and honcho alike")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--view", choices=["small", "locomo"], default="small")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the store here")
    args = parser.parse_args()

    from honcho_cli.config import resolve_settings
    from honcho_cli.reasoning.model_files import resolve_chat_model

    model_path = str(resolve_chat_model(resolve_settings(model=args.model)))
    root = args.keep or Path(tempfile.mkdtemp(prefix="honcho-chat-bench-"))
    data_dir = root / args.view
    if not (data_dir / "honcho.duckdb").exists():
        print(f"store: {build_store(data_dir, args.view)}", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_") or k == "HONCHO_CACHE_DIR"}
    env.update(HONCHO_DATA_DIR=str(data_dir), HONCHO_THREADS=str(args.threads), HONCHO_CONFIG_DIR=str(root / "config"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed honcho has its bytecode cached, as llama_cpp does
    if args.model:
        env["HONCHO_MODEL"] = args.model

    floors, cold_plain, cold_first, cold_other, warm_first, warm_same, warm_other, handoff = ([] for _ in range(8))
    server_rss = []
    for round_no in range(args.rounds):
        kv = root / f"kv-{round_no}"  # a fresh KV store per round: what a round reuses, it stored itself
        shutil.rmtree(kv, ignore_errors=True)
        with_kv = {**env, "HONCHO_KV_CACHE": str(kv)}
        floors.append(run_floor(model_path, args.threads))
        cold_plain.append(run_cold({**env, "HONCHO_KV_CACHE": "0"}, QUESTIONS[0]))
        cold_first.append(run_cold(with_kv, QUESTIONS[0]))
        cold_other.append(run_cold(with_kv, QUESTIONS[1]))
        port = free_port()
        server = start_server({**env, "HONCHO_KV_CACHE": str(root / f"kv-server-{round_no}")}, port)
        url = f"http://127.0.0.1:{port}"
        try:
            warm_first.append(ask_server(url, QUESTIONS[0]))
            warm_same.append(ask_server(url, QUESTIONS[0]))
            warm_other.append(ask_server(url, QUESTIONS[1]))
            handoff.append(run_cold(env, QUESTIONS[0], ["--server", url]))
            server_rss.append(rss_of(server.pid))
        finally:
            server.terminate()
            server.wait(30)

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    floor_wall = med(floors, "wall")
    floor_first = med(floors, "first")
    load = os.getloadavg()
    print(f"\nchat on {Path(model_path).name}, {args.threads} thread(s), view {args.view!r}, medians of {args.rounds} rounds; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print(f"floor: load {med(floors, 'load'):.2f} s + ~300-token prompt + {floors[0]['pieces']} streamed pieces "
          f"(context {floors[0]['n_tokens']} tokens)")
    print("| measure | first delta | whole | first / floor whole | whole / floor whole | peak RSS |")
    print("|---|---|---|---|---|---|")
    print(f"| raw floor (new process) | {floor_first:.2f} s | {floor_wall:.2f} s | {floor_first / floor_wall:.2f}x | 1.00x | |")
    rows = [
        ("cold `honcho chat`, no KV store (`HONCHO_KV_CACHE=0`)", cold_plain, f"{max(r['rss_mib'] for r in cold_plain):.0f} MiB"),
        ("cold `honcho chat`, first question (stores its KV)", cold_first, ""),
        ("cold `honcho chat`, another question to the same view", cold_other, ""),
        ("serve: first question (right after start)", warm_first, f"{max(server_rss):.0f} MiB (server)"),
        ("serve: same question again", warm_same, ""),
        ("serve: another question, same view", warm_other, ""),
        ("`honcho chat --server URL` (new process)", handoff, f"{max(r['rss_mib'] for r in handoff):.0f} MiB"),
    ]
    for name, data, rss in rows:
        first, whole = med(data, "first"), med(data, "wall")
        print(f"| {name} | {first:.2f} s | {whole:.2f} s | {first / floor_wall:.2f}x | {whole / floor_wall:.2f}x | {rss} |")
    print(f"\nanswers: cold {cold_plain[-1]['answer']!r} / {cold_other[-1]['answer']!r}; warm {warm_other[-1]['answer']!r}")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
