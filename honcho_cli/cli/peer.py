"""`honcho peer ...`: the participants, human or agent."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.chat import LEVELS, ask
from honcho_cli.cli.message import MESSAGE_COLUMNS, PeerOpt, SessionOpt
from honcho_cli.cli.output import emit_list, emit_object, note, to_json
from honcho_cli.cli.representation import (
    FrequentOpt,
    MaxDistanceOpt,
    MaxOpt,
    SearchQueryOpt,
    TargetOpt,
    TopKOpt,
    show_representation,
)
from honcho_cli.errors import InvalidInput

app = typer.Typer(help="Peers: the humans and agents that speak and are observed.", no_args_is_help=True)

PEER_COLUMNS = ["id", "observe_me", "created_at", "metadata"]

ScopeOpt = Annotated[
    Optional[list[str]],
    typer.Option("--scope", help="Recall through this scope (repeat or comma-separate several: their sessions, explicit facts only)."),
]
SessionsOpt = Annotated[
    Optional[list[str]], typer.Option("--sessions", help="Recall only explicit facts drawn in these sessions (repeat or comma-separate).")
]


def recall_bounds(scope: list[str] | None, sessions: list[str] | None) -> tuple[str | list[str] | None, list[str] | None]:
    """One --scope name is that scope's view; several are an allowlist of their sessions."""
    names = state.split_ids(scope) if scope else None
    return (names[0] if names and len(names) == 1 else names), (state.split_ids(sessions) if sessions else None)


PeerArg = Annotated[Optional[str], typer.Argument(metavar="[PEER]", help="The peer (else -p or HONCHO_PEER_ID).")]

ObserveMe = Annotated[
    Optional[bool],
    typer.Option("--observe-me/--no-observe-me", help="Reason over this peer's messages (default: on).", show_default=False),
]


@app.command()
def create(
    peer_id: Annotated[str, typer.Argument(metavar="ID")],
    metadata: Annotated[Optional[str], typer.Option(help="JSON object.")] = None,
    observe_me: ObserveMe = None,
) -> None:
    """Create a peer (or update it if it exists)."""
    from honcho_cli.core.validation import parse_metadata

    parsed = parse_metadata(metadata) if metadata is not None else None
    emit_object(state.client().create_peer(peer_id, parsed, observe_me).to_dict())


@app.command("list")
def list_() -> None:
    """List the peers of the workspace."""
    emit_list([p.to_dict() for p in state.client().list_peers()], PEER_COLUMNS, title="peers")


@app.command()
def inspect(peer_id: PeerArg = None, peer: PeerOpt = None) -> None:
    """Show one peer and the sessions it has been in."""
    peer_id = state.pick("peer", peer_id, peer)
    honcho = state.client()
    out = honcho.get_peer(peer_id).to_dict()
    out["sessions"] = [s.id for s in honcho.list_sessions(peer_id)]
    emit_object(out)


@app.command()
def config(peer_id: PeerArg = None, observe_me: ObserveMe = None, peer: PeerOpt = None) -> None:
    """Show a peer's configuration, or change it."""
    peer_id = state.pick("peer", peer_id, peer)
    honcho = state.client()
    peer = honcho.update_peer(peer_id, observe_me=observe_me) if observe_me is not None else honcho.get_peer(peer_id)
    emit_object({"id": peer.id, "observe_me": peer.observe_me})


@app.command("get-metadata")
def get_metadata(peer_id: PeerArg = None, peer: PeerOpt = None) -> None:
    """Print a peer's metadata as JSON."""
    print(to_json(state.client().get_peer(state.pick("peer", peer_id, peer)).metadata))


@app.command("set-metadata")
def set_metadata(
    args: Annotated[list[str], typer.Argument(metavar="[PEER] JSON", help="JSON object that replaces the metadata.")],
    peer: PeerOpt = None,
) -> None:
    """Replace a peer's metadata (`set-metadata PEER JSON`, or `set-metadata JSON -p PEER`)."""
    from honcho_cli.core.validation import parse_metadata

    peer_id, metadata = _optional_first(args, "JSON")
    emit_object(state.client().update_peer(state.pick("peer", peer_id, peer), metadata=parse_metadata(metadata)).to_dict())


