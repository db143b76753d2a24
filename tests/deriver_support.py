"""Test doubles and checks for the deriver's tests (not collected by pytest itself).

`said_facts` is a scripted extraction answer for `DeterministicTestModel(responder=...)`,
the test double's documented hook: it reads the deriver's own prompt (one line of one
speaker) and answers with the line's own sentences, one note each. That is what a
perfectly obedient model would note, so what lands where is decided by the pipeline
alone (the line's speaker, grounding, the witness record).

`assert_witness_invariant` is THE invariant, run after every scenario: every
conclusion in (observer, observed) comes only from messages that observer witnessed
(recorded in message_witnesses when the message was created), and each of those was
sent while the observer was a member. Extracted (explicit) conclusions come from
messages of the observed peer; derived ones (consolidation) may cite any message the
observer witnessed, never another.

Run as a script, this module is a deriver worker in its own process, reasoning with
the scripted double over a data dir: `python deriver_support.py DATA_DIR [--delay S]`.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_LINE = re.compile(r"^([A-Za-z0-9_.@-]+)(?: \(answering \"[^\"]*\"\))?: (.*)$", re.DOTALL)


def prompt_line(prompt: str) -> tuple[str, str]:
    """(speaker, text) of the one line an extraction call asks about."""
    found = _LINE.match(prompt)
    assert found, prompt
    return found.group(1), found.group(2)


def is_extraction(system: str) -> bool:
    from honcho_cli.reasoning import prompts

    return system == prompts.EXTRACTION_INSTRUCTIONS


def extraction_calls(model) -> list[dict[str, Any]]:
    """The double's recorded extraction calls (other steps, e.g. summaries, also use the model)."""
    return [c for c in model.calls if is_extraction(c["system"])]


def said_facts(system: str, prompt: str, schema: dict[str, Any] | None) -> str | None:
    """Responder: every sentence of the line, one per line (None, i.e. the double's rules, otherwise)."""
    if not is_extraction(system):
        return None
    return "\n".join(re.split(r"(?<=[.!?])\s+", prompt_line(prompt)[1]))


_NOTE = re.compile(r"^(\d+)\. \[about ([A-Za-z0-9_-]+); heard in [^\]]*\] (.*)$")
_TARGET = re.compile(r"^TARGET: (\S+)$", re.MULTILINE)


