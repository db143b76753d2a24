"""16 processes x 100 `honcho session add-message` into one session while a
`honcho deriver run --follow` reasons over the same store: 1,600 messages (800 in CI, see
PER_WRITER), seq 1..N,
each sender's messages in its order, no error, and the follower completes all of it.

Each writer is a shell loop of separate `honcho` processes (1,600 processes in all), as
parallel scripts or CI jobs would run them; DuckDB lets one process write at a time, so
this is the open-briefly-and-retry path under real contention, with the deriver's
claims, commits and vector catch-ups in the mix.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from conftest import HONCHO, assert_no_traceback, takes_ctrl_c
from fault_support import queue_counts

WRITERS = 16
# 100 each is the full load (1,600 processes); every add-message process grows the
# DuckDB file by ~0.8 MB (duckdb#19468), so later writes get slower and the full run took
# ~35 min on the 2-core machine: CI runs 50 each, HONCHO_LOAD_PER_WRITER=100 the full one.
PER_WRITER = int(os.environ.get("HONCHO_LOAD_PER_WRITER", "50"))


def test_sixteen_writers_and_a_following_deriver_lose_nothing(h, tmp_path):
    peers = [f"w{k:02d}" for k in range(WRITERS)]
    for peer in peers:
        h.create_peer(peer)
    h.create_session("s", peers=peers)
    h.set_peer_config("s", "w00", observe_others=True)
    env_model = {"HONCHO_MODEL": "test-double"}
    env = {**os.environ, **env_model}
    follow_log = open(tmp_path / "follow.log", "w+")  # noqa: SIM115 - closed below
    follower = subprocess.Popen([*HONCHO, "deriver", "run", "--follow"], stdout=follow_log, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=takes_ctrl_c)
    honcho = shlex.join(HONCHO)
    writers, logs = [], []
    started = time.monotonic()
    for peer in peers:
        script = f"""set -u
for i in $(seq 1 {PER_WRITER}); do
  {honcho} session add-message s --peer {peer} "{peer} message $i" >/dev/null || {{ echo "{peer} failed at $i"; exit 1; }}
done"""
        log = open(tmp_path / f"{peer}.log", "w+")  # noqa: SIM115 - closed below
        logs.append(log)
        writers.append(subprocess.Popen(["bash", "-c", script], stdout=log, stderr=subprocess.STDOUT, env=env))
    failures = []
    for proc, log in zip(writers, logs):
        proc.wait(timeout=3600)
        log.seek(0)
        text = log.read()
        log.close()
        assert_no_traceback(text)
        if proc.returncode != 0:
            failures.append(text[-2000:])
    writing = time.monotonic() - started
    assert not failures, failures

    messages = h.list_messages("s")
    assert len(messages) == WRITERS * PER_WRITER
    assert [m.seq_in_session for m in messages] == list(range(1, WRITERS * PER_WRITER + 1))
    for peer in peers:
        assert [m.content for m in messages if m.peer_id == peer] == [f"{peer} message {i}" for i in range(1, PER_WRITER + 1)]

    deadline = time.monotonic() + 1800
    while queue_counts(h).get("completed", 0) < WRITERS * PER_WRITER:
        assert follower.poll() is None, "the follower stopped"
        assert time.monotonic() < deadline, f"the follower did not finish: {queue_counts(h)}"
        time.sleep(1)
    drained = time.monotonic() - started
    follower.send_signal(signal.SIGINT)
    follower.wait(timeout=120)
    follow_log.seek(0)
    text = follow_log.read()
    follow_log.close()
    assert_no_traceback(text)
    assert follower.returncode in (0, 130), text[-2000:]
    assert queue_counts(h) == {"completed": WRITERS * PER_WRITER}
    doctor = subprocess.run([*HONCHO, "doctor"], capture_output=True, text=True, env=env, timeout=300)
    assert doctor.returncode == 0, doctor.stdout
    print(f"\n{WRITERS} x {PER_WRITER} add-message processes: {writing:.0f}s; queue drained by the follower at {drained:.0f}s")


def test_a_writer_killed_while_queued_or_holding_the_turn_holds_up_nobody(h, monkeypatch):
    """Writers queue for their turn (store/database.WriterTurn): one killed holding the turn,
    and one killed while waiting in the queue, leave nothing that blocks the next writer."""
    import sys

    h.create_peer("alice")
    db = h.settings.database_path
    hold = (
        "import sys, time\n"
        "from honcho_cli.store.database import WriterTurn\n"
        "turn = WriterTurn(sys.argv[1])\n"
        "turn.acquire(60)\n"
        "print('got', flush=True)\n"
        "time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(db)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "got"
    waiter = subprocess.Popen([sys.executable, "-c", hold, str(db)], stdout=subprocess.PIPE, text=True)
    queue = Path(str(db) + ".queue")
    deadline = time.monotonic() + 60
    while not [e for e in queue.iterdir() if not e.name.startswith(".")]:
        assert time.monotonic() < deadline, "the second writer never queued"
        time.sleep(0.05)
    for proc in (waiter, holder):  # the waiter dies in the queue, then the holder with the turn
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    from honcho_cli import Honcho

    monkeypatch.setenv("HONCHO_LOCK_TIMEOUT", "10")
    quick = Honcho(data_dir=h.settings.data_dir)
    assert quick.settings.lock_timeout == 10
    quick.create_peer("bob")  # would wait for the dead waiter's place until the timeout otherwise
    assert {p.id for p in h.list_peers()} == {"alice", "bob"}
    assert [e.name for e in queue.iterdir() if not e.name.startswith(".")] == []
