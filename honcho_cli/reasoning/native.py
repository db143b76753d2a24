"""Small helpers shared by the llama.cpp backends: thread count and a quiet stderr.

llama.cpp and ggml write progress and warnings straight to file descriptor 2 from C,
which Python's own redirections cannot catch; a CLI whose stdout may be JSON and
whose stderr carries our error envelope must not be interleaved with that chatter.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Threads for llama.cpp: HONCHO_THREADS if set, else the CPUs nobody else is using.

    ggml's worker threads spin at barriers, so asking for more threads than there are
    free cores is not a little slower but collapses: on this 2-core machine under a
    load average of ~12, one extraction took 3.9 s with 1 thread and 49 s with 2
    (SmolLM2), 9.5 s against 70 s (Qwen 0.5B). An idle machine gets every CPU.
    """
    raw = os.environ.get("HONCHO_THREADS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            pass
    cpus = _cpus()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cpus
    return max(1, min(cpus, int(cpus - busy + 0.5)))


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
