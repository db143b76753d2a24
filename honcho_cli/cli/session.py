"""`honcho session ...`: conversations, who is in them and how each member observes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.message import MESSAGE_COLUMNS, PeerOpt, SessionOpt, WaitOpt, add_messages_command
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
from honcho_cli.errors import ConfirmationRequired, InvalidInput

app = typer.Typer(help="Sessions: conversations between peers, with membership history.", no_args_is_help=True)

SESSION_COLUMNS = ["id", "is_active", "peers", "created_at", "metadata"]
MEMBER_COLUMNS = ["peer_id", "active", "joined_at", "left_at", "observe_me", "observe_others"]

SessionArg = Annotated[str, typer.Argument(metavar="SESSION")]
MaybeSession = Annotated[Optional[str], typer.Argument(metavar="[SESSION]", help="The session (else -s or HONCHO_SESSION_ID).")]


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
def inspect(session_id: MaybeSession = None, session: SessionOpt = None) -> None:
    """Show a session, its members and its size."""
    session_id = state.pick("session", session_id, session)
    honcho = state.client()
    out = honcho.get_session(session_id).to_dict()
    out["message_count"] = len(honcho.list_messages(session_id))
    emit_object(out)


@app.command()
def update(
    session_id: MaybeSession = None,
    metadata: Annotated[Optional[str], typer.Option(help="JSON object that replaces the metadata.")] = None,
    active: Annotated[Optional[bool], typer.Option("--active/--inactive", help="Open or close the session.", show_default=False)] = None,
    session: SessionOpt = None,
) -> None:
    """Change a session's metadata or active flag."""
    from honcho_cli.core.validation import parse_metadata

    session_id = state.pick("session", session_id, session)
    parsed = parse_metadata(metadata) if metadata is not None else None
    emit_object(state.client().update_session(session_id, parsed, active).to_dict())


@app.command()
def peers(
    session_id: MaybeSession = None,
    all_: Annotated[bool, typer.Option("--all", help="Include past stints (peers that left).")] = False,
    session: SessionOpt = None,
) -> None:
    """List the members of a session with their observation settings."""
    session_id = state.pick("session", session_id, session)
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
    session_id: MaybeSession = None,
    last: Annotated[Optional[int], typer.Option("--last", "-n", help="Only the newest N.")] = None,
    page: Annotated[Optional[int], typer.Option("--page", help="This page of the transcript (from 1; with --size).")] = None,
    size: Annotated[Optional[int], typer.Option("--size", help="Messages per page with --page (1-100, default 50).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every message (the default).")] = False,
    reverse: Annotated[bool, typer.Option("--reverse", help="Newest first.")] = False,
    peer: Annotated[Optional[str], typer.Option("--peer", "-p", help="Only this peer's messages.")] = None,
    session: SessionOpt = None,
) -> None:
    """Show a session's messages, oldest first (--reverse: newest first)."""
    from honcho_cli.core.validation import check_range

    session_id = state.pick("session", session_id, session)
    if sum([last is not None, page is not None, all_]) > 1:
        raise InvalidInput("--last, --page and --all are mutually exclusive")
    if size is not None and page is None:
        raise InvalidInput("--size only applies with --page")
    check_range("page", page, 1, 1_000_000)
    check_range("size", size, 1, 100)
    found = state.client().list_messages(session_id, peer_id=peer, last=last)
    if reverse:
        found.reverse()
    if page is not None:
        per_page = size or 50
        found = found[(page - 1) * per_page : page * per_page]
    emit_list([m.to_dict() for m in found], MESSAGE_COLUMNS, title=session_id, empty="no messages here")


@app.command()
def delete(
    session_id: MaybeSession = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete (otherwise asked on a terminal).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
    session: SessionOpt = None,
) -> None:
    """Delete a session with its messages, membership history and conclusions."""
    session_id = state.pick("session", session_id, session)
    if not yes and not dry_run:
        counts = state.client().delete_session(session_id, dry_run=True)
        state.confirm(
            f"Delete session {session_id!r} and everything drawn from it ({to_json(counts.get('deleted', counts))})?",
            ConfirmationRequired(
                f"deleting session {session_id!r} removes its messages and the conclusions drawn from them; pass --yes",
                session_id=session_id,
            ),
        )
    emit_object(state.client().delete_session(session_id, dry_run=dry_run))


