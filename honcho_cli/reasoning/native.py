"""Small helpers shared by the llama.cpp backends: thread count and a quiet stderr.

llama.cpp and ggml write progress and warnings straight to file descriptor 2 from C,
which Python's own redirections cannot catch; a CLI whose stdout may be JSON and
whose stderr carries our error envelope must not be interleaved with that chatter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


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


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration (model load, grammar compile).

    Set HONCHO_DEBUG_LLAMA=1 to see llama.cpp's output when diagnosing a load failure.
    """
    if os.environ.get("HONCHO_DEBUG_LLAMA"):
        yield
        return
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
