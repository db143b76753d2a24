"""Leases that notice death: a unit held by a dead process is free at once, one held by a
live process is left to it (and `deriver run` says so, or waits with --wait), a live
worker's lease is renewed while the model works, and a kill is not a failed attempt.

The "other worker" here is a real process (`sleep`) whose identity is written into the
lease, exactly as a deriver of that process would have: its liveness is the kernel's.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta

from conftest import HONCHO, assert_no_traceback
from deriver_support import make_deriver, queue_rows

CLI_ENV = {"HONCHO_MODEL": "test-double"}


def _room(h) -> list[str]:
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.create_session("s", peers=["alice", "bob"])
    h.set_peer_config("s", "alice", observe_others=True)
    return [h.add_message("s", "bob", f"I planted {n} tulips in my garden, as usual.").id for n in (3, 5)]


def _held_by(h, proc: subprocess.Popen, *, expired: bool = False) -> None:
    """Put every queue item in progress under `proc`'s name, as its deriver would have."""
    from honcho_cli.core import liveness
    from honcho_cli.core.validation import utcnow

    me = liveness.this_process()
    boot = me.process.partition(":")[0]
    process = f"{boot}:{liveness._start_ticks(proc.pid)}" if me.process else ""
    until = utcnow() + (timedelta(seconds=-1) if expired else timedelta(minutes=5))
    with h.store.write() as conn:
        conn.execute(
            "UPDATE deriver_queue SET status = 'in_progress', lease_owner = 'worker-other', lease_until = ?, "
            "lease_host = ?, lease_pid = ?, lease_process = ?",
            [until, me.host, proc.pid, process],
        )


def test_a_live_holder_is_left_alone_and_named_then_its_death_frees_the_unit_at_once(h, run_cli):
    _room(h)
    other = subprocess.Popen(["sleep", "300"])
    try:
        _held_by(h, other)
        code, stats, err = run_cli("deriver", "run", env=CLI_ENV)
        assert code == 0, err
        assert stats["units"] == 0
        assert [(x["pid"], x["messages"]) for x in stats["held_elsewhere"]] == [(other.pid, 2)]
        assert {r["status"] for r in queue_rows(h)} == {"in_progress"}
        code, status, _ = run_cli("deriver", "status")
        assert [x["pid"] for x in status["held_by"]] == [other.pid]
    finally:
        other.kill()
        other.wait()
    code, stats, err = run_cli("deriver", "run", env=CLI_ENV)  # the lease has minutes to run: no matter
    assert code == 0, err
    assert stats["held_elsewhere"] == [] and stats["messages"] == 2
    rows = queue_rows(h)
    assert {r["status"] for r in rows} == {"completed"} and all(r["attempts"] == 0 for r in rows)
    code, status, _ = run_cli("deriver", "status")
    assert status["abandoned_by_dead_workers"] == 2 and status["held_by"] == []


def test_deriver_run_wait_waits_for_a_live_holder_and_takes_over_when_it_dies(h):
    import os

    _room(h)
    other = subprocess.Popen(["sleep", "300"])
    _held_by(h, other)
    waiting = subprocess.Popen([*HONCHO, "deriver", "run", "--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **CLI_ENV}, text=True)
    try:
        time.sleep(5)  # an ordering check, not a timing one: a while later it is still waiting, nothing taken
        assert waiting.poll() is None, waiting.communicate()
        assert {r["status"] for r in queue_rows(h)} == {"in_progress"}
    finally:
        other.kill()
        other.wait()
    out, err = waiting.communicate(timeout=120)
    assert_no_traceback(err)
    assert waiting.returncode == 0, err
    assert json.loads(out)["messages"] == 2
    assert {r["status"] for r in queue_rows(h)} == {"completed"}


def test_an_expired_lease_of_a_live_but_silent_holder_is_taken_over(h):
    """A holder that stopped renewing (hung, or on another host) loses the unit when the lease ends."""
    _room(h)
    other = subprocess.Popen(["sleep", "300"])
    try:
        _held_by(h, other, expired=True)
        stats = make_deriver(h).run()
        assert stats.messages == 2 and stats.held_elsewhere == []
    finally:
        other.kill()
        other.wait()
    assert {r["status"] for r in queue_rows(h)} == {"completed"}


def test_a_unit_its_workers_keep_dying_on_is_failed_after_the_limit(h):
    from honcho_cli.core import queue

    _room(h)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with h.store.write() as conn:
        conn.execute("UPDATE deriver_queue SET abandoned = ?", [queue.ABANDON_LIMIT - 1])
    _held_by(h, dead)
    with h.store.write() as conn:
        assert queue.free_dead_leases(conn) == 2
    rows = queue_rows(h)
    assert {r["status"] for r in rows} == {"failed"} and all("ABANDONED" in r["error"] for r in rows)
    assert all(r["attempts"] == 0 for r in rows)


def test_the_heartbeat_renews_the_lease_while_the_model_works(h, monkeypatch):
    from honcho_cli.core import queue

    _room(h)
    seen = []

    def lease_until():
        with h.store.read() as conn:
            return conn.execute("SELECT max(lease_until) FROM deriver_queue").fetchone()[0]

    def slow(prompt):
        # the model stays busy until a beat has moved the lease on (bounded: a loaded machine may be slow to beat)
        if seen:
            return
        seen.append(lease_until())
        deadline = time.monotonic() + 60
        while lease_until() == seen[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.append(lease_until())

    from deriver_support import scripted_model

    original = queue.keep_leased
    monkeypatch.setattr(queue, "keep_leased", lambda store, unit, every=None: original(store, unit, timedelta(seconds=0.1)))
    result = make_deriver(h, scripted_model(before=slow)).process_one()
    assert result.outcome == "completed", result.error
    assert seen[1] > seen[0], seen  # renewed while the model was busy
