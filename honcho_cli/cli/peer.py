"""`honcho peer ...`: the participants, human or agent."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.chat import chat as chat_command
from honcho_cli.cli.output import emit_list, emit_object, to_json
from honcho_cli.cli.representation import representation as representation_command

app = typer.Typer(help="Peers: the humans and agents that speak and are observed.", no_args_is_help=True)

PEER_COLUMNS = ["id", "observe_me", "created_at", "metadata"]

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
def inspect(peer_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show one peer and the sessions it has been in."""
    honcho = state.client()
    out = honcho.get_peer(peer_id).to_dict()
    out["sessions"] = [s.id for s in honcho.list_sessions(peer_id)]
    emit_object(out)


@app.command()
def config(peer_id: Annotated[str, typer.Argument(metavar="ID")], observe_me: ObserveMe = None) -> None:
    """Show a peer's configuration, or change it."""
    honcho = state.client()
    peer = honcho.update_peer(peer_id, observe_me=observe_me) if observe_me is not None else honcho.get_peer(peer_id)
    emit_object({"id": peer.id, "observe_me": peer.observe_me})


@app.command("get-metadata")
def get_metadata(peer_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Print a peer's metadata as JSON."""
    print(to_json(state.client().get_peer(peer_id).metadata))


@app.command("set-metadata")
def set_metadata(
    peer_id: Annotated[str, typer.Argument(metavar="ID")],
    metadata: Annotated[str, typer.Argument(metavar="JSON", help="JSON object that replaces the metadata.")],
) -> None:
    """Replace a peer's metadata."""
    from honcho_cli.core.validation import parse_metadata

    emit_object(state.client().update_peer(peer_id, metadata=parse_metadata(metadata)).to_dict())


@app.command()
def card(
    peer_id: Annotated[str, typer.Argument(metavar="ID")],
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="ID's card of TARGET.")] = None,
) -> None:
    """The key facts of a view: its most reinforced conclusions."""
    from honcho_cli.cli.output import emit_text

    result = state.client().peer_card(peer_id, target)
    lines = "\n".join(f"- {fact}" for fact in result["card"]) or "(empty)"
    emit_text(result, f"{result['observer']} on {result['observed']}:\n{lines}")


app.command("representation")(representation_command)
app.command("chat")(chat_command)