@app.command()
def card(
    peer_id: PeerArg = None,
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="PEER's card of TARGET.")] = None,
    peer: PeerOpt = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Set the card by hand: one fact per --set.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Drop a card set by hand (back to the derived one).")] = False,
) -> None:
    """The key facts of a view: the card set by hand, else its most reinforced conclusions."""
    from honcho_cli.cli.output import emit_text

    honcho = state.client()
    who = state.pick("peer", peer_id, peer)
    if set_ and clear:
        raise InvalidInput("--set and --clear are mutually exclusive")
    if set_ or clear:
        honcho.set_peer_card(who, list(set_ or []), target)
    result = honcho.peer_card(who, target)
    lines = "\n".join(f"- {fact}" for fact in result["card"]) or "(empty)"
    emit_text(result, f"{result['observer']} on {result['observed']}:\n{lines}")


@app.command("representation")
def representation_(
    peer_id: PeerArg = None,
    target: TargetOpt = None,
    search_query: SearchQueryOpt = None,
    search_top_k: TopKOpt = None,
    search_max_distance: MaxDistanceOpt = None,
    include_most_frequent: FrequentOpt = False,
    max_conclusions: MaxOpt = 25,
    peer: PeerOpt = None,
    session: SessionOpt = None,
    scope: ScopeOpt = None,
    sessions: SessionsOpt = None,
) -> None:
    """What is known about PEER, or what PEER knows about --target (-s: only that session's conclusions)."""
    bound, allowed = recall_bounds(scope, sessions)
    show_representation(state.pick("peer", peer_id, peer), target, session, search_query, search_top_k,
                        search_max_distance, include_most_frequent, max_conclusions, scope=bound, sessions=allowed)


@app.command("chat")
def chat_(
    args: Annotated[list[str], typer.Argument(metavar="[PEER] QUERY", help="The question (- reads stdin); PEER else -p.")],
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Answer from PEER's view of TARGET only.")] = None,
    reasoning_level: Annotated[
        str, typer.Option("--reasoning-level", "--reasoning", "-r", help=f"{'|'.join(LEVELS)}: more context, longer answers.")
    ] = "low",
    stream: Annotated[Optional[bool], typer.Option("--stream/--no-stream", help="Print tokens as they come (default on a terminal).", show_default=False)] = None,
    peer: PeerOpt = None,
    session: SessionOpt = None,
    scope: ScopeOpt = None,
    sessions: SessionsOpt = None,
    evidence: Annotated[bool, typer.Option("--evidence", help="After the answer, list the conclusions and messages it was drawn from.")] = False,
) -> None:
    """Ask about a peer: `peer chat "question" -p PEER` (official order) or `peer chat PEER "question"`."""
    peer_id, query = _optional_first(args, "QUERY")
    bound, allowed = recall_bounds(scope, sessions)
    ask(state.pick("peer", peer_id, peer), query, session, target, stream, reasoning_level, scope=bound, sessions=allowed,
        evidence=evidence)


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    peer: PeerOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-100).")] = 10,
) -> None:
    """Find the messages a peer wrote, by words and meaning (-p PEER)."""
    honcho = state.client()
    found = honcho.search_messages(query, peer_id=state.pick("peer", None, peer), limit=limit)
    if getattr(honcho, "search_note", None):
        note(honcho.search_note)
    emit_list([m.to_dict() for m in found], ["score", *MESSAGE_COLUMNS], title=f"messages matching {query!r}", empty="no match")


def _optional_first(args: list[str], last: str) -> tuple[str | None, str]:
    """`[ID] VALUE`: one argument is the value, two are the id and the value."""
    if len(args) == 1:
        return None, args[0]
    if len(args) == 2:
        return args[0], args[1]
    raise InvalidInput(f"expected [PEER] {last}, got {len(args)} arguments (quote a {last} with spaces)")
