"""`honcho representation PEER [--target T]`: the cached conclusions of one view."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_text

TargetOpt = Annotated[Optional[str], typer.Option("--target", "-t", help="The observed peer: PEER's view of TARGET.")]
SearchQueryOpt = Annotated[Optional[str], typer.Option("--search-query", "-q", help="Rank conclusions by meaning.")]
TopKOpt = Annotated[Optional[int], typer.Option("--search-top-k", help="Semantic hits to include (1-100).")]
MaxDistanceOpt = Annotated[Optional[float], typer.Option("--search-max-distance", help="Cosine distance cap (0.0-1.0).")]
FrequentOpt = Annotated[bool, typer.Option("--include-most-frequent", help="Add the most reinforced conclusions.")]
MaxOpt = Annotated[int, typer.Option("--max-conclusions", help="At most this many (1-100).")]


def show_representation(
    peer: str,
    target: Optional[str],
    session: Optional[str],
    search_query: Optional[str],
    search_top_k: Optional[int],
    search_max_distance: Optional[float],
    include_most_frequent: bool,
    max_conclusions: int,
    *,
    scope: str | list[str] | None = None,
    sessions: list[str] | None = None,
) -> None:
    view = state.client().representation(
        peer, target, session_id=session, search_query=search_query, search_top_k=search_top_k,
        search_max_distance=search_max_distance, include_most_frequent=include_most_frequent,
        max_conclusions=max_conclusions, scope=scope, sessions=sessions,
    )

    def human() -> None:
        from rich.markdown import Markdown

        console().print(Markdown(view.markdown()))

    emit_text(view.to_dict(), human)


def representation(
    peer: Annotated[str, typer.Argument(metavar="PEER", help="The observer (without --target: the peer itself).")],
    target: TargetOpt = None,
    session: Annotated[Optional[str], typer.Option("--session", "-s", help="Only conclusions drawn from this session.")] = None,
    search_query: SearchQueryOpt = None,
    search_top_k: TopKOpt = None,
    search_max_distance: MaxDistanceOpt = None,
    include_most_frequent: FrequentOpt = False,
    max_conclusions: MaxOpt = 25,
) -> None:
    """What is known about PEER, or what PEER knows about --target."""
    show_representation(peer, target, session, search_query, search_top_k, search_max_distance, include_most_frequent, max_conclusions)
