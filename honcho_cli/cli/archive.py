"""`honcho export` and `honcho import`: a store, or some workspaces of it, as one JSONL archive."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_object, is_json, note
from honcho_cli.errors import InvalidInput


def _bar(label: str, total: int | None):
    """A Rich progress bar on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty() or is_json():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    bar.start()
    return bar, bar.add_task(label, total=total)


def export(
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="File to write (.gz compresses); - for standard output.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every workspace (default: the current one, -w).")] = False,
) -> None:
    """Write the workspace (or --all) to one self-describing JSONL archive."""
    from honcho_cli.core import archive
    from honcho_cli.portability import export_store

    honcho = state.client()
    workspaces = None if all_ else [honcho.workspace]
    if output is None:
        if sys.stdout.isatty():
            raise InvalidInput(f"give a file with -o (e.g. -o {archive.default_output_name(workspaces)}), or -o - for standard output")
        output = "-"
    shown: list = []

    def progress(counts: dict[str, int]):
        shown.append(_bar("exporting", sum(counts.values())))

        def advance(_table: str, rows: int) -> None:
            if shown[0]:
                shown[0][0].advance(shown[0][1], rows)

        return advance

    try:
        if output == "-":
            result = export_store(honcho, sys.stdout.buffer, workspaces=workspaces, progress=progress)
            sys.stdout.buffer.flush()
        else:
            with archive.atomic_output(Path(output)) as out:
                result = export_store(honcho, out, workspaces=workspaces, progress=progress)
    finally:
        if shown and shown[0]:
            shown[0][0].stop()
    summary = result.to_dict() | {"output": output}
    if output == "-":
        note(f"exported {sum(result.rows.values()):,} rows of {', '.join(result.workspaces) or 'no workspace'}")
        return
    if is_json():
        emit_object(summary)
    else:
        console().print(f"exported {result.rows.get('messages', 0):,} messages, {result.rows.get('conclusions', 0):,} conclusions "
             f"and {sum(result.rows.values()):,} rows in all of {', '.join(result.workspaces) or 'no workspace'} to {output}")


def import_(
    file: Annotated[str, typer.Argument(metavar="FILE", help="An archive from honcho export (.gz too); - reads standard input.")],
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="Keep what already exists here and import the rest (default: a clash is an error).")
    ] = False,
) -> None:
    """Load an archive into this data directory: all of it or nothing; ids are kept."""
    from honcho_cli.core import archive
    from honcho_cli.portability import import_store

    honcho = state.client()
    source = archive.open_archive(file)
    bar = _bar("importing", None)
    try:
        result = import_store(
            honcho, source, skip_existing=skip_existing,
            progress=(lambda _t, n: bar[0].advance(bar[1], n)) if bar else None,
        )
    finally:
        if bar:
            bar[0].stop()
        if file != "-":
            source.close()
    if is_json():
        emit_object(result.to_dict())
        return
    skipped = f"; {sum(result.skipped.values()):,} existing rows kept" if result.skipped else ""
    console().print(f"imported {result.rows.get('messages', 0):,} messages, {result.rows.get('conclusions', 0):,} conclusions and "
         f"{sum(result.rows.values()):,} rows in all into {', '.join(result.workspaces) or 'no workspace'}{skipped}; "
         f"vectors: {result.vectors}")