def cite_everything(system: str, prompt: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Consolidation responder of a greedy model: one deduction citing as many notes as allowed,
    notes about other peers first, worded from their text so that it passes the checks."""
    from honcho_cli.reasoning import consolidation

    if system != consolidation.INSTRUCTIONS:
        return None
    target = _TARGET.search(prompt).group(1)
    found = [(int(m.group(1)), m.group(2), m.group(3)) for line in prompt.splitlines() if (m := _NOTE.match(line))]
    primary = [n for n in found if n[1] == target]
    if len(found) < 2 or not primary:
        return {"conclusions": []}
    cited = sorted({primary[0][0], *[n[0] for n in found if n[1] != target][:2], *[n[0] for n in primary[1:]]})[:4]
    content = " and ".join(text for number, _, text in found if number in cited)[:220]
    return {"conclusions": [{"level": "deductive", "content": content, "premises": cited}]}


def scripted_model(
    *,
    before: Callable[[str], None] | None = None,
    facts: Callable[[str], str] | None = None,
    delay: float = 0.0,
    consolidate: bool = False,
):
    """A DeterministicTestModel answering extraction calls with `said_facts` (or `facts(prompt)`, an answer text).

    `before(prompt)` runs inside each extraction call, while the deriver holds no store
    connection; it may raise (e.g. ModelError) to make the call fail. With `consolidate`,
    consolidation calls get `cite_everything`; other calls (summaries) get the
    double's rule-based answers.
    """
    from honcho_cli.reasoning.test_double import DeterministicTestModel

    def responder(system: str, prompt: str, schema: dict[str, Any] | None) -> Any:
        if not is_extraction(system):
            return cite_everything(system, prompt, schema) if consolidate else None
        if before is not None:
            before(prompt)
        if delay:
            time.sleep(delay)
        if facts is not None:
            return facts(prompt)
        return said_facts(system, prompt, schema)

    return DeterministicTestModel(responder=responder)


def make_deriver(h, model=None, *, vectors: bool = False, worker_id: str | None = None, **options: Any):
    from honcho_cli.reasoning.deriver import Deriver
    from honcho_cli.reasoning.test_double import DeterministicTestEmbedder

    index = None
    if vectors:
        from honcho_cli.store.vectors import VectorIndex

        index = VectorIndex(h.settings.vectors_path)
    return Deriver(h, model or scripted_model(), DeterministicTestEmbedder(), index, worker_id=worker_id, **options)


# -- what the store holds -------------------------------------------------------------


def conclusion_rows(h, *, include_deleted: bool = False, level: str | None = "explicit") -> list[dict[str, Any]]:
    """Conclusions as dicts, oldest first; extracted ones only unless `level=None`."""
    with h.store.read() as conn:
        rows = conn.execute(
            f"""SELECT id, observer, observed, content, session_id, source_message_ids, times_derived, deleted_at, level
                FROM conclusions WHERE workspace_id = ? {'' if include_deleted else 'AND deleted_at IS NULL'}
                ORDER BY created_at, id""",
            [h.workspace],
        ).fetchall()
    keys = ("id", "observer", "observed", "content", "session_id", "sources", "times_derived", "deleted_at", "level")
    return [row for row in (dict(zip(keys, r)) for r in rows) if level is None or row["level"] == level]


def collections(h, level: str | None = "explicit") -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Live conclusions by (observer, observed); extracted ones only unless `level=None`."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in conclusion_rows(h, level=level):
        out.setdefault((row["observer"], row["observed"]), []).append(row)
    return out


def queue_rows(h) -> list[dict[str, Any]]:
    with h.store.read() as conn:
        rows = conn.execute(
            "SELECT message_id, session_id, observed, status, attempts, lease_owner, error FROM deriver_queue WHERE workspace_id = ?",
            [h.workspace],
        ).fetchall()
    keys = ("message_id", "session_id", "observed", "status", "attempts", "lease_owner", "error")
    return [dict(zip(keys, r)) for r in rows]


# -- the invariant ------------------------------------------------------------------


def assert_witness_invariant(h, *, allow_unsourced: bool = False) -> int:
    """Check every conclusion (deleted ones too) against the witness record and membership history.

    Returns the number of conclusions checked, so a caller can also assert it is not zero.
    """
    with h.store.read() as conn:
        ws = [h.workspace]
        conclusions = conn.execute(
            "SELECT id, observer, observed, session_id, source_message_ids, content, level FROM conclusions WHERE workspace_id = ?",
            ws,
        ).fetchall()
        witnessed = {
            (r[0], r[1]): r[2]
            for r in conn.execute(
                "SELECT message_id, observer, observed FROM message_witnesses WHERE workspace_id = ?", ws
            ).fetchall()
        }
        messages = {
            r[0]: r[1:]
            for r in conn.execute("SELECT id, session_id, peer_id, inserted_at FROM messages WHERE workspace_id = ?", ws).fetchall()
        }
        stints: dict[tuple[str, str], list[tuple]] = {}
        for session_id, peer_id, joined, left in conn.execute(
            "SELECT session_id, peer_id, joined_at, left_at FROM memberships WHERE workspace_id = ?", ws
        ).fetchall():
            stints.setdefault((session_id, peer_id), []).append((joined, left))

    for cid, observer, observed, session_id, sources, content, level in conclusions:
        where = f"{level} conclusion {cid} {content!r} in ({observer}, {observed})"
        if not sources:
            assert allow_unsourced, f"{where} has no source messages"
            continue
        if observer != observed and level == "explicit":
            assert session_id is not None, f"{where} names no session"
        for message_id in sources:
            assert message_id in messages, f"{where}: source {message_id} is not a message"
            msg_session, sender, inserted_at = messages[message_id]
            assert (message_id, observer) in witnessed, f"{where}: {observer} did not witness {message_id}"
            assert witnessed[(message_id, observer)] == sender
            if level == "explicit":
                assert sender == observed, f"{where}: source {message_id} was sent by {sender}, not {observed}"
            if observer != sender:
                present = any(
                    joined <= inserted_at and (left is None or left > inserted_at)
                    for joined, left in stints.get((msg_session, observer), [])
                )
                assert present, f"{where}: {observer} was absent when {message_id} was sent"
    return len(conclusions)


# -- a worker in its own process -------------------------------------------------------


def _worker_main(argv: list[str]) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--worker-id")
    parser.add_argument("--gate", help="on the first model call: touch GATE/ready-<worker>, wait for GATE/go")
    args = parser.parse_args(argv)
    from honcho_cli import Honcho
    from honcho_cli.core import queue

    claimed: list[list[str]] = []
    claim = queue.claim_unit

    def recording_claim(*a: Any, **k: Any):
        unit = claim(*a, **k)
        if unit is not None:
            claimed.append(unit.message_ids)
        return unit

    queue.claim_unit = recording_claim  # the deriver looks it up on the module at each claim
    worker_id = args.worker_id or queue.new_worker_id()
    gated = [args.gate is None]

    def before(prompt: str) -> None:
        if gated[0]:
            return
        gated[0] = True
        gate = Path(args.gate)
        (gate / f"ready-{worker_id}").touch()
        deadline = time.monotonic() + 60
        while not (gate / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("gate never opened")
            time.sleep(0.01)

    h = Honcho(data_dir=args.data_dir)
    deriver = make_deriver(h, scripted_model(before=before, delay=args.delay), worker_id=worker_id)
    outcomes: list[str] = []
    stats = deriver.run(on_unit=lambda r: outcomes.append(r.outcome))
    print(json.dumps({"worker": worker_id, "claimed": claimed, "outcomes": outcomes, "stats": stats.to_dict()}))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(_worker_main(sys.argv[1:]))
