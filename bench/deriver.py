#!/usr/bin/env python3
"""How fast the deriver reasons, and what the pipeline costs on top of the model.

    .venv/bin/python bench/deriver.py [--model qwen2.5-coder-0.5b] [--messages 30] [--peers 3]
                                      [--observer-messages 12] [--threads N] [--repeat 1]

Everything runs in this process against throw-away data dirs, with the models loaded
once. Rows:
  (a) messages reasoned per second: N messages from a few peers over three sessions
      (one peer observes the others), then one `Deriver.run()` until the queue is empty.
  (b) pipeline vs raw llama-cpp-python: every prompt the deriver sent in (a) was
      captured by wrapping the chat model; the same prompts are replayed, in the same
      order, straight on the same `llama_cpp.Llama` object (KV cache reset first) with
      the same grammar and sampling. Overhead = deriver wall time / raw wall time (aim
      <= 1.15). Also printed: the deriver's time outside model calls, measured within
      the same run, which a busy machine disturbs much less than two separate runs.
  (c) one observer vs five observers of the same messages: the same messages, with the
      same timestamps (so the same prompts), in a session with 1 and with 5 observers.
      Ratio = time(5) / time(1) (aim <= 1.2); with --repeat, the best of each.
  (d) peak RSS of this process (getrusage).
Summaries and consolidation are off: this measures reasoning over messages. On a
machine shared with other CPU-heavy work, llama.cpp's threads wait on each other:
try --threads 1 and compare.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STATEMENTS = [
    "I moved to Lisbon last March for a new job.",
    "My sister Ana works as a nurse in Porto.",
    "I have been learning to play the cello for two years.",
    "I am allergic to peanuts, so I never eat satay.",
    "We adopted a grey cat called Miso in the spring.",
    "I run five kilometres every morning before work.",
    "My favourite book is The Left Hand of Darkness.",
    "I quit coffee in January and only drink green tea now.",
    "I am planning a trip to Japan with my brother in October.",
    "I work as a data engineer at a shipping company.",
    "My grandmother taught me to bake sourdough bread.",
    "I broke my wrist skiing in the Alps two winters ago.",
    "I volunteer at the city library on Saturdays.",
    "I grew up on a farm near Cork in Ireland.",
    "I just finished a course in Portuguese and passed the exam.",
    "My partner and I are saving to buy a flat by the sea.",
    "I collect old film cameras and have about forty of them.",
    "I am training for the Berlin marathon next September.",
    "My daughter starts primary school this autumn.",
    "I can't stand horror films, they give me nightmares.",
    "I used to be a chef in a French restaurant in Dublin.",
    "I keep bees on the roof of our building.",
    "My best friend Tomas lives in Montreal.",
    "I switched from Windows to Linux on all my computers.",
    "I am reading a biography of Ada Lovelace.",
    "I go climbing at an indoor wall twice a week.",
    "My father was a lighthouse keeper in Galicia.",
    "I am vegetarian and have been since I was sixteen.",
    "I speak Spanish at home with my mother.",
    "I sold my car last year and now cycle everywhere.",
    "I play chess online most evenings.",
    "My brother is getting married in Seville in June.",
]


class CapturingChat:
    """Passes every call to the real chat model and records what was asked and how long it took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    @property
    def usage(self):
        return self.inner.usage

    def complete_json(self, system: str, prompt: str, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        return self.inner.complete_json(system, prompt, schema, max_tokens)

    def complete(self, system: str, prompt: str, max_tokens: int, *, examples: Any = ()) -> str:
        started = time.perf_counter()
        try:
            return self.inner.complete(system, prompt, max_tokens, examples=examples)
        finally:
            self.calls.append({
                "system": system, "prompt": prompt, "examples": list(examples), "max_tokens": max_tokens,
                "seconds": time.perf_counter() - started, "completion_tokens": self.inner.usage.completion_tokens,
                "prompt_tokens": self.inner.usage.prompt_tokens,
            })

    def stream(self, system: str, prompt: str, max_tokens: int, **kwargs: Any):
        return self.inner.stream(system, prompt, max_tokens, **kwargs)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def new_store(root: Path, name: str):
    from honcho_cli import Honcho

    return Honcho(data_dir=root / name)


def deriver_for(h, chat, embedder):
    from honcho_cli.reasoning.deriver import Deriver
    from honcho_cli.store.vectors import VectorIndex

    vectors = VectorIndex(h.settings.vectors_path, dimensions=embedder.dimensions)
    return Deriver(h, chat, embedder, vectors, summaries=False, consolidation=False)


def reset_kv_cache(chat) -> None:
    """Start a measured run without a prompt prefix cached by the previous one."""
    llm = getattr(chat, "_llm", None)
    if llm is not None:
        llm.reset()


def scenario_messages(root: Path, n: int, peers: int):
    """(a): n messages from `peers` speakers over three sessions; the first peer observes the others."""
    h = new_store(root, "throughput")
    names = [f"peer{i}" for i in range(peers)]
    for name in names:
        h.create_peer(name)
    sessions = [f"s{i}" for i in range(3)]
    for s in sessions:
        h.create_session(s, peers=names)
        h.set_peer_config(s, names[0], observe_others=True)
    start = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)
    for i in range(n):
        speaker = names[1 + i % (peers - 1)] if peers > 1 else names[0]
        h.add_message(sessions[i % 3], speaker, STATEMENTS[i % len(STATEMENTS)], created_at=start + timedelta(minutes=i))
    return h


