"""Whether the process holding a deriver lease is still alive.

A lease records its holder as (host name, process id, start token). On the same host
the next worker can tell at once that the holder is gone: no process has that id, or
the one that has it started at another time (the id was reused), or the machine has
rebooted since. It never declares a holder dead on a guess: on another host (a data
dir shared over a network), or where the start time cannot be read, it answers
"unknown" and the lease's expiry decides, as before.

The start token on Linux is the boot id and the process's start time in clock ticks
(/proc), which together name one process for the life of the machine. Elsewhere it is
empty, and only "no process has that id" counts as dead.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    process: str  # "<boot id>:<start ticks>" on Linux, "" where that cannot be read


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat from the state on (read after the command name, which may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields if len(fields) > 19 else None


def _start_ticks(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields else None  # field 22 of the file: start time after boot, in clock ticks


_mine: dict[int, Holder] = {}


def this_process() -> Holder:
    """The holder to record for a lease taken by this process (recomputed after a fork)."""
    pid = os.getpid()
    if pid not in _mine:
        boot, ticks = _boot_id(), _start_ticks(pid)
        _mine.clear()
        _mine[pid] = Holder(socket.gethostname(), pid, f"{boot}:{ticks}" if boot and ticks else "")
    return _mine[pid]


def is_dead(host: str | None, pid: int | None, process: str | None) -> bool:
    """True only when the holder is certainly gone; False when alive or when it cannot be told."""
    if host is None or pid is None or host != socket.gethostname():
        return False
    if process:
        boot, _, ticks = process.partition(":")
        now_boot = _boot_id()
        if now_boot and boot != now_boot:
            return True  # recorded before the last reboot
        fields = _stat(pid)
        if fields is not None:
            if fields[0] in ("Z", "X"):
                return True  # killed, not yet reaped by its parent
            return fields[19] != ticks  # a live process with another start time: the id was reused
        if Path("/proc/self/stat").exists():
            return True  # /proc works here and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False