@app.command("representation")
def representation_(
    peer_id: Annotated[str, typer.Argument(metavar="PEER")],
    session_id: MaybeSession = None,
    target: TargetOpt = None,
    search_query: SearchQueryOpt = None,
    search_top_k: TopKOpt = None,
    search_max_distance: MaxDistanceOpt = None,
    include_most_frequent: FrequentOpt = False,
    max_conclusions: MaxOpt = 25,
    session: SessionOpt = None,
) -> None:
    """PEER's view restricted to conclusions drawn from SESSION (the official order: PEER [SESSION])."""
    session_id = state.pick("session", session_id, session)
    peer_id, session_id = _official_order(peer_id, session_id)
    show_representation(peer_id, target, session_id, search_query, search_top_k, search_max_distance, include_most_frequent, max_conclusions)


def _official_order(peer_id: str, session_id: str) -> tuple[str, str]:
    """Earlier versions took SESSION PEER: read that order when only it names real things."""
    from honcho_cli.errors import NotFound

    honcho = state.client()

    def exists(get, name: str) -> bool:
        try:
            get(name)
            return True
        except NotFound:
            return False

    if not exists(honcho.get_peer, peer_id) and exists(honcho.get_session, peer_id) and exists(honcho.get_peer, session_id):
        note(f"read as SESSION PEER; the order is PEER SESSION: honcho session representation {session_id} {peer_id}")
        return session_id, peer_id
    return peer_id, session_id


@app.command()
def summaries(session_id: MaybeSession = None, session: SessionOpt = None) -> None:
    """The session's latest short (every 20 messages) and long (every 60) summaries."""
    from honcho_cli.cli.output import emit_text

    session_id = state.pick("session", session_id, session)
    found = state.client().session_summaries(session_id)
    parts = []
    for key, title in (("short_summary", "short"), ("long_summary", "long")):
        item = found[key]
        parts.append(f"{title}: " + (f"(messages 1-{item['seq_covered']}) {item['content']}" if item else "(none yet)"))
    emit_text(found, "\n\n".join(parts))


@app.command()
def context(
    session_id: MaybeSession = None,
    tokens: Annotated[int, typer.Option("--tokens", help="Token budget (1-100,000).")] = 2048,
    peer_target: Annotated[Optional[str], typer.Option("--peer-target", help="Include this peer's view and card.")] = None,
    peer_perspective: Annotated[Optional[str], typer.Option("--peer-perspective", help="Seen through this peer's eyes: only what it witnessed.")] = None,
    search_query: Annotated[Optional[str], typer.Option("--search-query", "-q", help="Rank the view's conclusions by this.")] = None,
    summary: Annotated[bool, typer.Option("--summary/--no-summary", help="Include a session summary.")] = True,
    session: SessionOpt = None,
) -> None:
    """What an agent would put in its prompt for this session, within a token budget."""
    from honcho_cli.cli.output import emit_text

    session_id = state.pick("session", session_id, session)
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


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    session_id: MaybeSession = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-100).")] = 10,
    session: SessionOpt = None,
) -> None:
    """Find a session's messages by words and meaning."""
    honcho = state.client()
    found = honcho.search_messages(query, session_id=state.pick("session", session_id, session), limit=limit)
    if getattr(honcho, "search_note", None):
        note(honcho.search_note)
    emit_list([m.to_dict() for m in found], ["score", *MESSAGE_COLUMNS], title=f"messages matching {query!r}", empty="no match")


@app.command("get-metadata")
def get_metadata(session_id: MaybeSession = None, session: SessionOpt = None) -> None:
    """Print a session's metadata as JSON."""
    print(to_json(state.client().get_session(state.pick("session", session_id, session)).metadata))


@app.command("set-metadata")
def set_metadata(
    session_id: MaybeSession = None,
    data: Annotated[str, typer.Option("--data", "-d", help="JSON object that replaces the metadata.")] = ...,
    session: SessionOpt = None,
) -> None:
    """Replace a session's metadata."""
    from honcho_cli.core.validation import parse_metadata

    emit_object(state.client().update_session(state.pick("session", session_id, session), parse_metadata(data)).to_dict())


@app.command()
def clone(
    session_id: MaybeSession = None,
    message_id: Annotated[Optional[str], typer.Option("--message-id", help="Copy up to and including this message.")] = None,
    new_id: Annotated[Optional[str], typer.Option("--id", help="The clone's id (default: a new random one).")] = None,
    session: SessionOpt = None,
) -> None:
    """Copy a session (members, settings, messages) under a new id; the copies are not reasoned over again."""
    emit_object(state.client().clone_session(state.pick("session", session_id, session), message_id=message_id, new_id=new_id).to_dict())
