"""`honcho message ...`: reading, finding and writing messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_list, emit_object, is_json, note, to_json
from honcho_cli.errors import ConfirmationRequired, InvalidInput

app = typer.Typer(help="Messages: what peers said, in session order.", no_args_is_help=True)

MESSAGE_COLUMNS = ["seq_in_session", "session_id", "peer_id", "content", "created_at", "id"]

SessionOpt = Annotated[Optional[str], typer.Option("--session", "-s", envvar="HONCHO_SESSION_ID", help="Session id (env HONCHO_SESSION_ID).")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Reason over the new messages before returning.")]
PeerOpt = Annotated[Optional[str], typer.Option("--peer", "-p", envvar="HONCHO_PEER_ID", help="Peer id (env HONCHO_PEER_ID).")]


def read_jsonl(path: Path) -> list[dict]:
    """Parse a JSONL file strictly, naming the first bad line; blank lines are skipped."""
    from honcho_cli.core.messages import NewMessage

    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
    items = []
    lines = raw.split(b"\n")
    progress = _progress(len(lines), "reading")
    try:
        for number, line in enumerate(lines, start=1):
            if progress:
                progress[0].advance(progress[1])
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{where}: not valid UTF-8", line=number) from None
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise InvalidInput(f"{where}: invalid JSON ({exc.msg})", line=number) from None
            try:
                item = NewMessage.parse(obj, where=where)
                item.check(where)
            except InvalidInput as exc:
                exc.details.setdefault("line", number)
                raise
            items.append(item)
    finally:
        if progress:
            progress[0].stop()
    if not items:
        raise InvalidInput(f"{path} holds no messages", path=str(path))
    return items


def _progress(total: int, label: str):
    """A Rich bar on a terminal for big inputs; nothing in JSON mode or for small files."""
    if is_json() or total < 2000:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    bar.start()
    return bar, bar.add_task(label, total=total)


def add_messages_command(
    session_id: str,
    peer_id: Optional[str],
    text: Optional[str],
    file: Optional[Path],
    metadata: Optional[str],
    created_at: Optional[str],
    join: bool,
    wait: bool = False,
) -> None:
    """Shared by `session add-message` and `message create`."""
    from honcho_cli.core.messages import NewMessage
    from honcho_cli.core.validation import parse_metadata, parse_timestamp

    honcho = state.client()
    if file is not None:
        if text is not None:
            raise InvalidInput("give either TEXT or --file, not both")
        items = read_jsonl(file)
    else:
        if peer_id is None:
            raise InvalidInput("--peer is required when adding one message (or use --file)")
        items = [
            NewMessage(
                peer_id=peer_id,
                content=state.read_text_argument(text),
                metadata=parse_metadata(metadata) if metadata is not None else {},
                created_at=parse_timestamp(created_at) if created_at is not None else None,
            )
        ]
    if wait:  # fail on a missing model before anything is written
        from honcho_cli.reasoning.backends import check_models_present

        check_models_present(honcho.settings)
    created = honcho.add_messages(session_id, items, join=join)
    if wait:
        from honcho_cli.cli.deriver import run_deriver

        stats = run_deriver(message_ids=[m.id for m in created])
        note(f"reasoned: {stats['stored']} facts kept, {stats['dropped']} dropped as unsupported, {stats['failed']} units failed")
    if file is None:
        emit_object(created[0].to_dict())
    elif is_json():
        emit_list([m.to_dict() for m in created], MESSAGE_COLUMNS)
    else:
        console().print(
            f"added {len(created)} messages to {session_id} (seq {created[0].seq_in_session}..{created[-1].seq_in_session})"
        )


BRIEF_COLUMNS = ["id", "peer_id", "token_count", "created_at"]


@app.command("list")
def list_(
    session_id: Annotated[Optional[str], typer.Argument(metavar="[SESSION]", help="The session (else -s; else every session).")] = None,
    session: SessionOpt = None,
    peer: PeerOpt = None,
    last: Annotated[Optional[int], typer.Option("--last", "-n", help="Only the newest N.")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Newest first.")] = False,
    brief: Annotated[bool, typer.Option("--brief", help="Ids, sender, token count and time only (no content).")] = False,
) -> None:
    """List messages, oldest first (--reverse: newest first)."""
    found = state.client().list_messages(session_id or session, peer_id=peer, last=last)
    if reverse:
        found.reverse()
    rows = [m.to_dict() for m in found]
    if brief:
        rows = [{k: r[k] for k in ("id", "session_id", "peer_id", "token_count", "created_at")} for r in rows]
    emit_list(rows, BRIEF_COLUMNS if brief else MESSAGE_COLUMNS, title="messages")


@app.command()
def get(message_id: Annotated[str, typer.Argument(metavar="ID")], session: SessionOpt = None) -> None:
    """Show one message (with -s, it must be in that session)."""
    from honcho_cli.errors import MessageNotFound

    found = state.client().get_message(message_id)
    if session is not None and found.session_id != session:
        raise MessageNotFound(f"message {message_id!r} is not in session {session!r}", message_id=message_id)
    emit_object(found.to_dict())


@app.command()
def delete(
    message_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete (otherwise asked on a terminal).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
) -> None:
    """Delete a message and what was drawn from it (conclusions it alone supports, its vectors and queue entries)."""
    if not yes and not dry_run:
        counts = state.client().delete_message(message_id, dry_run=True)
        state.confirm(
            f"Delete message {message_id!r} and what was drawn from it ({to_json(counts['deleted'])})?",
            ConfirmationRequired(
                f"deleting message {message_id!r} also removes the conclusions drawn only from it; pass --yes",
                message_id=message_id,
            ),
        )
    emit_object(state.client().delete_message(message_id, dry_run=dry_run))


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    session: SessionOpt = None,
    peer: PeerOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-100).")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid (words and meaning, fused by rank), fulltext or semantic.")] = "hybrid",
) -> None:
    """Find messages by their words and their meaning."""
    honcho = state.client()
    found = honcho.search_messages(query, session_id=session, peer_id=peer, limit=limit, mode=mode)
    if getattr(honcho, "search_note", None):
        note(honcho.search_note)
    emit_list([m.to_dict() for m in found], ["score", *MESSAGE_COLUMNS], title=f"messages matching {query!r}", empty="no match")


@app.command()
def create(
    text: Annotated[Optional[str], typer.Argument(metavar="TEXT", help="The content; - reads standard input.")] = None,
    session: SessionOpt = None,
    peer: PeerOpt = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="JSONL: one {\"peer\", \"content\", ...} per line.")] = None,
    metadata: Annotated[Optional[str], typer.Option(help="JSON object.")] = None,
    created_at: Annotated[Optional[str], typer.Option("--created-at", help="ISO 8601, e.g. when importing history.")] = None,
    join: Annotated[bool, typer.Option("--join", help="Create the peer if needed and add it to the session first.")] = False,
    wait: WaitOpt = False,
) -> None:
    """Add a message (same as `honcho session add-message`)."""
    if session is None:
        raise InvalidInput("--session is required")
    add_messages_command(session, peer, text, file, metadata, created_at, join, wait)
