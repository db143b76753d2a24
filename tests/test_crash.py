"""`kill -9` in the middle of a batch import leaves the store exactly as it was.

A real `honcho session add-message --file` process imports a large JSONL file; the test
watches /proc until that process holds the DuckDB file open for writing (it only opens
it for the write itself), lets it work for a while, then SIGKILLs it. The store must
then open and hold exactly what it held before: every message, witness and queue row.
An import that finished before the kill proves nothing, so it does not count: the test
retries with a bigger file until it has several kills that landed inside the write.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HONCHO
from helpers import table_counts, witnesses

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to see when the import writes")


def _holds(pid: int, path: Path) -> bool:
    """Does process `pid` have the store file open right now?"""
    target = str(path)
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False


def _snapshot(h) -> tuple:
    with h.store.read() as conn:
        messages = conn.execute(
            "SELECT id, session_id, peer_id, content, seq_in_session FROM messages ORDER BY session_id, seq_in_session"
        ).fetchall()
    return table_counts(h), messages, witnesses(h)


def _write_import(path: Path, lines: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(lines):
            f.write(json.dumps({"peer": "bob" if i % 2 else "alice", "content": f"imported line {i} about pancakes"}))
            f.write("\n")


def _import_and_kill(db: Path, batch: Path, hold_for: float) -> tuple[str, int | None]:
    """Start the import; SIGKILL it once it has held the store for `hold_for` seconds.

    Returns ("killed", returncode) when the kill was sent while the process held the
    store, or ("finished", returncode) when it let go of the store before that.
    """
    proc = subprocess.Popen([*HONCHO, "session", "add-message", "s", "--file", str(batch)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        held_since = None
        while proc.poll() is None:
            if _holds(proc.pid, db):
                held_since = held_since or time.monotonic()
                if time.monotonic() - held_since >= hold_for:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=60)
                    return "killed", proc.returncode
            elif held_since is not None:
                # let go: either the short schema check before the write, or the write is over
                held_since = None
            time.sleep(0.002)
        return "finished", proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        if proc.stderr:
            err = proc.stderr.read().decode("utf-8", "replace")
            assert "Traceback" not in err, err
            proc.stderr.close()


def test_kill_9_during_a_big_import_leaves_the_store_as_before(h, data_dir, tmp_path, run_cli):
    h.create_peer("alice")
    h.create_peer("bob")
    h.create_session("s", peers=["alice", "bob"])
    h.set_peer_config("s", "alice", observe_others=True)
    for i in range(3):
        h.add_message("s", "bob", f"kept {i}")
    db = h.settings.database_path

    lines = 200_000
    batch = tmp_path / "big.jsonl"
    _write_import(batch, lines)

    plan = [0.15, 0.9, 1.8]  # seconds inside the write: early, middle, late
    kills_inside = 0
    attempts = 0
    while kills_inside < 3:
        attempts += 1
        assert attempts <= 8, f"could not kill an import mid-write in {attempts - 1} attempts"
        hold_for = plan[(attempts - 1) % len(plan)]
        before = _snapshot(h)

        outcome, returncode = _import_and_kill(db, batch, hold_for)
        print(f"attempt {attempts}: {lines} lines, held {hold_for}s -> {outcome} ({returncode})")
        after = _snapshot(h)  # the store opens (and replays its log) after the crash
        added = after[0]["messages"] - before[0]["messages"]

        assert added in (0, lines), f"partial import: {added} of {lines} rows survived"
        if outcome == "killed" and returncode == -signal.SIGKILL and added == 0:
            assert after == before
            kills_inside += 1
            continue
        # the import won the race (committed before the kill, or finished): not evidence
        # either way, but it must be whole; try again with a bigger file
        assert added == lines, (outcome, returncode, added)
        lines *= 2
        _write_import(batch, lines)

    # the store is fully usable afterwards, by the CLI too, and numbering continues
    expected_seq = max(seq for *_, seq in _snapshot(h)[1]) + 1
    code, message, _ = run_cli("session", "add-message", "s", "--peer", "bob", "after the crashes")
    assert code == 0 and message["seq_in_session"] == expected_seq
