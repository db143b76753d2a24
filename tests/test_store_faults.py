"""A store file honcho cannot use, and a disk that fills up: a clear error, an exit code,
and the store as it was before the command.

Full disk: the data dir lives on a small tmpfs mounted for the test (the machines this
runs on, CI included, let the test user mount one; elsewhere the test says why it skips),
and the free space is taken by a preallocated file, so DuckDB and LanceDB meet a real
ENOSPC from the kernel.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import time
from pathlib import Path

from conftest import HONCHO, assert_no_traceback
from fault_support import cli_env, copy_store, fill_disk, memory, queue_counts, small_disk, store_snapshot


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _duckdb_header_checksum(block: bytes) -> int:
    """DuckDB's block checksum (src/common/checksum.cpp): 5381 xor the product of every
    8-byte word with 0xbf58476d1ce4e5b9, over the header block after its checksum field."""
    result = 5381
    for (word,) in struct.iter_unpack("<Q", block):
        result ^= (word * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return result


def _from_a_newer_duckdb(path: Path) -> None:
    """Rewrite the main header as a newer DuckDB would: a higher storage version number,
    checksummed so that DuckDB reads the header and refuses it for its version alone."""
    data = bytearray(path.read_bytes())
    assert data[8:12] == b"DUCK"
    assert _duckdb_header_checksum(bytes(data[8:4096])) == struct.unpack_from("<Q", data, 0)[0]
    struct.pack_into("<Q", data, 12, 999)
    struct.pack_into("<Q", data, 0, _duckdb_header_checksum(bytes(data[8:4096])))
    path.write_bytes(bytes(data))


def _from_a_newer_honcho(path: Path) -> None:
    import duckdb

    conn = duckdb.connect(str(path))
    conn.execute("INSERT INTO schema_migrations VALUES ('999_from_the_future', now())")
    conn.close()


def test_a_store_file_honcho_cannot_use_is_refused_and_left_untouched(h, run_cli, data_dir):
    h.create_peer("alice")
    db = h.settings.database_path
    good = data_dir.parent / "good.duckdb"
    shutil.copy(db, good)
    cases = {
        "not a database": lambda p: p.write_bytes(b"these are my notes, not a database\n" * 200),
        "empty file": lambda p: p.write_bytes(b""),
        "newer DuckDB": _from_a_newer_duckdb,
        "newer honcho": _from_a_newer_honcho,
    }
    for name, make in cases.items():
        shutil.copy(good, db)
        make(db)
        before = _digest(db)
        for args in (("peer", "list"), ("peer", "create", "bob"), ("deriver", "run")):
            code, _, err = run_cli(*args, env={"HONCHO_MODEL": "test-double"})
            assert code == 8, (name, args, code, err)
            assert err["error"]["code"] == "STORE_UNUSABLE", (name, err)
            assert "left untouched" in err["error"]["message"], err
            assert _digest(db) == before, f"{name}: {' '.join(args)} changed the file"
        assert not Path(str(db) + ".wal").exists(), name
        if name.startswith("newer"):
            assert "newer" in err["error"]["message"]
    shutil.copy(good, db)
    assert run_cli("peer", "list").code == 0  # the same store, restored, opens as before


def _run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([*HONCHO, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert_no_traceback(done.stderr)
    return done


def _error(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stderr.strip().splitlines()[-1])["error"]


def _honcho_on(data_dir: Path):
    from honcho_cli import Honcho

    return Honcho(data_dir=data_dir)


def test_a_full_disk_during_an_import_keeps_the_store_as_before(tmp_path):
    with small_disk(tmp_path, 24) as disk:
        data = disk / "data"
        env = cli_env(data)
        h = _honcho_on(data)
        h.create_peer("alice")
        h.create_session("s", peers=["alice"])
        for i in range(3):
            h.add_message("s", "alice", f"kept {i}")
        before = store_snapshot(h)
        batch = tmp_path / "import.jsonl"  # outside the small disk
        with open(batch, "w", encoding="utf-8") as f:
            for i in range(60_000):
                f.write(json.dumps({"peer": "alice", "content": f"imported line {i}: " + "words to fill the disk " * 4}) + "\n")
        filler = fill_disk(disk, leave_bytes=2 * 1024 * 1024)  # room to start writing, not to finish

        done = _run(["session", "add-message", "s", "--file", str(batch)], env)
        assert done.returncode == 9, (done.returncode, done.stderr)
        error = _error(done)
        assert error["code"] == "DISK_FULL" and "full" in error["message"], error
        assert store_snapshot(h) == before
        assert _run(["session", "add-message", "s", "--peer", "alice", "still full?"], env).returncode in (0, 9)

        filler.unlink()
        h2 = _honcho_on(data)
        assert [m.content for m in h2.list_messages("s")][:3] == ["kept 0", "kept 1", "kept 2"]
        small = tmp_path / "small.jsonl"
        small.write_text("".join(json.dumps({"peer": "alice", "content": f"after {i}"}) + "\n" for i in range(100)))
        done = _run(["session", "add-message", "s", "--file", str(small)], env)
        assert done.returncode == 0, done.stderr
        seqs = [m.seq_in_session for m in h2.list_messages("s")]
        assert seqs == list(range(1, len(seqs) + 1))


def _watch_completed(db: Path, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Wait until the deriver has completed `at_least` queue items (read-only looks), or it exits."""
    import duckdb

    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            conn = duckdb.connect(":memory:")
            conn.execute(f"ATTACH '{db}' AS s (READ_ONLY)")
            done = conn.execute("SELECT count(*) FROM s.deriver_queue WHERE status = 'completed'").fetchone()[0]
            conn.close()
            if done >= at_least:
                return True
        except duckdb.Error:
            pass  # the deriver holds the file for a write: look again
        time.sleep(0.01)
    return False


