"""`kill -9` of `honcho deriver run` at random points, again and again, then one normal run:
the memory must be exactly what an uninterrupted run writes, at once.

The store (120 messages, three peers, two sessions, an observer of others in both) is
copied byte for byte before anything is reasoned: one copy gets a clean run, the other
the kills. Both use the deterministic test double, so any difference in the conclusions
(content, sources, times_derived, dates, vectors), the summaries or the queue is damage.
Each kill is sent at a random moment after the run has taken a unit (the lease names its
process), so kills land in the model's work, in the commit, and in the vector catch-up.
The final run must not leave anything in progress: a dead worker's lease is noticed at
once, not after it expires.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time

import duckdb

from conftest import HONCHO, assert_no_traceback
from fault_support import cli_env, copy_store, memory, queue_counts

KILLS = 12
MESSAGES = 120
SAYINGS = [
    "I moved to Lisbon in {n} and I work as a nurse.",
    "My brother Tom plays chess every Sunday.",
    "I ran {n} kilometres this morning before breakfast.",
    "We adopted a cat called Miso last spring.",
    "I'm allergic to peanuts, so I skip the satay.",
    "My favourite book is Dune; I reread it in {n}.",
]


def _build(h) -> None:
    for peer in ("alice", "bob", "charlie"):
        h.create_peer(peer)
    h.create_session("morning", peers=["alice", "bob", "charlie"])
    h.create_session("evening", peers=["alice", "charlie"])
    for session in ("morning", "evening"):
        h.set_peer_config(session, "alice", observe_others=True)
    speakers = {"morning": ["bob", "charlie", "alice"], "evening": ["charlie", "alice"]}
    for i in range(MESSAGES):
        session = "morning" if i % 3 else "evening"
        who = speakers[session][i % len(speakers[session])]
        h.add_message(session, who, SAYINGS[i % len(SAYINGS)].format(n=2000 + i))


def _held_by(db, pid: int) -> int:
    """Queue items whose lease names this process (read-only look; 0 while the file is busy)."""
    try:
        conn = duckdb.connect(":memory:")
        try:
            conn.execute(f"ATTACH '{db}' AS s (READ_ONLY)")
            return conn.execute(
                "SELECT count(*) FROM s.deriver_queue WHERE status = 'in_progress' AND lease_pid = ?", [pid]
            ).fetchone()[0]
        finally:
            conn.close()
    except duckdb.Error:
        return 0


def _run(env, *args: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([*HONCHO, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert_no_traceback(done.stderr)
    return done, time.monotonic() - started


def test_kill_9_of_deriver_run_again_and_again_then_one_run_equals_an_uninterrupted_run(h, tmp_path):
    from honcho_cli import Honcho

    _build(h)
    data = h.settings.data_dir
    clean_dir = tmp_path / "clean"
    copy_store(data, clean_dir)
    env, clean_env = cli_env(data), cli_env(clean_dir)

    done, clean_seconds = _run(clean_env, "deriver", "run")
    assert done.returncode == 0, done.stderr
    clean = memory(Honcho(data_dir=clean_dir))
    assert len(clean["conclusions"]) > 20, "the clean run derived enough to compare with"

    rng = random.Random(10)
    db = h.settings.database_path
    landed, attempts = 0, 0
    while landed < KILLS:
        attempts += 1
        assert attempts <= KILLS + 6, f"only {landed} of {KILLS} kills landed while a unit was held"
        proc = subprocess.Popen([*HONCHO, "deriver", "run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not _held_by(db, proc.pid):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert_no_traceback(proc.stderr.read().decode("utf-8", "replace"))
        proc.stderr.close()
        if proc.returncode == -signal.SIGKILL and _held_by(db, proc.pid):
            landed += 1  # it died holding a unit: its lease is in the store, naming a dead process
        assert queue_counts(h).get("completed", 0) < MESSAGES, "the queue drained before the kills were done"

    with h.store.read() as conn:
        stuck_ids = [r[0] for r in conn.execute(
            "SELECT message_id FROM deriver_queue WHERE status = 'in_progress'").fetchall()]
    stuck = len(stuck_ids)
    assert stuck > 0, "the kills left leases behind for the final run to take over"
    from honcho_cli.core.validation import utcnow

    final_start = utcnow()
    done, recovery_seconds = _run(env, "deriver", "run")
    assert done.returncode == 0, done.stderr
    after = Honcho(data_dir=data)
    counts = queue_counts(after)
    mem = memory(after)
    differing = len(set(mem["conclusions"]) ^ set(clean["conclusions"]))
    with after.store.read() as conn:
        taken_over = conn.execute(
            "SELECT max(updated_at) FROM deriver_queue WHERE list_contains(?, message_id)", [stuck_ids]
        ).fetchone()[0]
    print(
        f"\nthe {stuck} items a killed worker held were done {(taken_over - final_start).total_seconds():.1f}s "
        f"after the final run started (its whole run: {recovery_seconds:.1f}s)"
    )
    print(
        f"\nkills sent {attempts}, landed holding a unit {landed}; items in progress after the last kill {stuck}; "
        f"recovery run {recovery_seconds:.1f}s (an uninterrupted run: {clean_seconds:.1f}s); "
        f"messages {len(after.list_messages())}/{MESSAGES}; conclusions {len(mem['conclusions'])} "
        f"(clean {len(clean['conclusions'])}), differing {differing}; queue {counts}"
    )
    assert len(after.list_messages()) == MESSAGES
    assert counts == {"completed": MESSAGES}, counts
    assert differing == 0
    assert mem == clean
    with after.store.read() as conn:
        failed_attempts, abandoned = conn.execute("SELECT sum(attempts), sum(abandoned) FROM deriver_queue").fetchone()
    assert failed_attempts == 0, "a kill is not a failed attempt"
    assert abandoned >= landed

    done, _ = _run(env, "doctor")
    assert done.returncode == 0, done.stdout
    assert '"status": "error"' not in done.stdout and '"status": "warn"' not in done.stdout, done.stdout
