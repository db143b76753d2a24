"""`honcho conclusion ...`: reading and curating what the deriver concluded."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.message import PeerOpt
from honcho_cli.cli.output import emit_list, emit_object, note
from honcho_cli.errors import ConclusionNotFound, ConfirmationRequired, InvalidInput

app = typer.Typer(help="Conclusions: the facts each observer holds about each peer.", no_args_is_help=True)

CONCLUSION_COLUMNS = ["observer", "observed", "content", "level", "session_id", "times_derived", "created_at", "id"]

ObserverOpt = Annotated[Optional[str], typer.Option("--observer", help="Whose view.")]
ObservedOpt = Annotated[Optional[str], typer.Option("--observed", help="About whom.")]
SessionOpt = Annotated[Optional[str], typer.Option("--session", "-s", help="Drawn from this session.")]
LevelOpt = Annotated[Optional[str], typer.Option("--level", help="Only this level: explicit, deductive, inductive or contradiction.")]


def _check_level(level: str | None) -> None:
    from honcho_cli.core.conclusions import LEVELS

    if level is not None and level not in LEVELS:
        raise InvalidInput(f"--level must be one of {', '.join(LEVELS)}", field="level")


@app.command("list")
def list_(
    observer: ObserverOpt = None,
    observed: ObservedOpt = None,
    session: SessionOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1)] = None,
    level: LevelOpt = None,
    derived_from: Annotated[Optional[str], typer.Option("--derived-from", help="Only those citing this conclusion as a premise.")] = None,
    peer: PeerOpt = None,
) -> None:
    """List conclusions, oldest first (-p PEER: that peer's views, like --observer)."""
    _check_level(level)
    found = state.client().list_conclusions(
        observer=observer or peer, observed=observed, session_id=session,
        limit=None if level or derived_from else limit,
    )
    found = [c for c in found if (level is None or c.level == level) and (derived_from is None or derived_from in c.premise_ids)]
    if limit is not None:
        found = found[:limit]
    emit_list([c.to_dict() for c in found], CONCLUSION_COLUMNS, title="conclusions", empty="no conclusions")


@app.command()
def get(conclusion_ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Show a conclusion with its provenance; several ids list those found and name the missing."""
    honcho = state.client()
    if len(conclusion_ids) == 1:
        emit_object(honcho.get_conclusion(conclusion_ids[0]).to_dict())
        return
    found, missing = [], []
    for conclusion_id in conclusion_ids:
        try:
            found.append(honcho.get_conclusion(conclusion_id).to_dict())
        except ConclusionNotFound:
            missing.append(conclusion_id)
    if not found:
        raise ConclusionNotFound(f"none of these conclusions exists: {', '.join(missing)}", conclusion_ids=missing)
    if missing:
        note(f"not found (deleted, or never existed): {', '.join(missing)}")
    emit_list(found, CONCLUSION_COLUMNS, title="conclusions")


@app.command()
def derived(
    conclusion_id: Annotated[str, typer.Argument(metavar="ID", help="The premise.")],
    limit: Annotated[int, typer.Option("--limit", min=1)] = 10,
) -> None:
    """The conclusions that cite ID as a premise (what would lose its footing if ID went)."""
    honcho = state.client()
    honcho.get_conclusion(conclusion_id)
    found = [c for c in honcho.list_conclusions() if conclusion_id in c.premise_ids][:limit]
    emit_list([c.to_dict() for c in found], CONCLUSION_COLUMNS, title=f"derived from {conclusion_id}", empty="nothing cites it")


@app.command()
def create(
    content: Annotated[str, typer.Argument(metavar="TEXT", help="The statement; - reads standard input.")],
    observer: Annotated[Optional[str], typer.Option("--observer", help="Whose view it goes into (else -p).")] = None,
    observed: Annotated[Optional[str], typer.Option("--observed", help="Whom it is about (default: the observer).")] = None,
    session: SessionOpt = None,
    peer: PeerOpt = None,
) -> None:
    """Add a conclusion by hand (embedded with the local embedding model)."""
    honcho = state.client()
    who = state.pick("peer", observer, peer)
    text = state.read_text_argument(content)
    found = honcho.create_conclusion(who, observed or who, text, session_id=session, embedder=honcho.embedder())
    emit_object(found.to_dict())


@app.command()
def delete(
    conclusion_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first on a terminal.")] = False,
    observer: ObserverOpt = None,
    observed: ObservedOpt = None,
    peer: PeerOpt = None,
) -> None:
    """Delete a conclusion; re-running the deriver will not bring it back."""
    import sys

    honcho = state.client()
    found = honcho.get_conclusion(conclusion_id)
    who = observer or peer
    if (who and found.observer != who) or (observed and found.observed != observed):
        raise ConclusionNotFound(f"conclusion {conclusion_id!r} is not in that view", conclusion_id=conclusion_id)
    if not yes and sys.stdin.isatty():
        state.confirm(f"Delete conclusion {conclusion_id!r} ({found.content!r})?",
                      ConfirmationRequired("not deleted", conclusion_id=conclusion_id))
    emit_object({"deleted": honcho.delete_conclusion(conclusion_id).to_dict()})


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    observer: Annotated[Optional[str], typer.Option("--observer", help="Whose view (else -p).")] = None,
    observed: ObservedOpt = None,
    session: SessionOpt = None,
    limit: Annotated[int, typer.Option("--limit", "--top-k", help="At most this many (1-100).")] = 10,
    level: LevelOpt = None,
    peer: PeerOpt = None,
) -> None:
    """Rank one view's conclusions by meaning (cosine distance, nearest first)."""
    _check_level(level)
    found = state.client().search_conclusions(
        query, observer=state.pick("peer", observer, peer), observed=observed, limit=limit, session_id=session
    )
    found = [c for c in found if level is None or c.level == level]
    emit_list([c.to_dict() for c in found], ["distance", *CONCLUSION_COLUMNS], title=f"conclusions near {query!r}", empty="no match")
