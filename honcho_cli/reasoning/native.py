"""Small helpers shared by the llama.cpp backends: thread count and a quiet stderr.

llama.cpp and ggml write progress and warnings straight to file descriptor 2 from C,
which Python's own redirections cannot catch; a CLI whose stdout may be JSON and
whose stderr carries our error envelope must not be interleaved with that chatter.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Threads for llama.cpp: HONCHO_THREADS if set, else the CPUs nobody else is using right now.

    ggml's worker threads spin at barriers, so asking for more threads than there are
    free cores is not a little slower but collapses: on this 2-core machine under a
    load average of ~12, one extraction took 3.9 s with 1 thread and 49 s with 2
    (SmolLM2), 9.5 s against 70 s (Qwen 0.5B). What counts is what the other processes
    use now, measured over a tenth of a second: the load average still remembers the
    user's previous command for a minute (~1 on an idle 2-core machine, which halved a
    chat's speed by choosing 1 thread).
    """
    raw = os.environ.get("HONCHO_THREADS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            pass
    cpus = _cpus()
    busy = _busy_cpus()
    return max(1, min(cpus, cpus - math.ceil(busy - 0.3)))  # a core a third busy is left alone


@functools.cache
def _busy_cpus(window: float = 0.1) -> float:
    """How many CPUs other processes keep busy now (from /proc/stat; the 1-minute load average elsewhere)."""
    def sample() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    first = sample()
    if first is None:
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    time.sleep(window)
    second = sample()
    total, idle = second[0] - first[0], second[1] - first[1]
    if total <= 0:
        return 0.0
    return (1 - idle / total) * (os.cpu_count() or 1)


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr = -1


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration (model load, grammar compile).

    Threads may overlap (a server loads its two models at once): the first one in points
    fd 2 away, the last one out points it back. stdout is never touched; it may carry a
    protocol (`honcho mcp`) or JSON output. Set HONCHO_DEBUG_LLAMA=1 to see llama.cpp's
    output when diagnosing a load failure.
    """
    global _quiet_depth, _saved_stderr
    if os.environ.get("HONCHO_DEBUG_LLAMA"):
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _flush_stderr()
            _saved_stderr = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                _flush_stderr()
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)


def _flush_stderr() -> None:
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass


def load_llama(**params: Any) -> Any:
    """`llama_cpp.Llama(**params)`, quietly, without touching stdout.

    With verbose=False, llama-cpp-python silences a load by pointing fd 1 and fd 2, and
    sys.stdout/sys.stderr, at /dev/null for every thread of the process: output written
    meanwhile by another thread (an MCP reply, a streamed answer) is lost, and two loads
    at once can leave stdout pointing there for good. So the model is built verbose,
    inside quiet_native_stderr, and its logging is turned down right after.
    """
    import logging

    import llama_cpp

    with quiet_native_stderr():
        llm = llama_cpp.Llama(verbose=True, **params)
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's own log: errors only
    llm.verbose = False  # no timing report after each call
    return llm
