"""Answering a question over HTTP: one JSON answer, or server-sent events in the SDK's format.
Shared by peer chat and workspace chat."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from honcho_cli.errors import HonchoError
from honcho_cli.server.errors import error_body
from honcho_cli.server.schemas import Evidence, evidence_of

log = logging.getLogger("honcho.server")


def respond(h: Any, context: Any, level: Any, *, stream: bool, include_evidence: bool) -> Any:
    from honcho_cli.reasoning import dialectic

    model = h.chat_model() if not context.is_empty else None  # a missing model is a 503 before any byte is sent
    evidence = evidence_of(context) if include_evidence else None
    if not stream:
        text = dialectic.answer(model, context, level)
        return {"content": text.strip(), "evidence": evidence}
    return StreamingResponse(_events(dialectic.stream_answer(model, context, level), evidence), media_type="text/event-stream")


def _events(pieces: Iterator[str], evidence: dict[str, Any] | None) -> Iterator[str]:
    """SSE in the SDK's format. The model runs in one producer thread from start to end
    (its lock is held by that thread), and the response drains a queue."""
    out: queue.Queue[tuple[str, Any]] = queue.Queue()

    def produce() -> None:
        try:
            for piece in pieces:
                out.put(("delta", piece))
            out.put(("done", None))
        except HonchoError as exc:
            out.put(("error", error_body(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug: end the stream with an error event
            log.exception("chat stream failed")
            out.put(("error", {"detail": f"internal error: {type(exc).__name__}"}))

    threading.Thread(target=produce, name="honcho-chat-stream", daemon=True).start()
    while True:
        kind, value = out.get()
        if kind == "delta":
            yield f"data: {json.dumps({'delta': {'content': value}, 'done': False})}\n\n"
        elif kind == "done":
            final: dict[str, Any] = {"delta": {"content": ""}, "done": True}
            if evidence is not None:
                final["evidence"] = Evidence.model_validate(evidence).model_dump(mode="json")
            yield f"data: {json.dumps(final)}\n\n"
            return
        else:
            yield f"event: error\ndata: {json.dumps(value)}\n\n"
            return
