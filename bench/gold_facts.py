#!/usr/bin/env python3
"""Does the memory remember what each speaker said, about the right speaker, and at what cost?

    .venv/bin/python bench/gold_facts.py [--model qwen2.5-coder-0.5b] [--fixtures NAME,...]
                                         [--threads N] [--show] [--out FILE.json]

For each conversation in fixtures/conversations/*.json (sessions, members, who
observes whom, messages, and a gold list of the personal facts each speaker states):
a fresh data dir, the messages written in order, one `Deriver.run()` with the real
models, then every view is read back and scored.

- recall: a gold fact counts as remembered in a view when one stored conclusion of
  that view contains all of its keys (each key: alternatives split by "|", matched at
  the start of a word, case-insensitive). Measured in each speaker's self view (all
  their facts) and in every other member's directional view (the facts said in the
  sessions where that member observed them).
- wrong speaker: a stored conclusion that matches a gold fact of another speaker and
  none of its own view's speaker.
- bad items: a question, a dialogue line with its speaker label, left in the first
  or second person, the subject repeated as its own object ("Tobin bought a lantern
  from Tobin"); plus everything stored, printed with --show, for a human read.
- leaks: a conclusion drawn from a message of a session the observer was not in
  (the witness invariant, seen from the benchmark).
- cost: the deriver's wall time (models loaded, summaries off, as `deriver run`
  spends it on reasoning) against the floor: the same model prefilling the same
  messages once (`name: text` lines), measured in the same run on the same llama.cpp
  object; wall and CPU time both (on a shared machine the CPU ratio is the steadier one).
  Also: prompt and generated tokens per message token.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from model_usage import CountingChat  # noqa: E402
FIXTURES = REPO / "fixtures" / "conversations"


def normalise(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9:]+", " ", text.lower()).strip() + " "


def matches(content: str, keys: list[str]) -> bool:
    text = normalise(content)
    return all(any(" " + normalise(alt).strip() in text for alt in key.split("|")) for key in keys)


_FIRST_PERSON = re.compile(r"\bI\b|\b(?:my|me|mine|myself)\b", re.IGNORECASE)


def flaws(content: str, names: set[str]) -> list[str]:
    out = []
    if content.rstrip(" \"')").endswith("?"):
        out.append("question")
    label = re.match(r"\s*([A-Za-z0-9_-]+)\s*:\s", content)
    if label and label.group(1).lower() in names:
        out.append("speaker label")
    if re.search(r"\bI\b", content) or re.search(r"\b(?:my|me|myself)\b|(?<!the )(?<!a )\bmine\b", content, re.IGNORECASE):
        out.append("first person")
    reported = re.search(r"\bsaid that (.*)$", content)
    if reported and len(re.findall(r"[A-Za-z0-9']+", reported.group(1))) < 3:
        out.append("fragment")
    if reported and re.match(r"(?:We|They|It|He|She|The|A|An|This|That|There)\b", reported.group(1)):
        out.append("capital mid-sentence")
    if re.search(r"\b(?:the|a|an) [A-Z][a-z]+'s\b", content):
        out.append("name where a noun was")
    if re.search(r"\b(?:you|your|yours)\b", content, re.IGNORECASE):
        out.append("second person")
    subject = re.match(r"([A-Z][a-z]+) ", content)
    if subject and re.search(rf"^{subject.group(1)} \w+ {subject.group(1)}\b(?!')|\b(?:from|by) {subject.group(1)}\b", content):
        out.append("subject as its own object")
    return out


def load(names: list[str] | None) -> list[tuple[str, dict[str, Any]]]:
    paths = sorted(FIXTURES.glob("*.json"))
    if names:
        paths = [p for p in paths if p.stem in names]
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in paths]


def ingest(h, fixture: dict[str, Any]) -> list[str]:
    """Write the fixture into the store; returns every message text in order (for the floor)."""
    lines = []
    peers = sorted({p for s in fixture["sessions"] for p in s["peers"]})
    for peer in peers:
        h.create_peer(peer)
    for session in fixture["sessions"]:
        h.create_session(session["id"], peers=session["peers"])
        for peer in session.get("observe_others", []):
            h.set_peer_config(session["id"], peer, observe_others=True)
        start = datetime.fromisoformat(session["start"].replace("Z", "+00:00"))
        for i, (peer, text) in enumerate(session["messages"]):
            h.add_message(session["id"], peer, text, created_at=(start + timedelta(minutes=i)).isoformat())
            lines.append(f"{peer}: {text}")
    return lines


def views_to_score(fixture: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(observer, observed) -> the gold facts that view should hold."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    sessions = {s["id"]: s for s in fixture["sessions"]}
    for speaker, facts in fixture["gold"].items():
        out[(speaker, speaker)] = list(facts)
        observers = {p for s in fixture["sessions"] for p in s.get("observe_others", []) if p != speaker and speaker in s["peers"]}
        for observer in sorted(observers):
            seen = [
                f for f in facts
                if observer in sessions[f.get("session") or fixture["sessions"][0]["id"]].get("observe_others", [])
                and observer in sessions[f.get("session") or fixture["sessions"][0]["id"]]["peers"]
            ]
            if seen:
                out[(observer, speaker)] = seen
    return out


def score(h, fixture: dict[str, Any]) -> dict[str, Any]:
    names = {p.lower() for s in fixture["sessions"] for p in s["peers"]}
    with h.store.read() as conn:
        rows = conn.execute(
            "SELECT observer, observed, content FROM conclusions WHERE workspace_id = ? AND deleted_at IS NULL AND level = 'explicit'",
            [h.workspace],
        ).fetchall()
        sourced = conn.execute(
            """SELECT DISTINCT c.observer, c.observed, c.content, m.session_id
               FROM conclusions c, unnest(c.source_message_ids) AS s(id) JOIN messages m ON m.id = s.id
               WHERE c.workspace_id = ? AND c.deleted_at IS NULL""",
            [h.workspace],
        ).fetchall()
    stored: dict[tuple[str, str], list[str]] = {}
    for observer, observed, content in rows:
        stored.setdefault((observer, observed), []).append(content)
    gold = fixture["gold"]
    sessions = {s["id"]: s for s in fixture["sessions"]}
    views = []
    wrong = bad = leaks = total = 0
    flagged: list[str] = []
    for (observer, observed), expected in views_to_score(fixture).items():
        items = stored.get((observer, observed), [])
        found = [f for f in expected if any(matches(c, f["keys"]) for c in items)]
        views.append({
            "observer": observer, "observed": observed, "gold": len(expected), "recalled": len(found),
            "recall": len(found) / len(expected), "stored": len(items),
            "missed": [f["fact"] for f in expected if f not in found],
        })
    for (observer, observed), items in stored.items():
        own = gold.get(observed, [])
        for content in items:
            total += 1
            if not any(matches(content, f["keys"]) for f in own) and any(
                matches(content, f["keys"]) for speaker, facts in gold.items() if speaker != observed for f in facts
            ):
                wrong += 1
                flagged.append(f"wrong speaker in ({observer}, {observed}): {content}")
            problems = flaws(content, names)
            if problems:
                bad += 1
                flagged.append(f"{'/'.join(problems)} in ({observer}, {observed}): {content}")
    for observer, observed, content, session in sourced:
        if observer != observed and observer not in sessions[session]["peers"]:
            leaks += 1
            flagged.append(f"leak in ({observer}, {observed}) from {session}: {content}")
    return {"views": views, "stored": total, "wrong_speaker": wrong, "bad_items": bad, "leaks": leaks,
            "flagged": flagged, "all": {f"{o}->{d}": sorted(c) for (o, d), c in sorted(stored.items())}}


def prefill_floor(chat, lines: list[str]) -> tuple[float, float, int]:
    """Seconds (wall and CPU) for the same llama.cpp object to prefill the messages once, from an empty cache.

    CPU time is what to compare on a shared machine: wall time there depends on what else ran
    at that moment (the same floor took 23 s and 98 s in two runs), CPU time much less."""
    llm = chat._llm
    tokens = llm.tokenize("\n".join(lines).encode("utf-8"), add_bos=True, special=False)
    llm.reset()
    started, cpu = time.perf_counter(), time.process_time()
    llm.eval(tokens)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    llm.reset()
    return seconds, cpu_seconds, len(tokens)


def run_fixture(name: str, fixture: dict[str, Any], chat, embedder, root: Path) -> dict[str, Any]:
    from honcho_cli import Honcho
    from honcho_cli.reasoning.deriver import Deriver

    h = Honcho(data_dir=root / name)
    lines = ingest(h, fixture)
    floor, floor_cpu, floor_tokens = prefill_floor(chat, lines)
    counting = CountingChat(chat)
    chat._llm.reset()  # the deriver starts from an empty KV cache too
    deriver = Deriver(h, counting, embedder, None, summaries=False)
    started, cpu = time.perf_counter(), time.process_time()
    stats = deriver.run()
    wall, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    with h.store.read() as conn:
        message_tokens = conn.execute("SELECT sum(token_count) FROM messages WHERE workspace_id = ?", [h.workspace]).fetchone()[0]
    result = score(h, fixture)
    result.update({
        "fixture": name, "messages": len(lines), "units": stats.units, "failed": stats.failed,
        "dropped": stats.dropped, "deriver_seconds": wall, "prefill_floor_seconds": floor, "floor_tokens": floor_tokens,
        "ratio": wall / floor if floor else None, "deriver_cpu_seconds": cpu_seconds, "prefill_floor_cpu_seconds": floor_cpu,
        "cpu_ratio": cpu_seconds / floor_cpu if floor_cpu else None, "model_calls": counting.calls,
        "prompt_tokens": counting.prompt_tokens, "completion_tokens": counting.completion_tokens,
        "prefilled_tokens": counting.prefilled_tokens,
        "message_tokens": int(message_tokens or 0),
    })
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="chat model name or path (default: the configured one)")
    p.add_argument("--fixtures", default=None, help="comma-separated fixture names (default: all)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--show", action="store_true", help="print every stored conclusion")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.threads:
        from honcho_cli.reasoning import embedding, llm

        llm.default_threads = embedding.default_threads = lambda: args.threads
    from honcho_cli.config import resolve_settings
    from honcho_cli.reasoning.backends import load_chat, load_embedder
    from honcho_cli.reasoning.native import default_threads

    settings = resolve_settings(data_dir=tempfile.gettempdir(), model=args.model)
    started = time.perf_counter()
    chat, embedder = load_chat(settings), load_embedder(settings)
    load_seconds = time.perf_counter() - started
    root = Path(tempfile.mkdtemp(prefix="honcho-gold-"))
    results = []
    try:
        for name, fixture in load(args.fixtures.split(",") if args.fixtures else None):
            print(f"-- {name}", file=sys.stderr, flush=True)
            results.append(run_fixture(name, fixture, chat, embedder, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    model_name = getattr(chat, "path", Path(str(args.model))).name
    print(f"model {model_name}, {args.threads or default_threads()} threads, models loaded in {load_seconds:.1f} s")
    print(f"{'fixture':<18} {'view':<16} {'recall':>8}  stored")
    for r in results:
        for v in r["views"]:
            print(f"{r['fixture']:<18} {v['observer'] + '->' + v['observed']:<16} {v['recalled']:>3}/{v['gold']:<3} {v['recall']:>4.0%}  {v['stored']}")
    print()
    print(f"{'fixture':<18} {'msgs':>4} {'stored':>6} {'wrong':>6} {'bad':>4} {'leaks':>5} {'deriver s':>9} "
          f"{'floor s':>7} {'ratio':>6} {'cpu ratio':>9} {'prefilled/msg tok':>17} {'gen tok':>7}")
    for r in results:
        print(f"{r['fixture']:<18} {r['messages']:>4} {r['stored']:>6} {r['wrong_speaker']:>6} {r['bad_items']:>4} {r['leaks']:>5} "
              f"{r['deriver_seconds']:>9.1f} {r['prefill_floor_seconds']:>7.2f} {r['ratio']:>5.2f}x {r['cpu_ratio']:>8.2f}x "
              f"{r['prefilled_tokens'] / max(r['message_tokens'], 1):>16.2f}x {r['completion_tokens']:>7}")
    views = [v for r in results for v in r["views"]]
    print(f"\nviews with recall >= 80%: {sum(v['recall'] >= 0.8 for v in views)}/{len(views)}; "
          f"mean recall {sum(v['recall'] for v in views) / len(views):.0%}; "
          f"wrong speaker {sum(r['wrong_speaker'] for r in results)}/{sum(r['stored'] for r in results)}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    for r in results:
        for line in r["flagged"]:
            print(f"  {r['fixture']}: {line}")
        if args.show:
            for view, items in r["all"].items():
                print(f"  [{r['fixture']} {view}]")
                for item in items:
                    print(f"     - {item}")
            for v in r["views"]:
                for missed in v["missed"]:
                    print(f"  {r['fixture']} {v['observer']}->{v['observed']} missed: {missed}")
    if args.out:
        Path(args.out).write_text(json.dumps({"model": model_name, "results": results}, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
