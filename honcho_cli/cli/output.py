"""The one place that decides how a result or an error reaches the user.

JSON when stdout is not a terminal, when `--json` is given or HONCHO_JSON is set:
collections as arrays, one resource as an object. Rich tables otherwise. Errors go
to stderr (a JSON envelope in JSON mode, one red line otherwise); the entry point in
`app.py` catches every HonchoError once and exits with its code, so commands simply
raise.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from honcho_cli.errors import HonchoError

_TRUE = {"1", "true", "yes", "on"}


class OutputMode:
    """Process-wide output choice, set once by the root callback."""

    force_json: bool = False

    @classmethod
    def json(cls) -> bool:
        if cls.force_json:
            return True
        if os.environ.get("HONCHO_JSON", "").strip().lower() in _TRUE:
            return True
        return not sys.stdout.isatty()


def is_json() -> bool:
    return OutputMode.json()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S%z")
    if isinstance(value, (dict, list)):
        return to_json(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit_list(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None, empty: str = "nothing to show") -> None:
    """A collection: JSON array, or a table of the given columns."""
    if is_json():
        print(to_json(list(rows)))
        return
    if not rows:
        console().print(f"[dim]{empty}[/dim]")
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in columns))
    console().print(table)


def emit_object(obj: dict[str, Any], *, title: str | None = None) -> None:
    """One resource: JSON object, or a two-column key/value table."""
    if is_json():
        print(to_json(obj))
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in obj.items():
        table.add_row(key, _cell(value))
    console().print(table)


def emit_text(data: Any, text: str | Callable[[], None]) -> None:
    """Free-form human output with a JSON twin (`data`) for programs."""
    if is_json():
        print(to_json(data))
        return
    if callable(text):
        text()
    else:
        console().print(text, markup=False, highlight=False)


def note(message: str) -> None:
    """A human-only remark on stderr; silent in JSON mode so pipes stay clean."""
    if not is_json():
        from rich.markup import escape

        console(stderr=True).print(f"[dim]{escape(message)}[/dim]", highlight=False)


def report_error(err: HonchoError) -> int:
    if is_json():
        print(to_json(err.to_dict()), file=sys.stderr)
    else:
        from rich.markup import escape

        # soft_wrap: one line even when stderr is a file or pipe (Rich would wrap at 80 columns)
        console(stderr=True).print(f"[bold red]error[/bold red] [red]{err.code}[/red]: {escape(err.message)}", soft_wrap=True, highlight=False)
    return err.exit_code
