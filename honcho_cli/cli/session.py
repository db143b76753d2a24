"""`honcho session ...`: conversations, who is in them and how each member observes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.message import MESSAGE_COLUMNS, PeerOpt, WaitOpt, add_messages_command
from honcho_cli.cli.output import emit_list, emit_object
from honcho_cli.cli.representation import (
    FrequentOpt,
    MaxDistanceOpt,
    MaxOpt,
    SearchQueryOpt,
    TargetOpt,
    TopKOpt,
    show_representation,
)
from honcho_cli.errors import ConfirmationRequired

app = typer.Typer(help="Sessions: conversations between peers, with membership history.", no_args_is_help=True)

SESSION_COLUMNS = ["id", "is_active", "peers", "created_at", "metadata"]
MEMBER_COLUMNS = ["peer_id", "active", "joined_at", "left_at", "observe_me", "observe_others"]

SessionArg = Annotated[str, typer.Argument(metavar="SESSION")]


@app.command()
def create(
    session_id: SessionArg,
    peers: Annotated[Optional[str], typer.Option("--peers", help="Comma-separated peer ids to add (they must exist).")] = None,
    metadata: Annotated[Optional[str], typer.Option(help="JSON object.")] = None,
) -> None:
    """Create a session (or return it if it exists), optionally with members."""
    from honcho_cli.core.validation import parse_metadata

    parsed = parse_metadata(metadata) if metadata is not None else None
    emit_object(state.client().create_session(session_id, state.split_ids([peers] if peers else []), parsed).to_dict())


@app.command("list")
def list_(peer: PeerOpt = None) -> None:
    """List sessions, or those a peer has been in."""
    emit_list([s.to_dict() for s in state.client().list_sessions(peer)], SESSION_COLUMNS, title="sessions")


@app.command()
def inspect(session_id: SessionArg) -> None:
    """Show a session, its members and its size."""
    honcho = state.client()
    out = honcho.get_session(session_id).to_dict()
    out["message_count"] = len(honcho.list_messages(session_id))
    emit_object(out)


@app.command()
def update(
    session_id: SessionArg,
    metadata: Annotated[Optional[str], typer.Option(help="JSON object that replaces the metadata.")] = None,
    active: Annotated[Optional[bool], typer.Option("--active/--inactive", help="Open or close the session.", show_default=False)] = None,
) -> None:
    """Change a session's metadata or active flag."""
    from honcho_cli.core.validation import parse_metadata

    parsed = parse_metadata(metadata) if metadata is not None else None
    emit_object(state.client().update_session(session_id, parsed, active).to_dict())


@app.command()
def peers(
    session_id: SessionArg,
    all_: Annotated[bool, typer.Option("--all", help="Include past stints (peers that left).")] = False,
) -> None:
    """List the members of a session with their observation settings."""
    rows = [m.to_dict() for m in state.client().session_peers(session_id, include_history=all_)]
    emit_list(rows, MEMBER_COLUMNS, title=f"members of {session_id}")


@app.command("add-peers")
def add_peers(session_id: SessionArg, peer_ids: Annotated[list[str], typer.Argument(metavar="PEER...")]) -> None:
    """Add peers to a session; they observe only messages sent from now on."""
    rows = [m.to_dict() for m in state.client().add_peers(session_id, state.split_ids(peer_ids))]
    emit_list(rows, MEMBER_COLUMNS, title=f"members of {session_id}")


@app.command("remove-peers")
def remove_peers(session_id: SessionArg, peer_ids: Annotated[list[str], typer.Argument(metavar="PEER...")]) -> None:
    """Remove peers from a session; their past membership stays on record."""
    rows = [m.to_dict() for m in state.client().remove_peers(session_id, state.split_ids(peer_ids))]
    emit_list(rows, MEMBER_COLUMNS, title=f"members of {session_id}")


@app.command("set-peer-config")
def set_peer_config(
    session_id: SessionArg,
    peer_id: Annotated[str, typer.Argument(metavar="PEER")],
    observe_me: Annotated[
        Optional[bool], typer.Option("--observe-me/--no-observe-me", help="Override the peer's own setting here.", show_default=False)
    ] = None,
    observe_others: Annotated[
        Optional[bool],
        typer.Option("--observe-others/--no-observe-others", help="Form views of the other members.", show_default=False),
    ] = None,
    inherit_observe_me: Annotated[
        bool, typer.Option("--inherit-observe-me", help="Drop the override; use the peer's setting.")
    ] = False,
) -> None:
    """Set how a peer observes in this session (applies to messages from now on)."""
    config = state.client().set_peer_config(
        session_id, peer_id, observe_me, observe_others, clear_observe_me=inherit_observe_me
    )
    emit_object(config.to_dict())


