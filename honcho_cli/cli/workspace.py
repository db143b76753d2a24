"""`honcho workspace ...`: the outermost namespace."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import emit_list, emit_object, note, to_json
from honcho_cli.errors import ConfirmationRequired

app = typer.Typer(help="Workspaces: separate namespaces of peers and sessions.", no_args_is_help=True)

WORKSPACE_COLUMNS = ["id", "created_at", "metadata"]


@app.command("list")
def list_() -> None:
    """List workspaces."""
    emit_list([w.to_dict() for w in state.client().list_workspaces()], WORKSPACE_COLUMNS, title="workspaces")


@app.command()
def create(
    workspace_id: Annotated[str, typer.Argument(metavar="ID")],
    metadata: Annotated[Optional[str], typer.Option(help="JSON object.")] = None,
) -> None:
    """Create a workspace (or return it if it exists)."""
    from honcho_cli.core.validation import parse_metadata

    parsed = parse_metadata(metadata) if metadata is not None else None
    emit_object(state.client().create_workspace(workspace_id, parsed).to_dict())


@app.command()
def inspect(workspace_id: Annotated[Optional[str], typer.Argument(metavar="[ID]")] = None) -> None:
    """Show a workspace and how much it holds (default: the current one)."""
    emit_object(state.client().inspect_workspace(workspace_id))


@app.command()
def delete(
    workspace_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete (otherwise asked on a terminal).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
    cascade: Annotated[bool, typer.Option("--cascade", help="Accepted for the official CLI: sessions always go with the workspace.")] = False,
) -> None:
    """Delete a workspace and everything in it, sessions included (`default` is emptied instead)."""
    if not yes and not dry_run:
        counts = state.client().delete_workspace(workspace_id, dry_run=True)
        state.confirm(
            f"Delete workspace {workspace_id!r} with {to_json(counts['deleted'])}? This cannot be undone.",
            ConfirmationRequired(
                f"deleting workspace {workspace_id!r} removes all its peers, sessions, messages and conclusions; "
                "pass --yes (or --dry-run to count first)",
                workspace_id=workspace_id,
            ),
        )
    emit_object(state.client().delete_workspace(workspace_id, dry_run=dry_run))


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-100).")] = 10,
) -> None:
    """Find messages anywhere in the workspace, by words and meaning."""
    from honcho_cli.cli.message import MESSAGE_COLUMNS

    honcho = state.client()
    found = honcho.search_messages(query, limit=limit)
    if getattr(honcho, "search_note", None):
        note(honcho.search_note)
    emit_list([m.to_dict() for m in found], ["score", *MESSAGE_COLUMNS], title=f"messages matching {query!r}", empty="no match")


@app.command("queue-status")
def queue_status(
    observer: Annotated[Optional[str], typer.Option("--observer", help="Only work for this observer's views.")] = None,
    sender: Annotated[Optional[str], typer.Option("--sender", help="Only messages this peer sent.")] = None,
    session: Annotated[Optional[str], typer.Option("--session", "-s", envvar="HONCHO_SESSION_ID", help="Only this session.")] = None,
) -> None:
    """The reasoning queue's counts (the same as `honcho deriver status`)."""
    emit_object(state.client().deriver_status(observer=observer, sender=sender, session_id=session))


@app.command()
def chat(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="The question; - reads stdin.")],
    scope: Annotated[Optional[list[str]], typer.Option("--scope", help="Recall through this scope (several: their sessions, explicit facts only).")] = None,
    session: Annotated[Optional[str], typer.Option("--session", "-s", envvar="HONCHO_SESSION_ID", help="Also use this session's recent messages.")] = None,
    reasoning_level: Annotated[str, typer.Option("--reasoning-level", "--reasoning", "-r", help="minimal|low|medium|high|max.")] = "low",
    stream: Annotated[Optional[bool], typer.Option("--stream/--no-stream", help="Print tokens as they come (default on a terminal).", show_default=False)] = None,
) -> None:
    """Ask about everyone in the workspace at once (every peer's own view, and the nearest messages)."""
    from honcho_cli.cli.chat import say
    from honcho_cli.recall import workspace_chat_context

    honcho = state.client()
    names = state.split_ids(scope) if scope else None
    bound = names[0] if names and len(names) == 1 else names
    question = state.read_text_argument(query, what="QUERY")
    context, level = workspace_chat_context(honcho, question, session_id=session, scope=bound, reasoning_level=reasoning_level)
    say(honcho, context, level, stream)
