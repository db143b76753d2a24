"""Handing a question to a running `honcho serve` on the same data directory (`--server URL`).

A cold `honcho chat` loads two models and prefills its prompt from nothing; a server
keeps them loaded, with the KV cache of what it read last. Only asked for by name
(`--server` or HONCHO_SERVER), never guessed. The server must say it serves this
command's data directory, or nothing is sent. The standard library speaks HTTP here:
an HTTP client package would cost more to import than the request takes.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from honcho_cli.errors import HonchoError, InvalidInput

ENV_SERVER = "HONCHO_SERVER"


class Server:
    def __init__(self, url: str, data_dir: Path, workspace: str) -> None:
        self.url = url.rstrip("/")
        self.workspace = workspace
        self.headers = {"Content-Type": "application/json"}
        key = os.environ.get("HONCHO_API_KEY")
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self._check_same_data_dir(data_dir)

    def _open(self, path: str, body: dict[str, Any] | None = None, timeout: float = 600) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, headers=self.headers)
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise _error_from(exc) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InvalidInput(f"no honcho server answers at {self.url}: {reason}", server=self.url) from None

    def _check_same_data_dir(self, data_dir: Path) -> None:
        with self._open("/health", timeout=5) as response:
            served = json.loads(response.read()).get("data_dir")
        if served is None or Path(served).resolve() != Path(data_dir).resolve():
            raise InvalidInput(
                f"the server at {self.url} serves {served}, not this command's data directory {data_dir}",
                server=self.url, served=served, data_dir=str(data_dir),
            )

    def chat(self, peer: str, query: str, *, target: str | None, session_id: str | None, reasoning_level: str) -> Iterator[dict[str, Any]]:
        """The server's stream events: {"delta": {"content"}, "done"}, the last with its evidence."""
        body = {"query": query, "target": target, "session_id": session_id, "stream": True,
                "reasoning_level": reasoning_level, "include_evidence": True}
        with self._open(f"/v3/workspaces/{self.workspace}/peers/{peer}/chat", body) as response:
            for raw in response:
                if not raw.startswith(b"data: "):
                    continue
                event = json.loads(raw[6:])
                if "error" in event or "detail" in event:
                    raise _error_from_body(event)
                yield event
                if event.get("done"):
                    return


def _error_from_body(body: dict[str, Any]) -> HonchoError:
    """The server's error ({"detail", "error": {"code", "message", "details"}}) as the error
    the local path would have raised, so the exit code is the same."""
    from honcho_cli import errors

    found = body.get("error") if isinstance(body.get("error"), dict) else {}
    message = found.get("message") or str(body.get("detail") or body)
    for kind in vars(errors).values():
        if isinstance(kind, type) and issubclass(kind, HonchoError) and kind.code == found.get("code"):
            return kind(message, **(found.get("details") or {}))
    return HonchoError(f"the server answered: {message}")


def _error_from(exc: urllib.error.HTTPError) -> HonchoError:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {"detail": f"HTTP {exc.code}"}
    return _error_from_body(body if isinstance(body, dict) else {"detail": str(body)})
