"""Many real `honcho` processes on one data dir at once: all succeed, nothing is lost.

Each worker is a shell loop of separate `honcho` processes, as a user's `&` loop or
parallel CI jobs would run them. DuckDB allows one writer process at a time, so this
exercises the open-briefly-and-retry path for real.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from conftest import HONCHO

WORKERS = 8
PER_WORKER = 25


def _start(script: str, log) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-c", script], stdout=log, stderr=subprocess.STDOUT)


def _wait_all(procs: list[subprocess.Popen], logs: list, timeout: float = 300) -> None:
    failures = []
    for proc, log in zip(procs, logs):
        proc.wait(timeout=timeout)
        log.flush()
        if proc.returncode != 0:
            failures.append((proc.args, proc.returncode, open(log.name, encoding="utf-8", errors="replace").read()[-2000:]))
    assert not failures, failures
    for log in logs:
        text = open(log.name, encoding="utf-8", errors="replace").read()
        assert "Traceback" not in text, text


def test_eight_processes_adding_25_messages_each_give_200_with_seq_1_to_200(h, tmp_path):
    peers = [f"w{k}" for k in range(WORKERS)]
    for peer in peers:
        h.create_peer(peer)
    h.create_session("s", peers=peers)
    h.set_peer_config("s", "w0", observe_others=True)

    honcho = shlex.join(HONCHO)
    procs, logs = [], []
    for peer in peers:
        script = f"""set -u
for i in $(seq 1 {PER_WORKER}); do
  {honcho} session add-message s --peer {peer} "{peer} message $i" >/dev/null || {{ echo "{peer} failed at $i"; exit 1; }}
done"""
        log = open(tmp_path / f"{peer}.log", "w+")
        logs.append(log)
        procs.append(_start(script, log))
    _wait_all(procs, logs)

    messages = h.list_messages("s")
    assert len(messages) == WORKERS * PER_WORKER
    assert sorted(m.seq_in_session for m in messages) == list(range(1, WORKERS * PER_WORKER + 1))
    assert len({m.id for m in messages}) == len(messages)
    for peer in peers:
        mine = [m for m in messages if m.peer_id == peer]  # already in seq order
        assert [m.content for m in mine] == [f"{peer} message {i}" for i in range(1, PER_WORKER + 1)]
    with h.store.read() as conn:
        assert conn.execute("SELECT count(*) FROM deriver_queue").fetchone()[0] == WORKERS * PER_WORKER
        # w0 observes others: one witness row for each of the 175 messages the others wrote
        assert conn.execute(
            "SELECT count(*) FROM message_witnesses WHERE observer = 'w0' AND observed <> 'w0'"
        ).fetchone()[0] == (WORKERS - 1) * PER_WORKER


def test_readers_running_alongside_writers_only_ever_see_whole_batches(h, tmp_path):
    writers, batches, batch_size, readers, reads = 3, 4, 5, 3, 6
    peers = [f"w{k}" for k in range(writers)]
    for peer in peers:
        h.create_peer(peer)
    h.create_session("s", peers=peers)

    honcho = shlex.join(HONCHO)
    procs, logs = [], []
    for peer in peers:
        batch = tmp_path / f"{peer}.jsonl"
        batch.write_text("".join(json.dumps({"peer": peer, "content": f"{peer} line {j}"}) + "\n" for j in range(batch_size)))
        script = f"""set -u
for i in $(seq 1 {batches}); do
  {honcho} session add-message s --file {shlex.quote(str(batch))} >/dev/null || {{ echo "{peer} failed at $i"; exit 1; }}
done"""
        log = open(tmp_path / f"{peer}.log", "w+")
        logs.append(log)
        procs.append(_start(script, log))
    for r in range(readers):
        out = tmp_path / f"reader{r}"
        out.mkdir()
        script = f"""set -u
for i in $(seq 1 {reads}); do
  {honcho} message list --session s > {shlex.quote(str(out))}/$i.json || {{ echo "reader {r} failed at $i"; exit 1; }}
done"""
        log = open(tmp_path / f"reader{r}.log", "w+")
        logs.append(log)
        procs.append(_start(script, log))
    _wait_all(procs, logs)

    total = writers * batches * batch_size
    assert sorted(m.seq_in_session for m in h.list_messages("s")) == list(range(1, total + 1))
    for r in range(readers):
        seen = []
        for i in range(1, reads + 1):
            snapshot = json.loads((tmp_path / f"reader{r}" / f"{i}.json").read_text())
            seqs = [m["seq_in_session"] for m in snapshot]
            assert seqs == list(range(1, len(seqs) + 1)), seqs  # no gap, no duplicate, in order
            assert len(seqs) % batch_size == 0, len(seqs)  # never half a batch
            seen.append(len(seqs))
        assert seen == sorted(seen)  # a later read never sees less


def test_processes_racing_to_create_a_fresh_store_all_succeed(h, data_dir, tmp_path):
    assert not data_dir.exists()  # nobody has touched the store yet: every process may try to create it
    honcho = shlex.join(HONCHO)
    procs, logs = [], []
    for k in range(WORKERS):
        log = open(tmp_path / f"p{k}.log", "w+")
        logs.append(log)
        procs.append(_start(f"{honcho} peer create p{k} >/dev/null", log))
    _wait_all(procs, logs)
    assert sorted(p.id for p in h.list_peers()) == [f"p{k}" for k in range(WORKERS)]
    from honcho_cli.store.migrations import MIGRATIONS

    with h.store.read() as conn:
        applied = sorted(r[0] for r in conn.execute("SELECT name FROM schema_migrations").fetchall())
    assert applied == sorted(name for name, _ in MIGRATIONS)  # each migration recorded once
