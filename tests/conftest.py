"""Shared fixtures: an isolated data dir, a `Honcho` client on it, and the real CLI.

Every test gets its own data and config directories through the environment, so
neither the user's store nor their config file can leak in. `run_cli` runs the
installed `honcho` console script in a subprocess (a real process, real DuckDB file)
and checks on every call that nothing printed a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"

# Settings that would change what a command does if inherited from the shell.
_SCRUBBED_ENV = (
    "HONCHO_WORKSPACE_ID",
    "HONCHO_PEER_ID",
    "HONCHO_SESSION_ID",
    "HONCHO_JSON",
    "HONCHO_LOCK_TIMEOUT",
)


def honcho_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m honcho_cli`."""
    script = Path(sys.executable).parent / "honcho"
    if script.exists():
        return [str(script)]
    found = shutil.which("honcho")
    return [found] if found else [sys.executable, "-m", "honcho_cli"]


HONCHO = honcho_command()


def takes_ctrl_c() -> None:
    """`preexec_fn` for a child the test sends SIGINT: Ctrl-C reaches it as it reaches a
    terminal's foreground job. A test run started in the background (`cmd &` in a script)
    has SIGINT ignored, and a child inherits that (and so, rightly, ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _maybe_json(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return text


class CliResult:
    """Unpacks as (code, out, err); out/err are parsed JSON when they are JSON."""

    def __init__(self, args: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
        self.args = args
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.out = _maybe_json(stdout)
        self.err = _maybe_json(stderr)

    def __iter__(self):
        return iter((self.code, self.out, self.err))

    def __repr__(self) -> str:
        return f"CliResult(args={self.args!r}, code={self.code}, stdout={self.stdout[:500]!r}, stderr={self.stderr[:500]!r})"

    @property
    def error_code(self) -> str | None:
        if isinstance(self.err, dict) and isinstance(self.err.get("error"), dict):
            return self.err["error"].get("code")
        return None


def assert_no_traceback(text: str) -> None:
    assert "Traceback (most recent call last)" not in text, text


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir and config dir for every test, exported to subprocesses too."""
    root = tmp_path_factory.mktemp("honcho")
    data_dir = root / "data"
    config_dir = root / "config"
    config_dir.mkdir()
    monkeypatch.setenv("HONCHO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HONCHO_CONFIG_DIR", str(config_dir))
    for name in _SCRUBBED_ENV:
        monkeypatch.delenv(name, raising=False)
    return data_dir


@pytest.fixture
def data_dir(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def h(data_dir: Path):
    """A Python API client on the test's data dir, default workspace."""
    from honcho_cli import Honcho

    return Honcho(data_dir=data_dir)


@pytest.fixture
def run_cli():
    """run_cli(*args, input=None, env=None, timeout=120) -> CliResult (code, out, err)."""

    def run(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        if isinstance(input, str):
            input = input.encode("utf-8")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            [*HONCHO, *args],
            input=input if input is not None else b"",
            capture_output=True,
            env=full_env,
            timeout=timeout,
        )
        stdout = proc.stdout.decode("utf-8", errors="replace")
        stderr = proc.stderr.decode("utf-8", errors="replace")
        assert_no_traceback(stderr)
        assert_no_traceback(stdout)
        return CliResult(tuple(args), proc.returncode, stdout, stderr)

    return run


@pytest.fixture
def seed(run_cli, data_dir: Path):
    """The seed's scenario loaded through the real CLI, by the fixture script users run."""
    env = dict(os.environ, HONCHO=HONCHO[0]) if len(HONCHO) == 1 else dict(os.environ)
    if len(HONCHO) > 1:  # no console script: put a shim on PATH
        shim = data_dir.parent / "bin"
        shim.mkdir(exist_ok=True)
        (shim / "honcho").write_text(f'#!/bin/sh\nexec {sys.executable} -m honcho_cli "$@"\n')
        (shim / "honcho").chmod(0o755)
        env["PATH"] = f"{shim}:{env['PATH']}"
    proc = subprocess.run(["bash", str(FIXTURES / "seed-scenario.sh")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc.stderr)
    return proc
