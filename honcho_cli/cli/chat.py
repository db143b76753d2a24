"""`honcho chat PEER QUERY [--target T]`: a question answered from one view by the local model."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import is_json, to_json

LEVELS = ("minimal", "low", "medium", "high", "max")


def ask(
    peer: str,
    query: str,
    session: Optional[str],
    target: Optional[str],
    stream: Optional[bool],
    reasoning_level: str,
) -> None:
    from honcho_cli.reasoning import dialectic

    honcho = state.client()
    question = state.read_text_argument(query, what="QUERY")
    context, level = honcho.chat_context(peer, question, target=target, session_id=session, reasoning_level=reasoning_level)
    streaming = (not is_json()) if stream is None else stream
    model = honcho.chat_model() if not context.is_empty else None  # nothing known: no model to load
    if is_json() and not streaming:
        text = dialectic.answer(model, context, level)
        print(to_json(dialectic.chat_result(text, context)))
        return
    pieces = []
    for piece in dialectic.stream_answer(model, context, level):
        pieces.append(piece)
        if not is_json():
            sys.stdout.write(piece)
            sys.stdout.flush()
    if is_json():  # --stream with JSON: one object per piece, then the summary
        for piece in pieces:
            print(to_json({"delta": piece}))
        print(to_json(dialectic.chat_result("".join(pieces), context)))
    else:
        sys.stdout.write("\n")


def chat(
    peer: Annotated[str, typer.Argument(metavar="PEER", help="Whose memory answers (without --target: about PEER).")],
    query: Annotated[str, typer.Argument(metavar="QUERY", help="The question (1-10,000 characters); - reads stdin.")],
    session: Annotated[Optional[str], typer.Option("--session", "-s", help="Also use this session's recent messages.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Answer from PEER's view of TARGET only.")] = None,
    stream: Annotated[Optional[bool], typer.Option("--stream/--no-stream", help="Print tokens as they come (default on a terminal).", show_default=False)] = None,
    reasoning_level: Annotated[str, typer.Option("--reasoning-level", help="minimal|low|medium|high|max: more context, longer answers.")] = "low",
) -> None:
    """Ask a question about a peer; answered only from the chosen view."""
    ask(peer, query, session, target, stream, reasoning_level)
