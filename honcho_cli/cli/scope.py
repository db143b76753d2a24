"""`honcho scope ...`: named sets of sessions that bound recall (see honcho_cli.core.scopes)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import emit_list, emit_object
from honcho_cli.errors import ConfirmationRequired

app = typer.Typer(help="Scopes: named sets of sessions; recall through a scope sees only what happened in them.",
                  no_args_is_help=True)

SCOPE_COLUMNS = ["id", "created_at", "metadata"]
ScopeArg = Annotated[str, typer.Argument(metavar="SCOPE")]


@app.command("list")
def list_() -> None:
    """List the scopes of the workspace."""
    emit_list([s.to_dict() for s in state.client().list_scopes()], SCOPE_COLUMNS, title="scopes", empty="no scopes")


@app.command()
def create(
    scope_id: ScopeArg,
    sessions: Annotated[Optional[list[str]], typer.Option("--sessions", help="Sessions to add (repeat or comma-separate).")] = None,
    metadata: Annotated[Optional[str], typer.Option(help="JSON object.")] = None,
) -> None:
    """Create a scope (or return it), optionally with sessions; what they hold is copied in at once."""
    from honcho_cli.core.validation import parse_metadata

    honcho = state.client()
    found = honcho.create_scope(scope_id, parse_metadata(metadata) if metadata is not None else None,
                                state.split_ids(sessions) or None)
    out = found.to_dict()
    if sessions:
        out["added_sessions"] = state.split_ids(sessions)
    emit_object(out)


@app.command()
def inspect(scope_id: ScopeArg) -> None:
    """A scope with its sessions and how many conclusions each brought in."""
    honcho = state.client()
    out = honcho.get_scope(scope_id).to_dict()
    status = honcho.scope_status(scope_id)
    out["sessions"] = list(status)
    out["conclusions_copied"] = {sid: job["docs_copied"] for sid, job in status.items()}
    emit_object(out)


@app.command()
def sessions(scope_id: ScopeArg, reverse: Annotated[bool, typer.Option("--reverse", help="Most recently added first.")] = False) -> None:
    """The member sessions, longest-standing first."""
    from honcho_cli.cli.session import SESSION_COLUMNS

    emit_list([s.to_dict() for s in state.client().scope_sessions(scope_id, reverse=reverse)], SESSION_COLUMNS,
              title=f"sessions of scope {scope_id}", empty="no sessions")


@app.command("add-sessions")
def add_sessions(scope_id: ScopeArg, session_ids: Annotated[list[str], typer.Argument(metavar="SESSION...")]) -> None:
    """Add sessions (at most 100 at a time); what was concluded in them is copied in."""
    emit_object(state.client().scope_add_sessions(scope_id, state.split_ids(session_ids)))


@app.command("remove-session")
def remove_session(scope_id: ScopeArg, session_id: Annotated[str, typer.Argument(metavar="SESSION")]) -> None:
    """Take a session out; its conclusions, and what was reasoned in the scope from them, go."""
    emit_object(state.client().scope_remove_session(scope_id, session_id))


@app.command()
def status(scope_id: ScopeArg) -> None:
    """Per session: copy state and count (copies are made at once, so always completed)."""
    found = state.client().scope_status(scope_id)
    emit_list([{"session_id": sid, **job} for sid, job in found.items()], ["session_id", "state", "docs_copied", "updated_at"],
              title=f"scope {scope_id}", empty="no sessions")


@app.command()
def delete(
    scope_id: ScopeArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Really delete (otherwise asked on a terminal).")] = False,
) -> None:
    """Delete a scope and its view (its sessions stay)."""
    if not yes:
        state.confirm(f"Delete scope {scope_id!r} and its view?",
                      ConfirmationRequired(f"deleting scope {scope_id!r} removes its view; pass --yes", scope_id=scope_id))
    emit_object(state.client().delete_scope(scope_id))
