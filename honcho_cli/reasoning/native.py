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


def default_threads() -> int:
    """All CPUs this process may run on: llama.cpp's own default is half of them."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


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