@app.command("get-peer-config")
def get_peer_config(session_id: SessionArg, peer_id: Annotated[str, typer.Argument(metavar="PEER")]) -> None:
    """Show a peer's settings in this session and what they resolve to."""
    emit_object(state.client().get_peer_config(session_id, peer_id).to_dict())


@app.command("add-message")
def add_message(
    session_id: SessionArg,
    text: Annotated[Optional[str], typer.Argument(metavar="[TEXT]", help="The content; - reads standard input.")] = None,
    peer: PeerOpt = None,
    file: Annotated[
        Optional[Path], typer.Option("--file", "-f", help="JSONL, one {\"peer\", \"content\", \"metadata\"?, \"created_at\"?} per line; all or nothing.")
    ] = None,
    metadata: Annotated[Optional[str], typer.Option(help="JSON object.")] = None,
    created_at: Annotated[Optional[str], typer.Option("--created-at", help="ISO 8601, e.g. when importing history.")] = None,
    join: Annotated[bool, typer.Option("--join", help="Create the sender if needed and add it to the session first.")] = False,
    wait: WaitOpt = False,
) -> None:
    """Add a message from a member (or many from a JSONL file)."""
    add_messages_command(session_id, peer, text, file, metadata, created_at, join, wait)


@app.command()
def view(
    session_id: SessionArg,
    last: Annotated[Optional[int], typer.Option("--last", "-n", help="Only the newest N.")] = None,
) -> None:
    """Show a session's messages, oldest first."""
    found = state.client().list_messages(session_id, last=last)
    emit_list([m.to_dict() for m in found], MESSAGE_COLUMNS, title=session_id, empty="no messages yet")


@app.command()
def delete(
    session_id: SessionArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
) -> None:
    """Delete a session with its messages, membership history and conclusions."""
    if not yes and not dry_run:
        raise ConfirmationRequired(
            f"deleting session {session_id!r} removes its messages and the conclusions drawn from them; pass --yes",
            session_id=session_id,
        )
    emit_object(state.client().delete_session(session_id, dry_run=dry_run))


@app.command("representation")
def representation_(
    session_id: SessionArg,
    peer: Annotated[str, typer.Argument(metavar="PEER")],
    target: TargetOpt = None,
    search_query: SearchQueryOpt = None,
    search_top_k: TopKOpt = None,
    search_max_distance: MaxDistanceOpt = None,
    include_most_frequent: FrequentOpt = False,
    max_conclusions: MaxOpt = 25,
) -> None:
    """A view restricted to conclusions drawn from this session."""
    show_representation(peer, target, session_id, search_query, search_top_k, search_max_distance, include_most_frequent, max_conclusions)


@app.command()
def summaries(session_id: SessionArg) -> None:
    """The session's latest short (every 20 messages) and long (every 60) summaries."""
    from honcho_cli.cli.output import emit_text

    found = state.client().session_summaries(session_id)
    parts = []
    for key, title in (("short_summary", "short"), ("long_summary", "long")):
        item = found[key]
        parts.append(f"{title}: " + (f"(messages 1-{item['seq_covered']}) {item['content']}" if item else "(none yet)"))
    emit_text(found, "\n\n".join(parts))


@app.command()
def context(
    session_id: SessionArg,
    tokens: Annotated[int, typer.Option("--tokens", help="Token budget (1-100,000).")] = 2048,
    peer_target: Annotated[Optional[str], typer.Option("--peer-target", help="Include this peer's view and card.")] = None,
    peer_perspective: Annotated[Optional[str], typer.Option("--peer-perspective", help="Seen through this peer's eyes: only what it witnessed.")] = None,
    search_query: Annotated[Optional[str], typer.Option("--search-query", "-q", help="Rank the view's conclusions by this.")] = None,
    summary: Annotated[bool, typer.Option("--summary/--no-summary", help="Include a session summary.")] = True,
) -> None:
    """What an agent would put in its prompt for this session, within a token budget."""
    from honcho_cli.cli.output import emit_text

    found = state.client().session_context(
        session_id, tokens=tokens, peer_target=peer_target, peer_perspective=peer_perspective,
        search_query=search_query, summary=summary,
    )
    parts = []
    if found["representation"]:
        parts.append(found["representation"])
    if found["peer_card"]:
        parts.append("Key facts:\n" + "\n".join(f"- {fact}" for fact in found["peer_card"]))
    if found["summary"]:
        parts.append(f"Summary of messages 1-{found['summary']['seq_covered']}:\n{found['summary']['content']}")
    if found["messages"]:
        parts.append("Recent messages:\n" + "\n".join(f"{m['peer_id']}: {m['content']}" for m in found["messages"]))
    parts.append(f"({found['token_count']} of {found['token_budget']} tokens)")
    emit_text(found, "\n\n".join(parts))