def test_a_full_disk_during_the_deriver_loses_nothing_and_resumes(tmp_path):
    with small_disk(tmp_path, 48) as disk:
        data = disk / "data"
        env = cli_env(data)
        h = _honcho_on(data)
        for peer in ("alice", "bob"):
            h.create_peer(peer)
        h.create_session("s", peers=["alice", "bob"])
        h.set_peer_config("s", "alice", observe_others=True)
        h.add_messages("s", [{"peer": ("bob", "alice")[i % 2], "content": f"On day {i} I visited town {i} and ate {i} apples."}
                             for i in range(60)])
        clean_dir = tmp_path / "clean"
        copy_store(data, clean_dir)
        done = _run(["deriver", "run"], cli_env(clean_dir))
        assert done.returncode == 0, done.stderr
        clean = memory(_honcho_on(clean_dir))
        assert clean["conclusions"], "the clean run derived something to compare with"

        # the disk is full before the run: the first write fails, nothing changes
        before = store_snapshot(h)
        filler = fill_disk(disk)
        done = _run(["deriver", "run"], env)
        assert done.returncode == 9 and _error(done)["code"] == "DISK_FULL", (done.returncode, done.stderr)
        assert store_snapshot(h) == before
        filler.unlink()

        # the disk fills while the deriver works: it stops with the same error, each unit whole
        proc = subprocess.Popen([*HONCHO, "deriver", "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        started = _watch_completed(h.settings.database_path, 2, proc)
        filler = fill_disk(disk)
        out, err = proc.communicate(timeout=300)
        assert_no_traceback(err)
        assert started and proc.returncode == 9, (started, proc.returncode, out, err)
        assert json.loads(err.strip().splitlines()[-1])["error"]["code"] == "DISK_FULL"
        assert queue_counts(h).get("failed", 0) == 0
        filler.unlink()

        done = _run(["deriver", "run"], env)
        assert done.returncode == 0, done.stderr
        assert memory(h) == clean
        assert queue_counts(h) == {"completed": 60}
        done = _run(["doctor"], env)
        assert done.returncode == 0, done.stdout
