"""Reasoning in the server's background: the ordinary deriver, in a thread, over the durable queue.

It starts on new messages at once (the message routes wake it) and otherwise looks
for work every `poll_seconds` — messages added by the CLI or another process land
in the same queue. There is no token threshold: a single short message is reasoned
over as soon as the worker is free. Each pass claims a unit in a short transaction,
lets the model think with the store closed, and records the result in another
short transaction, so the server's requests and other processes (`honcho deriver
run` included: leases keep two workers from taking the same unit) share the store
throughout.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import HonchoError, ModelNotFound

if TYPE_CHECKING:
    from honcho_cli.engine import Engine

log = logging.getLogger("honcho.server.worker")


class ReasoningWorker:
    def __init__(
        self,
        engine: Engine,
        *,
        poll_seconds: float = 1.0,
        retry_seconds: float = 30.0,
        dream: bool = False,
        summaries: bool = True,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.dream = dream
        self.summaries = summaries
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._dreams: queue.SimpleQueue[tuple[str, str, str | None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.state: dict[str, Any] = {
            "running": False, "units": 0, "messages": 0, "failed_units": 0, "summaries": 0,
            "consolidations": 0, "last_error": None, "last_unit_at": None,
        }

    # -- control -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="honcho-reasoning", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New messages: look at the queue now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current unit; if the process dies first, the next worker takes its unit at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def request_dream(self, workspace_id: str, observer: str, observed: str | None) -> None:
        self._dreams.put((workspace_id, observer, observed))
        self.wake()

    # -- the loop ------------------------------------------------------------------------

    def _deriver(self, workspace_id: str = "default", *, all_workspaces: bool = True) -> Any:
        """A fresh Deriver per pass (its per-run memory of skipped work starts empty), on the
        engine's shared models, store and vector index."""
        from honcho_cli.reasoning.deriver import open_deriver

        return open_deriver(
            self.engine, workspace_id=workspace_id, all_workspaces=all_workspaces,
            summaries=self.summaries, consolidation=self.dream,
        )

    def _on_unit(self, result: Any) -> None:
        self.state["units"] += 1
        self.state["messages"] += result.messages if result.outcome == "completed" else 0
        self.state["failed_units"] += result.outcome == "failed"
        self.state["last_unit_at"] = time.time()
        if result.outcome in ("failed", "retry"):
            log.warning("unit %s/%s: %s (%s)", result.session_id, result.observed, result.outcome, result.error)

    def _drain_dreams(self) -> None:
        while not self._stop.is_set():
            try:
                workspace_id, observer, observed = self._dreams.get_nowait()
            except queue.Empty:
                return
            deriver = self._deriver(workspace_id, all_workspaces=False)
            while not self._stop.is_set():
                result = deriver.consolidate_one(min_new=1, only=(observer, observed))
                if result is None:
                    break
                self.state["consolidations"] += 1

    def _pass(self) -> None:
        self._drain_dreams()
        stats = self._deriver().run(should_stop=self._stop.is_set, on_unit=self._on_unit)
        self.state["summaries"] += stats.summaries
        self.state["consolidations"] += stats.consolidations

    def _run(self) -> None:
        self.state["running"] = True
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self._pass()
                    self.state["last_error"] = None
                except ModelNotFound as exc:
                    self._note_error(exc, f"reasoning paused: {exc.message}")
                    self._stop.wait(self.retry_seconds)
                    continue
                except HonchoError as exc:  # the store stayed busy, a model failed to load, ...
                    self._note_error(exc, f"reasoning pass failed: {exc.code}: {exc.message}")
                    self._stop.wait(self.poll_seconds)
                    continue
                except Exception as exc:  # noqa: BLE001 - a bug: keep serving, say so, try again later
                    log.exception("reasoning pass crashed")
                    self.state["last_error"] = f"INTERNAL: {type(exc).__name__}: {exc}"
                    self._stop.wait(5 * self.poll_seconds)
                    continue
                self._wake.wait(self.poll_seconds)
        finally:
            self.state["running"] = False

    def _note_error(self, exc: HonchoError, text: str) -> None:
        if self.state["last_error"] != f"{exc.code}: {exc.message}":
            log.warning(text)
        self.state["last_error"] = f"{exc.code}: {exc.message}"
