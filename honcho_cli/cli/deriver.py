"""`honcho deriver ...`: the background reasoning, run on demand or kept watching."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_object, is_json, note, to_json

app = typer.Typer(help="The deriver: reasons over queued messages with the local model.", no_args_is_help=True)


@contextmanager
def ctrl_c_also_stops() -> Iterator[threading.Event]:
    """Ctrl-C raises KeyboardInterrupt as usual, and also sets the returned event.

    DuckDB's client does not always act on a Ctrl-C that lands inside a query (a long test
    query on two threads ran on in about 3 runs of 10); should it swallow the interrupt,
    the run loop still sees the event and stops at its next step.
    """
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield stopped  # a background job (`honcho deriver run --follow &` in a script) keeps ignoring Ctrl-C
        return

    def on_ctrl_c(signum, frame):
        stopped.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)


def run_deriver(
    *,
    limit: Optional[int] = None,
    follow: bool = False,
    message_ids: Optional[list[str]] = None,
    all_workspaces: bool = False,
    quiet: bool = False,
    background: bool = True,
    dream: bool = False,
    wait: bool = False,
) -> dict:
    """Shared by `deriver run` and `add-message --wait`; a Rich bar on a terminal.

    `background` also writes due session summaries once the queue is empty; `dream`
    then consolidates views with new conclusions.
    """
    from honcho_cli.reasoning.deriver import open_deriver

    honcho = state.client()
    deriver = open_deriver(honcho, all_workspaces=all_workspaces, summaries=background, consolidation=dream)
    with ctrl_c_also_stops() as stopped:
        out = _run(deriver, stopped, limit=limit, follow=follow, message_ids=message_ids, quiet=quiet, wait=wait)
    if stopped.is_set():
        raise KeyboardInterrupt  # the run stopped for a Ctrl-C that DuckDB kept to itself: exit as for any Ctrl-C
    return out


def _run(deriver, stopped: threading.Event, *, limit, follow, message_ids, quiet, wait) -> dict:
    total = deriver.pending_units_hint() if message_ids is None else len(message_ids)
    show_bar = not is_json() and not quiet and total > 0
    failures: list[str] = []

    if not show_bar:
        def on_unit(result):
            if result.outcome in ("failed", "retry"):
                failures.append(f"{result.session_id}/{result.observed}: {result.error}")

        stats = deriver.run(limit=limit, follow=follow, message_ids=message_ids, on_unit=on_unit, wait=wait,
                            should_stop=stopped.is_set)
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

            stats = deriver.run(limit=limit, follow=follow, message_ids=message_ids, on_unit=on_unit, wait=wait,
                                should_stop=stopped.is_set)
    out = stats.to_dict()
    out["failures"] = failures
    return out


@app.command()
def run(
    limit: Annotated[Optional[int], typer.Option("--limit", help="Stop after N work units.", min=1)] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep watching for new messages (Ctrl-C stops).")] = False,
    all_workspaces: Annotated[bool, typer.Option("--all-workspaces", help="Work on every workspace, not only -w.")] = False,
    background: Annotated[bool, typer.Option("--summaries/--no-summaries", help="Also write due session summaries.")] = True,
    dream: Annotated[bool, typer.Option("--dream", help="Then consolidate views with new conclusions (see `deriver dream`).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Also wait for units other live workers are reasoning over.")] = False,
) -> None:
    """Process the queue until it is empty, then write due session summaries."""
    stats = run_deriver(limit=limit, follow=follow, all_workspaces=all_workspaces, background=background, dream=dream,
                        wait=wait)
    if is_json():
        print(to_json(stats))
        return
    console().print(
        f"reasoned over {stats['messages']} messages in {stats['units']} units ({stats['seconds']:.1f}s): "
        f"{stats['stored']} conclusions kept, {stats['dropped']} dropped as unsupported, {stats['failed']} units failed; "
        f"{stats['summaries']} summaries, {stats['consolidations']} views consolidated"
    )
    for failure in stats["failures"]:
        note(f"failed: {failure}")
    for held in stats["held_elsewhere"]:
        note(f"{held['messages']} messages are being reasoned over by another worker (pid {held['pid']} on "
             f"{held['host']}, lease until {held['lease_until']}); `honcho deriver run --wait` waits for them")


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


@app.command()
def dream(
    observer: Annotated[Optional[str], typer.Option("--observer", help="Only this observer's views.")] = None,
    observed: Annotated[Optional[str], typer.Option("--observed", help="Only views of this peer.")] = None,
) -> None:
    """Consolidate views now: deductions and contradictions from each view's conclusions."""
    from honcho_cli.reasoning.deriver import open_deriver

    honcho = state.client()
    for peer in (observer, observed):
        if peer is not None:
            honcho.get_peer(peer)  # an unknown peer is an error, not an empty result
    deriver = open_deriver(honcho)
    done = []
    while True:
        result = deriver.consolidate_one(min_new=1, only=(observer, observed))
        if result is None:
            break
        done.append({"observer": result.observers[0], "observed": result.observed, "kept": result.stored,
                     "dropped": result.dropped, "error": result.error})
    from honcho_cli.cli.output import emit_list

    emit_list(done, ["observer", "observed", "kept", "dropped", "error"], title="consolidated views", empty="no view had new conclusions")
