"""The `honcho` command: one Typer sub-app per noun, errors handled once here.

Module imports stay light (Typer and the standard library): the engines (DuckDB,
LanceDB, llama.cpp) load inside the commands that need them, so `honcho --help`
costs about what Typer costs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import OutputMode, report_error
from honcho_cli.errors import ExitCode, HonchoError, InvalidInput

app = typer.Typer(
    name="honcho",
    help="Local memory that reasons: peers, sessions, messages and what each peer knows about the others.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with Rich costs ~80 ms per call
)


def _print_version(value: bool) -> None:
    if value:
        from honcho_cli import __version__

        print(f"honcho {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Where the store lives (env HONCHO_DATA_DIR).", show_default=False)
    ] = None,
    workspace: Annotated[
        Optional[str], typer.Option("--workspace", "-w", help="Workspace id (env HONCHO_WORKSPACE_ID; default: default).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="JSON output even on a terminal (env HONCHO_JSON).")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Global options may also be given after the subcommand."""
    state.configure(data_dir=data_dir, workspace=workspace)
    if json_output:
        OutputMode.force_json = True


def _register() -> None:
    from honcho_cli.cli import conclusion, deriver, message, peer, session, workspace

    app.add_typer(workspace.app, name="workspace")
    app.add_typer(peer.app, name="peer")
    app.add_typer(session.app, name="session")
    app.add_typer(message.app, name="message")
    app.add_typer(conclusion.app, name="conclusion")
    app.add_typer(deriver.app, name="deriver")
    from honcho_cli.cli.chat import chat
    from honcho_cli.cli.representation import representation

    app.command("representation")(representation)
    app.command("chat")(chat)
    from honcho_cli.cli.doctor import doctor, reindex

    app.command("doctor")(doctor)
    from honcho_cli.cli.serve import serve
    app.command("serve")(serve)
    from honcho_cli.cli.mcp import mcp
    app.command("mcp")(mcp)
    app.command("reindex")(reindex)
    from honcho_cli.cli.archive import export, import_

    app.command("export")(export)
    app.command("import")(import_)
    try:
        from honcho_cli.cli import model
    except ImportError:  # the model commands arrive with the reasoning layer
        return
    app.add_typer(model.app, name="model")


_register()

# Options that belong to the root but that users naturally type after the subcommand.
_GLOBAL_WITH_VALUE = {"--data-dir", "--workspace", "-w"}
_GLOBAL_FLAGS = {"--json"}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move root options found anywhere (before a `--`) to the front."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name = arg.split("=", 1)[0]
        if arg in _GLOBAL_FLAGS:
            front.append(arg)
        elif name in _GLOBAL_WITH_VALUE and "=" in arg:
            front.append(arg)
        elif arg in _GLOBAL_WITH_VALUE and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every user error ends here as a message and an exit code."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="honcho", standalone_mode=False)
    except HonchoError as err:
        sys.exit(report_error(err))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.exceptions.TyperException as err:  # usage errors from the parser
        message = err.format_message()
        ctx = getattr(err, "ctx", None)
        if ctx is not None and not OutputMode.json():
            message += f" (see: {ctx.command_path} --help)"
        sys.exit(report_error(InvalidInput(message)))
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    sys.exit(ExitCode.OK)
