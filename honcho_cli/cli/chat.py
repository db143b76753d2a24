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
    server: Optional[str] = None,
    *,
    scope: str | list[str] | None = None,
    sessions: list[str] | None = None,
    evidence: bool = False,
) -> None:
    question = state.read_text_argument(query, what="QUERY")
    if server:
        if scope is not None or sessions is not None:
            from honcho_cli.errors import InvalidInput

            raise InvalidInput("--server does not take --scope or --sessions yet; ask without --server")
        ask_server(server, peer, question, session, target, stream, reasoning_level)
        return
    honcho = state.client()
    # the chat model loads in the background while the question is embedded and the view read
    honcho.engine.preload(chat=_chat_model_present(honcho.settings), embedder=False)
    context, level = honcho.chat_context(peer, question, target=target, session_id=session, reasoning_level=reasoning_level,
                                         scope=scope, sessions=sessions)
    say(honcho, context, level, stream, evidence=evidence)


def say(honcho, context, level, stream: Optional[bool], *, evidence: bool = False) -> None:
    """Print the answer: streamed on a terminal, one JSON object otherwise (pieces, then it, with --stream)."""
    from honcho_cli.reasoning import dialectic

    streaming = (not is_json()) if stream is None else stream
    if context.is_empty:
        honcho.engine.settle()  # nothing known: the answer needs no model, but let its load end
    model = honcho.chat_model() if not context.is_empty else None
    if is_json() and not streaming:
        text = dialectic.answer(model, context, level)
        print(to_json(_result(text, context, evidence)))
        return
    pieces = []
    for piece in dialectic.stream_answer(model, context, level):
        pieces.append(piece)
        # --stream with JSON: one object per piece as it comes, then the summary
        sys.stdout.write(to_json({"delta": piece}) + "\n" if is_json() else piece)
        sys.stdout.flush()
    if is_json():
        print(to_json(_result("".join(pieces), context, evidence)))
    else:
        sys.stdout.write("\n")
        if evidence:
            show_evidence(context)


def _result(text: str, context, evidence: bool) -> dict:
    """The JSON answer; with `--evidence`, also the text of what it was drawn from."""
    from honcho_cli.reasoning import dialectic

    result = dialectic.chat_result(text, context)
    if evidence:
        result["evidence"] = {
            "conclusions": [{"id": c.id, "content": c.content, "session_id": c.session_id} for c in context.representation.conclusions],
            "messages": [{"id": m.id, "peer_id": m.peer_id, "session_id": m.session_id, "content": m.content}
                         for m in [*context.messages, *context.evidence]],
        }
    return result


def show_evidence(context) -> None:
    """What the answer was drawn from, after it (the official CLI's `--evidence`; JSON always lists the ids)."""
    facts = context.representation.conclusions
    said = [*context.messages, *context.evidence]
    print("\nEvidence:" if facts or said else "\nEvidence: none")
    for c in facts:
        print(f"- conclusion {c.id}: {c.content}")
    for m in said:
        print(f"- message {m.id} ({m.peer_id}): {m.content}")


def _chat_model_present(settings) -> bool:
    from honcho_cli.errors import HonchoError
    from honcho_cli.reasoning.backends import check_chat_model_present

    try:
        check_chat_model_present(settings)
    except HonchoError:
        return False  # asked for only if the view holds something; its error is raised there
    return True


def ask_server(
    url: str, peer: str, question: str, session: Optional[str], target: Optional[str], stream: Optional[bool], reasoning_level: str
) -> None:
    """The same answer and output, from a running `honcho serve` on this data directory."""
    from honcho_cli.cli.remote import Server

    settings = state.settings()
    events = Server(url, settings.data_dir, settings.workspace).chat(
        peer, question, target=target, session_id=session, reasoning_level=reasoning_level
    )
    streaming = (not is_json()) if stream is None else stream
    pieces: list[str] = []
    evidence: dict = {}
    for event in events:
        piece = (event.get("delta") or {}).get("content") or ""
        evidence = event.get("evidence") or evidence
        if piece:
            pieces.append(piece)
            if streaming:
                sys.stdout.write(to_json({"delta": piece}) + "\n" if is_json() else piece)
                sys.stdout.flush()
    answer = "".join(pieces).strip()
    if is_json():
        print(to_json({
            "answer": answer,
            "conclusions": [c["id"] for c in evidence.get("conclusions", [])],
            "messages": [m["id"] for m in evidence.get("messages", [])],
        }))
    else:
        sys.stdout.write("\n" if streaming else answer + "\n")


def chat(
    peer: Annotated[str, typer.Argument(metavar="PEER", help="Whose memory answers (without --target: about PEER).")],
    query: Annotated[str, typer.Argument(metavar="QUERY", help="The question (1-10,000 characters); - reads stdin.")],
    session: Annotated[Optional[str], typer.Option("--session", "-s", help="Also use this session's recent messages.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Answer from PEER's view of TARGET only.")] = None,
    stream: Annotated[Optional[bool], typer.Option("--stream/--no-stream", help="Print tokens as they come (default on a terminal).", show_default=False)] = None,
    reasoning_level: Annotated[str, typer.Option("--reasoning-level", help="minimal|low|medium|high|max: more context, longer answers.")] = "low",
    server: Annotated[
        Optional[str],
        typer.Option("--server", envvar="HONCHO_SERVER", show_envvar=True, metavar="URL",
                     help="Ask a running `honcho serve` on this data directory (models already loaded) instead of loading them here."),
    ] = None,
) -> None:
    """Ask a question about a peer; answered only from the chosen view."""
    ask(peer, query, session, target, stream, reasoning_level, server)
