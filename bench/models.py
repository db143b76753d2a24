"""Measure the local models: pull, load, one fact extraction, embedding throughput.

    python bench/models.py                 # models already in the user cache
    python bench/models.py --pull          # also time a fresh pull into a scratch cache

Each model runs in its own subprocess so peak RSS and load time are its own. Figures
drift with machine load; the load average is printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHAT_MODELS = ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]

SYSTEM = (
    "You read chat messages and write down facts about the people who sent them. "
    "Only write facts a message states; never guess. Each fact is one short sentence naming the person. "
    'Answer with JSON: {"facts": [{"peer": name, "fact": sentence}]}.'
)
SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {"peer": {"type": "string", "maxLength": 40}, "fact": {"type": "string", "maxLength": 160}},
                "required": ["peer", "fact"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["facts"],
    "additionalProperties": False,
}
# The seed document's three messages (representation-scopes.md, Python example).
PROMPT = "Messages:\nbob: I had pancakes for breakfast.\ncharlie: I prefer waffles.\ncharlie: I didn't have breakfast. I lied to Bob.\n"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_chat(name: str) -> dict:
    from honcho_cli.reasoning.llm import LlamaChatModel
    from honcho_cli.reasoning.model_files import model_path

    started = time.perf_counter()
    model = LlamaChatModel(model_path(name))
    load = time.perf_counter() - started
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        answer = model.complete_json(SYSTEM, PROMPT, SCHEMA, 512)
        runs.append(time.perf_counter() - t)
    usage = model.usage
    return {
        "model": name,
        "load_s": round(load, 2),
        "extract_first_s": round(runs[0], 2),
        "extract_repeat_s": round(statistics.median(runs[1:]), 2),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "gen_tok_s": round(usage.completion_tokens / usage.seconds, 1) if usage.seconds else None,
        "peak_rss_mb": round(_rss_mb()),
        "facts": answer["facts"],
    }


def bench_embedding() -> dict:
    from honcho_cli.reasoning.embedding import LlamaEmbedder
    from honcho_cli.reasoning.model_files import model_path

    started = time.perf_counter()
    embedder = LlamaEmbedder(model_path("minilm-l6-v2"))
    load = time.perf_counter() - started
    base = ["I had pancakes for breakfast.", "I prefer waffles.", "I didn't have breakfast. I lied to Bob.",
            "Alice is training for a marathon in April.", "Bob works night shifts at the hospital."]
    embedder.embed(base)
    singles = []
    for i in range(50):
        t = time.perf_counter()
        embedder.embed([base[i % 5]])
        singles.append(time.perf_counter() - t)
    short = [f"{base[i % 5]} Noted on day {i}." for i in range(1000)]
    t = time.perf_counter()
    embedder.embed(short)
    short_rate = len(short) / (time.perf_counter() - t)
    long = [" ".join(base) + f" Entry {i}. " + " ".join(reversed(base)) for i in range(200)]
    t = time.perf_counter()
    embedder.embed(long)
    long_rate = len(long) / (time.perf_counter() - t)
    query = embedder.embed(["breakfast food"])[0]
    ranked = sorted(zip((embedder.embed(base) @ query).tolist(), base), reverse=True)
    return {
        "model": "minilm-l6-v2",
        "load_s": round(load, 3),
        "single_ms_p50": round(statistics.median(singles) * 1000, 2),
        "short_per_s": round(short_rate),
        "long_per_s": round(long_rate),
        "short_tokens": len(embedder._llm.tokenize(short[0].encode())),
        "long_tokens": len(embedder._llm.tokenize(long[0].encode())),
        "peak_rss_mb": round(_rss_mb()),
        "breakfast_food_top": ranked[0][1],
    }


def time_pull(names: list[str]) -> list[dict]:
    """Fresh pulls into a scratch cache (deleted afterwards): the user cache is untouched."""
    from honcho_cli.reasoning.model_files import pull

    scratch = Path(tempfile.mkdtemp(prefix="honcho-bench-cache-"))
    os.environ["HONCHO_CACHE_DIR"] = str(scratch)
    try:
        out = []
        for name in names:
            result = pull(name)
            out.append({"model": name, "pull_s": round(result.seconds, 1), "bytes": result.size})
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        del os.environ["HONCHO_CACHE_DIR"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pull", action="store_true", help="time fresh pulls into a scratch cache first")
    parser.add_argument("--models", nargs="*", default=CHAT_MODELS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(bench_embedding() if args.one == "minilm-l6-v2" else bench_chat(args.one)))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if args.pull:
        for row in time_pull([*args.models, "minilm-l6-v2"]):
            print(json.dumps(row), flush=True)
    for name in [*args.models, "minilm-l6-v2"]:
        proc = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True)
        print(proc.stdout.strip() or json.dumps({"model": name, "error": proc.stderr.strip()[-500:]}), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
