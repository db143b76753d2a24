"""`honcho doctor` and `honcho reindex`: checking and mending the store's derived parts."""

from __future__ import annotations

from typing import Annotated

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_object, is_json, to_json
from honcho_cli.errors import Unhealthy

_STYLE = {"ok": "green", "warn": "yellow", "error": "red"}


def doctor(repair: Annotated[bool, typer.Option("--repair", help="Embed, write or remove vectors until the index matches DuckDB.")] = False) -> None:
    """Check the store, the vector index, the queue and the models (exit 7 if something is wrong)."""
    from honcho_cli.doctor import examine

    report = examine(state.client(), repair=repair)
    if is_json():
        print(to_json(report.to_dict()))
    else:
        out = console()
        for check in report.checks:
            out.print(f"[{_STYLE[check.status]}]{check.status:>5}[/] {check.name}: {check.detail}", highlight=False)
        for what, count in report.repaired.items():
            out.print(f"[green]repaired[/] {what}: {count}")
    if not report.healthy:
        raise Unhealthy("the store has problems; run `honcho doctor --repair`", checks=[c.name for c in report.checks if c.status == "error"])


def reindex(
    reembed: Annotated[bool, typer.Option("--reembed", help="Compute every vector again with the configured embedding model.")] = False,
) -> None:
    """Rebuild every vector table from the embeddings kept in DuckDB."""
    from honcho_cli.doctor import reindex as rebuild

    emit_object(rebuild(state.client(), reembed=reembed))
