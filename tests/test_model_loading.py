"""Loading models never touches stdout: a server or `honcho mcp` loads them in threads
while other threads write replies (the MCP protocol is on stdout). Real llama.cpp, both
test-size models, in a child process whose stdout is a pipe read here."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.model

PROBE = r"""
import os, sys, threading, time
from honcho_cli.config import resolve_settings
from honcho_cli.engine import Engine

before = (os.fstat(1).st_ino, os.fstat(2).st_ino)
engine = Engine(resolve_settings(data_dir=sys.argv[1], model="smollm2-135m", embedding_model="minilm-l6-v2"), warm=True)
engine.preload()  # both models, each in its own thread, at the same time
written = 0
deadline = time.monotonic() + 120
while any(t.is_alive() for t in engine._loading) and time.monotonic() < deadline:
    print(f"line {written}", flush=True)
    written += 1
    time.sleep(0.002)
engine.settle()
assert engine.chat_model() is not None and engine.unchecked_embedder() is not None
after = (os.fstat(1).st_ino, os.fstat(2).st_ino)
print(f"done {written} {before == after}", flush=True)
"""


def test_loading_both_models_at_once_loses_no_stdout_and_restores_the_streams(tmp_path):
    pytest.importorskip("llama_cpp")
    from honcho_cli.reasoning.model_files import is_present

    if not (is_present("smollm2-135m") and is_present("minilm-l6-v2")):
        pytest.skip("not pulled: run `honcho model pull smollm2-135m minilm-l6-v2`")
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "data")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    written, same = lines[-1].split()[1:]
    assert same == "True", "fd 1 and fd 2 point where they did before the loads"
    assert int(written) > 0, "the loads overlapped the writes"
    assert lines[:-1] == [f"line {i}" for i in range(int(written))], "every line written during the loads arrived"
    assert "llama_model_loader" not in proc.stderr and "control-looking" not in proc.stderr, proc.stderr[-2000:]
