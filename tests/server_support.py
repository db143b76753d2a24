"""Starting `honcho serve` as a real subprocess on a free loopback port, and the seed's SDK code."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import httpx

from conftest import HONCHO, REPO

SEED_DOC = REPO.parent / "shared" / "seed" / "representation-scopes.md"

# The seed's "Code Examples" Python block, as published; used when shared/ is not beside the repo.
SEED_EXAMPLE = '''\
from honcho import Honcho
from honcho.api_types import SessionPeerConfig

honcho = Honcho()
session = honcho.session("game-session")

alice = honcho.peer("alice")
bob = honcho.peer("bob")
charlie = honcho.peer("charlie")

# Add peers to session
session.add_peers([alice, bob, charlie])

# Enable Alice to form representations of others
session.set_peer_configuration(alice, SessionPeerConfig(observe_others=True))

# Add messages
session.add_messages([
    bob.message("I had pancakes for breakfast."),
    charlie.message("I prefer waffles.")
])

# Different sessions with different participants
session2 = honcho.session("game-session-2")
session2.add_peers([alice, charlie])
session2.set_peer_configuration(alice, SessionPeerConfig(observe_others=True))

session2.add_messages([
    charlie.message("I didn't have breakfast. I lied to Bob.")
])

# Retrieve conclusions from different perspectives
honcho_view = session.representation("alice")  # Across all sessions
bob_view = session.representation("alice", target="bob")  # Alice's view of Bob
charlie_view = session2.representation("alice", target="charlie")  # Alice's view of Charlie
'''


def seed_example() -> str:
    """The Python block under "Code Examples" in the seed document (the published copy if absent)."""
    if not SEED_DOC.exists():
        return SEED_EXAMPLE
    text = SEED_DOC.read_text(encoding="utf-8")
    section = text[text.index("### Code Examples") :]
    match = re.search(r"```python[^\n]*\n(.*?)\n\s*```", section, re.S)
    assert match, "no python block under Code Examples"
    return textwrap.dedent(match.group(1)) + "\n"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`honcho serve` in its own process; `stop()` sends SIGTERM (then SIGKILL if it must)."""

    def __init__(self, data_dir: Path, config_dir: Path, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 api_key: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = api_key
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HONCHO_") or k == "HONCHO_CACHE_DIR"},
            "HONCHO_DATA_DIR": str(data_dir),
            "HONCHO_CONFIG_DIR": str(config_dir),
            "HONCHO_MODEL": "test-double",
            **(env or {}),
        }
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        config_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*HONCHO, "serve", "--port", str(self.port), *args], stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=self.env,
        )
        self._wait_ready()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"honcho serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", headers=self.headers(), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"honcho serve did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", headers=self.headers(), timeout=10).json()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode

    def stop_cleanly(self) -> None:
        """SIGTERM: uvicorn shuts the app down (the worker stops after its unit) and re-raises the signal."""
        code = self.stop()
        log = self.log()
        assert code in (0, -signal.SIGTERM), log
        assert "Application shutdown complete" in log, log
        assert "Traceback" not in log, log


def wait_drained(honcho, timeout: float = 60.0):
    """Poll the SDK's queue status until nothing is pending or in progress (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        status = honcho.queue_status()
        if status.pending_work_units == 0 and status.in_progress_work_units == 0:
            return status
        assert time.monotonic() < deadline, f"queue not drained after {timeout}s: {status}"
        time.sleep(0.1)
