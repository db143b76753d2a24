"""`honcho push` / `honcho pull`: a workspace to or from a Honcho v3 server (see honcho_cli.remote)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_object, is_json

UrlOpt = Annotated[str, typer.Option("--url", help="The server, e.g. https://api.honcho.dev or http://127.0.0.1:8000.")]
KeyOpt = Annotated[Optional[str], typer.Option("--api-key", envvar="HONCHO_API_KEY", help="Bearer key (env HONCHO_API_KEY).")]


def _progress(label: str):
    from honcho_cli.cli.archive import _bar

    bar = _bar(label, None)
    if bar is None:
        return None, None
    return bar, (lambda _what, n: bar[0].advance(bar[1], n))


def _report(direction: str, result, workspace: str, remote_workspace: str, url: str) -> None:
    out = {"direction": direction, "workspace": workspace, "remote_workspace": remote_workspace, "url": url, **result.to_dict()}
    if is_json():
        emit_object(out)
        return
    skipped = sum(result.skipped.values())
    console().print(
        f"{direction}: {result.messages:,} messages, {result.conclusions:,} conclusions, {result.peers} peers, "
        f"{result.memberships} membership changes, {result.cards} cards, {result.scopes} scopes"
        + (f"; {skipped:,} already there" if skipped else "")
    )


def push(
    url: UrlOpt,
    api_key: KeyOpt = None,
    to_workspace: Annotated[Optional[str], typer.Option("--to-workspace", help="The server's workspace (default: the same id as -w).")] = None,
) -> None:
    """Replay this workspace into a Honcho server (run it again to resume).

    Peers, sessions with their members joining and leaving in order, messages with their
    times, conclusions, cards set by hand, scopes; nothing is sent twice."""
    from honcho_cli import remote

    honcho = state.client()
    honcho.inspect_workspace()  # an unknown workspace is an error before anything is sent
    target = to_workspace or honcho.workspace
    client = remote.sdk_client(url, api_key, target)
    bar, tick = _progress("pushing")
    try:
        result = remote.push(honcho, client, progress=tick)
    finally:
        if bar:
            bar[0].stop()
    _report("push", result, honcho.workspace, target, url)


def pull(
    url: UrlOpt,
    api_key: KeyOpt = None,
    from_workspace: Annotated[Optional[str], typer.Option("--from-workspace", help="The server's workspace (default: the same id as -w).")] = None,
) -> None:
    """Copy a workspace of a Honcho server into this one (run it again to resume).

    Peers, sessions with their current members, messages with their times, conclusions
    with their levels and premises, scopes."""
    from honcho_cli import remote

    honcho = state.client()
    source = from_workspace or honcho.workspace
    client = remote.sdk_client(url, api_key, source)
    bar, tick = _progress("pulling")
    try:
        result = remote.pull(honcho, client, progress=tick)
    finally:
        if bar:
            bar[0].stop()
    _report("pull", result, honcho.workspace, source, url)