def scenario_observers(root: Path, observers: int, n: int):
    """(c): the same n messages from two speakers, heard by `observers` peers."""
    h = new_store(root, f"observers-{observers}")
    listeners = [f"listener{i}" for i in range(observers)]
    for name in ["bob", "carol", *listeners]:
        h.create_peer(name)
    h.create_session("room", peers=["bob", "carol", *listeners])
    for name in listeners:
        h.set_peer_config("room", name, observe_others=True)
    start = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)
    for i in range(n):
        h.add_message("room", "bob" if i % 2 == 0 else "carol", STATEMENTS[i % len(STATEMENTS)], created_at=start + timedelta(minutes=i))
    return h


def count_conclusions(h) -> int:
    with h.store.read() as conn:
        return conn.execute("SELECT count(*) FROM conclusions WHERE deleted_at IS NULL").fetchone()[0]


def replay_raw(llm: Any, calls: list[dict[str, Any]], *, seed: int) -> tuple[float, int]:
    """The captured prompts straight on a llama_cpp.Llama, same turns and sampling as the backend."""
    llm.reset()
    total = 0.0
    mismatched = 0
    for call in calls:
        turns = [{"role": "system", "content": call["system"]}]
        for asked, answered in call["examples"]:
            turns += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
        started = time.perf_counter()
        response = llm.create_chat_completion(
            messages=turns + [{"role": "user", "content": call["prompt"]}],
            max_tokens=call["max_tokens"], temperature=0.0, seed=seed, top_k=1, repeat_penalty=1.0,
        )
        total += time.perf_counter() - started
        mismatched += response["usage"]["completion_tokens"] != call["completion_tokens"]
    return total, mismatched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="chat model: catalog name or .gguf path (default: the catalog default)")
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--peers", type=int, default=3)
    parser.add_argument("--observer-messages", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of (c) per observer count; the best is kept")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away data dirs")
    args = parser.parse_args()

    from honcho_cli.config import resolve_settings
    from honcho_cli.reasoning.backends import check_models_present, load_embedder
    from honcho_cli.reasoning.llm import DEFAULT_SEED, LlamaChatModel
    from honcho_cli.reasoning.model_files import resolve_chat_model
    from honcho_cli.reasoning.native import default_threads

    root = Path(tempfile.mkdtemp(prefix="honcho-bench-deriver-"))
    settings = resolve_settings(data_dir=root / "unused", model=args.model)
    model_path = resolve_chat_model(settings)
    check_models_present(settings)
    started = time.perf_counter()
    threads = args.threads or default_threads()
    real_chat, embedder = LlamaChatModel(model_path, n_threads=threads), load_embedder(settings)
    load_seconds = time.perf_counter() - started
    print(f"model {model_path.name}, embedder {type(embedder).__name__}, {threads} threads, loaded in {load_seconds:.1f}s")
    print(f"python {platform.python_version()}, {platform.machine()}, data under {root}")

    # (a) throughput, capturing every prompt
    chat = CapturingChat(real_chat)
    h = scenario_messages(root, args.messages, args.peers)
    reset_kv_cache(real_chat)
    stats = deriver_for(h, chat, embedder).run()
    if stats.failed:
        print(f"warning: {stats.failed} units failed", file=sys.stderr)
    model_seconds = sum(c["seconds"] for c in chat.calls)
    print(
        f"(a) {stats.messages} messages, {stats.units} units, {len(chat.calls)} model calls in {stats.seconds:.1f}s: "
        f"{stats.messages / stats.seconds:.2f} messages/s; {stats.stored} facts kept, {stats.dropped} dropped, "
        f"{count_conclusions(h)} conclusion rows"
    )
    print(f"    model calls took {model_seconds:.1f}s of it ({100 * model_seconds / stats.seconds:.0f}%); "
          f"prompt tokens {sum(c['prompt_tokens'] for c in chat.calls)}, generated {sum(c['completion_tokens'] for c in chat.calls)}")

    # (b) the same prompts on raw llama-cpp-python, right after (a)
    raw_seconds, mismatched = replay_raw(real_chat._llm, chat.calls, seed=DEFAULT_SEED)
    print(
        f"(b) raw llama-cpp-python on the same {len(chat.calls)} prompts: {raw_seconds:.1f}s; deriver {stats.seconds:.1f}s; "
        f"overhead {stats.seconds / raw_seconds:.3f}x (aim <= 1.15)"
        + (f"; {mismatched} answers differed in length" if mismatched else "")
    )
    print(f"    outside model calls the deriver spent {stats.seconds - model_seconds:.2f}s: "
          f"{(stats.seconds - model_seconds) / model_seconds:.3f} of its model time")

    # (c) one observer vs five, same messages and prompts
    best: dict[int, tuple[float, float]] = {}
    for _ in range(args.repeat):
        for observers in (1, 5):
            ho = scenario_observers(root, observers, args.observer_messages)
            capture = CapturingChat(real_chat)
            reset_kv_cache(real_chat)
            run = deriver_for(ho, capture, embedder).run()
            outside = run.seconds - sum(c["seconds"] for c in capture.calls)
            print(f"(c) {observers} observer(s): {run.messages} messages, {run.units} units, {len(capture.calls)} model calls "
                  f"in {run.seconds:.1f}s ({outside:.2f}s outside the model), {count_conclusions(ho)} conclusion rows")
            if observers not in best or run.seconds < best[observers][0]:
                best[observers] = (run.seconds, outside)
            shutil.rmtree(root / f"observers-{observers}", ignore_errors=True)
    print(f"    five observers / one observer = {best[5][0] / best[1][0]:.2f}x (aim <= 1.2); "
          f"outside the model {best[1][1]:.2f}s -> {best[5][1]:.2f}s")
    print(f"(d) peak RSS {peak_rss_mb():.0f} MB (chat model + embedder + store + LanceDB, one process)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
