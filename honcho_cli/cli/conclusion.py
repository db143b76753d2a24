"""`honcho conclusion ...`: reading and curating what the deriver concluded."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import emit_list, emit_object

app = typer.Typer(help="Conclusions: the facts each observer holds about each peer.", no_args_is_help=True)

CONCLUSION_COLUMNS = ["observer", "observed", "content", "level", "session_id", "times_derived", "created_at", "id"]

ObserverOpt = Annotated[Optional[str], typer.Option("--observer", help="Whose view.")]
ObservedOpt = Annotated[Optional[str], typer.Option("--observed", help="About whom.")]
SessionOpt = Annotated[Optional[str], typer.Option("--session", "-s", help="Drawn from this session.")]


@app.command("list")
def list_(
    observer: ObserverOpt = None,
    observed: ObservedOpt = None,
    session: SessionOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1)] = None,
) -> None:
    """List conclusions, oldest first."""
    found = state.client().list_conclusions(observer=observer, observed=observed, session_id=session, limit=limit)
    emit_list([c.to_dict() for c in found], CONCLUSION_COLUMNS, title="conclusions", empty="no conclusions")


@app.command()
def get(conclusion_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show one conclusion with its provenance."""
    emit_object(state.client().get_conclusion(conclusion_id).to_dict())


@app.command()
def create(
    content: Annotated[str, typer.Argument(metavar="TEXT", help="The statement; - reads standard input.")],
    observer: Annotated[str, typer.Option("--observer", help="Whose view it goes into.")],
    observed: Annotated[str, typer.Option("--observed", help="Whom it is about.")],
    session: SessionOpt = None,
) -> None:
    """Add a conclusion by hand (embedded with the local embedding model)."""
    honcho = state.client()
    text = state.read_text_argument(content)
    found = honcho.create_conclusion(observer, observed, text, session_id=session, embedder=honcho.embedder())
    emit_object(found.to_dict())


@app.command()
def delete(conclusion_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Delete a conclusion; re-running the deriver will not bring it back."""
    emit_object({"deleted": state.client().delete_conclusion(conclusion_id).to_dict()})


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    observer: Annotated[str, typer.Option("--observer", help="Whose view.")],
    observed: ObservedOpt = None,
    session: SessionOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-100).")] = 10,
) -> None:
    """Rank one view's conclusions by meaning (cosine distance, nearest first)."""
    found = state.client().search_conclusions(query, observer=observer, observed=observed, limit=limit, session_id=session)
    emit_list([c.to_dict() for c in found], ["distance", *CONCLUSION_COLUMNS], title=f"conclusions near {query!r}", empty="no match")
