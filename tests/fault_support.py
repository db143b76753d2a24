"""Helpers for the fault tests (not collected by pytest itself): copies of a store, what
its memory holds in comparable form, a small disk, and watching a process at work.

The fault tests compare a store that went through kills or a full disk with a copy of
the same store that did not: same files to start from (so the same message ids and
timestamps), the same deterministic test double, so memory must come out identical.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CONCLUSION_KEY = (
    "observer, observed, content, level, session_id, source_message_ids, premise_ids, times_derived, "
    "created_at, deleted_at IS NULL, embedding"
)


def copy_store(src: Path, dst: Path) -> None:
    """A byte copy of a data dir (DuckDB file, its WAL if any, the vector tables); no process may write src now."""
    shutil.copytree(src, dst)


def memory(h) -> dict[str, Any]:
    """Everything reasoning produced, without row ids (which are random), sorted."""
    with h.store.read() as conn:
        conclusions = sorted(
            tuple(tuple(v) if isinstance(v, list) else v for v in row)
            for row in conn.execute(f"SELECT {CONCLUSION_KEY} FROM conclusions").fetchall()
        )
        summaries = sorted(conn.execute(
            "SELECT workspace_id, session_id, kind, seq_covered, last_message_id, content FROM session_summaries"
        ).fetchall())
        vectors = conn.execute("SELECT count(*) FROM message_embeddings").fetchone()[0]
    return {"conclusions": conclusions, "summaries": summaries, "message_vectors": vectors}


def queue_counts(h) -> dict[str, int]:
    with h.store.read() as conn:
        rows = conn.execute("SELECT status, count(*) FROM deriver_queue GROUP BY status").fetchall()
    return {status: count for status, count in rows}


def store_snapshot(h) -> tuple:
    """Rows a command could change, in full (a failed command must leave them as they were)."""
    with h.store.read() as conn:
        return tuple(
            sorted(conn.execute(f"SELECT * EXCLUDE ({exclude}) FROM {table}").fetchall(), key=repr)
            for table, exclude in (
                ("messages", "metadata"), ("deriver_queue", "error"), ("conclusions", "embedding"),
                ("message_witnesses", "observed"), ("message_embeddings", "embedding"), ("session_summaries", "token_count"),
            )
        )


@contextmanager
def small_disk(root: Path, megabytes: int):
    """A tmpfs of the given size mounted at root/disk, unmounted after; skips when mounting is not allowed."""
    mount = root / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill_disk(mount: Path, leave_bytes: int = 0) -> Path:
    """Allocate the free space of the file system but `leave_bytes`; returns the filler file.

    Other processes may be writing meanwhile, so the space is taken in halving pieces
    until none fits; with leave_bytes=0 the last bytes are written one block at a time.
    """
    filler = mount / f"filler-{time.monotonic_ns()}"
    want = max(0, shutil.disk_usage(mount).free - leave_bytes)
    taken = 0
    with open(filler, "wb", buffering=0) as f:  # unbuffered: nothing is left to flush on close
        piece = want
        while piece >= 4096 and taken < want:
            try:
                os.posix_fallocate(f.fileno(), taken, min(piece, want - taken))
                taken += min(piece, want - taken)
            except OSError:
                piece //= 2
        if leave_bytes == 0:
            f.seek(0, os.SEEK_END)
            try:
                while True:
                    f.write(b"\0" * 512)
            except OSError:
                pass
    return filler


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONCHO_") or k in ("HONCHO_CACHE_DIR", "HONCHO_CONFIG_DIR")}
    env.update({"HONCHO_DATA_DIR": str(data_dir), "HONCHO_MODEL": "test-double", **extra})
    return env
