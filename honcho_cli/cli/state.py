"""The root options every command shares, and the Honcho client built from them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import InvalidInput

if TYPE_CHECKING:
    from honcho_cli.client import Honcho

_options: dict[str, Any] = {"data_dir": None, "workspace": None}


def configure(*, data_dir: Path | None, workspace: str | None) -> None:
    _options.update(data_dir=data_dir, workspace=workspace)


def client() -> Honcho:
    from honcho_cli.client import Honcho

    return Honcho(data_dir=_options["data_dir"], workspace=_options["workspace"])


def settings():
    from honcho_cli.config import resolve_settings

    return resolve_settings(data_dir=_options["data_dir"], workspace=_options["workspace"])


def read_text_argument(text: str | None, *, what: str = "TEXT") -> str:
    """The literal text, or standard input when it is `-`; bytes must be UTF-8."""
    if text is None:
        raise InvalidInput(f"{what} is required (use - to read standard input)")
    if text != "-":
        return text
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"standard input is not valid UTF-8 (byte {exc.start})", field="content") from None


def split_ids(values: list[str] | None) -> list[str]:
    """Accept both `a b c` and `a,b,c`."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def pick(kind: str, positional: str | None, flag: str | None) -> str:
    """The id given as an argument, else by -p/-s (or HONCHO_PEER_ID / HONCHO_SESSION_ID),
    as the official CLI takes them; the argument wins when both are given."""
    value = positional or flag
    if not value:
        letter, env = ("p", "HONCHO_PEER_ID") if kind == "peer" else ("s", "HONCHO_SESSION_ID")
        raise InvalidInput(f"no {kind} given: name it, or pass -{letter}/--{kind}, or set {env}", field=kind)
    return value


def confirm(question: str, refusal: Exception) -> None:
    """Ask on a terminal (the official CLI's habit); elsewhere, raise `refusal` (pass --yes)."""
    if not sys.stdin.isatty():
        raise refusal
    import typer

    if not typer.confirm(question, default=False, err=True):
        raise refusal
