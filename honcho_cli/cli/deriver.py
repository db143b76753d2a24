"""`honcho deriver ...`: the background reasoning, run on demand or kept watching."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_object, is_json, note, to_json

app = typer.Typer(help="The deriver: reasons over queued messages with the local model.", no_args_is_help=True)


def run_deriver(
    *,
    limit: Optional[int] = None,
    follow: bool = False,
    message_ids: Optional[list[str]] = None,
    all_workspaces: bool = False,
    quiet: bool = False,
) -> dict:
    """Shared by `deriver run` and `add-message --wait`; a Rich bar on a terminal."""
    from honcho_cli.reasoning.deriver import open_deriver

    honcho = state.client()
    deriver = open_deriver(honcho, all_workspaces=all_workspaces)
    total = deriver.pending_units_hint() if message_ids is None else len(message_ids)
    show_bar = not is_json() and not quiet and total > 0
    failures: list[str] = []

    if not show_bar:
        def on_unit(result):
            if result.outcome in ("failed", "retry"):
                failures.append(f"{result.session_id}/{result.observed}: {result.error}")

        stats = deriver.run(limit=limit, follow=follow, message_ids=message_ids, on_unit=on_unit)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        columns = [
            TextColumn("reasoning"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]} tok/s"),
            TextColumn("{task.fields[kept]} kept, {task.fields[dropped]} dropped"), TimeElapsedColumn(), TimeRemainingColumn(),
        ]
        with Progress(*columns, console=console(stderr=True), transient=False) as bar:
            task = bar.add_task("reasoning", total=None if follow else total, rate="-", kept=0, dropped=0)
            seen = {"tokens": 0, "seconds": 0.0, "kept": 0, "dropped": 0}

            def on_unit(result):
                seen["tokens"] += result.tokens
                seen["seconds"] += result.seconds
                seen["kept"] += result.stored
                seen["dropped"] += result.dropped
                if result.outcome in ("failed", "retry"):
                    failures.append(f"{result.session_id}/{result.observed}: {result.error}")
                rate = f"{seen['tokens'] / seen['seconds']:.0f}" if seen["seconds"] else "-"
                done = result.messages if result.outcome == "completed" else 0
                bar.update(task, advance=done, rate=rate, kept=seen["kept"], dropped=seen["dropped"])

            stats = deriver.run(limit=limit, follow=follow, message_ids=message_ids, on_unit=on_unit)
    out = stats.to_dict()
    out["failures"] = failures
    return out


@app.command()
def run(
    limit: Annotated[Optional[int], typer.Option("--limit", help="Stop after N work units.", min=1)] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep watching for new messages (Ctrl-C stops).")] = False,
    all_workspaces: Annotated[bool, typer.Option("--all-workspaces", help="Work on every workspace, not only -w.")] = False,
) -> None:
    """Process the queue until it is empty."""
    stats = run_deriver(limit=limit, follow=follow, all_workspaces=all_workspaces)
    if is_json():
        print(to_json(stats))
        return
    console().print(
        f"reasoned over {stats['messages']} messages in {stats['units']} units ({stats['seconds']:.1f}s): "
        f"{stats['stored']} facts kept, {stats['dropped']} dropped as unsupported, {stats['failed']} units failed"
    )
    for failure in stats["failures"]:
        note(f"failed: {failure}")


@app.command()
def status(
    observer: Annotated[Optional[str], typer.Option("--observer", help="Only work that feeds this peer's views.")] = None,
    sender: Annotated[Optional[str], typer.Option("--sender", help="Only messages this peer sent.")] = None,
    session: Annotated[Optional[str], typer.Option("--session", "-s", help="Only this session.")] = None,
) -> None:
    """Show the queue: pending, in progress, completed and failed work."""
    emit_object(state.client().deriver_status(observer=observer, sender=sender, session_id=session), title="deriver queue")


@app.command()
def retry() -> None:
    """Queue failed work again."""
    emit_object({"requeued": state.client().retry_failed()})
