"""The `honcho` command: one Typer sub-app per noun, errors handled once here.

Module imports stay light (Typer and the standard library): the engines (DuckDB,
LanceDB, llama.cpp) load inside the commands that need them, so `honcho --help`
costs about what Typer costs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from honcho_cli.cli import state
from honcho_cli.cli.output import OutputMode, report_error
from honcho_cli.errors import ExitCode, HonchoError, InvalidInput

# Each command's module is imported, and turned into a click command, only when that command
# runs (or its own --help is asked for): building all ~60 commands, with their annotations
# evaluated, was a third of a cold `honcho peer list`. The one-line help `honcho --help`
# lists is kept here so listing imports nothing; tests/test_startup.py checks it against
# each command's own.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "representation": ("honcho_cli.cli.representation", "representation", "What is known about PEER, or what PEER knows about --target."),
    "chat": ("honcho_cli.cli.chat", "chat", "Ask a question about a peer; answered only from the chosen view."),
    "doctor": ("honcho_cli.cli.doctor", "doctor", "Check the store, the vector index, the queue and the models (exit 7 if something is wrong)."),
    "serve": ("honcho_cli.cli.serve", "serve", "Serve Honcho's v3 HTTP API (the official SDKs' routes) over the local store."),
    "mcp": ("honcho_cli.cli.mcp", "mcp", "Serve the memory as Model Context Protocol tools on stdin/stdout (register it in an MCP client)."),
    "reindex": ("honcho_cli.cli.doctor", "reindex", "Rebuild every vector table from the embeddings kept in DuckDB."),
    "export": ("honcho_cli.cli.archive", "export", "Write the workspace (or --all) to one self-describing JSONL archive."),
    "import": ("honcho_cli.cli.archive", "import_", "Load an archive into this data directory: all of it or nothing; ids are kept."),
    "workspace": ("honcho_cli.cli.workspace", "app", "Workspaces: separate namespaces of peers and sessions."),
    "peer": ("honcho_cli.cli.peer", "app", "Peers: the humans and agents that speak and are observed."),
    "session": ("honcho_cli.cli.session", "app", "Sessions: conversations between peers, with membership history."),
    "message": ("honcho_cli.cli.message", "app", "Messages: what peers said, in session order."),
    "conclusion": ("honcho_cli.cli.conclusion", "app", "Conclusions: the facts each observer holds about each peer."),
    "deriver": ("honcho_cli.cli.deriver", "app", "The deriver: reasons over queued messages with the local model."),
    "model": ("honcho_cli.cli.model", "app", "Local models: list the catalog, pull weights, choose the active chat and embedding model."),
    "scope": ("honcho_cli.cli.scope", "app", "Scopes: named sets of sessions; recall through a scope sees only what happened in them."),
    "push": ("honcho_cli.cli.transfer", "push", "Replay this workspace into a Honcho server (run it again to resume)."),
    "pull": ("honcho_cli.cli.transfer", "pull", "Copy a workspace of a Honcho server into this one (run it again to resume)."),
    "config": ("honcho_cli.cli.config_cmd", "config", "Show the settings in force: data directory, workspace, models, lock timeout, config file."),
}


def load_command(name: str) -> Any:
    """The click command `name` of LAZY_COMMANDS, built the way Typer builds a registered one."""
    import importlib

    module_name, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    holder.callback()(lambda: None)  # a group, even around one command
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_command(holder).commands[name]


class LazyGroup(TyperGroup):
    """The root group: knows its commands by name and help, builds one when it is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from typer.core import TyperCommand

        listed = [
            self.commands.get(name) or TyperCommand(name=name, help=LAZY_COMMANDS[name][2])
            for name in self.list_commands(ctx)
        ]
        listed = [cmd for cmd in listed if not cmd.hidden]
        if not listed:
            return
        limit = formatter.width - 6 - max(len(cmd.name) for cmd in listed)
        with formatter.section("Commands"):
            formatter.write_dl([(cmd.name, cmd.get_short_help_str(limit)) for cmd in listed])


app = typer.Typer(
    cls=LazyGroup,
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


def interrupted_by_user(err: BaseException) -> bool:
    """True when Ctrl-C caused `err`: DuckDB turns a KeyboardInterrupt that lands inside a
    query into `RuntimeError: Query interrupted`, chained to the interrupt."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every user error ends here as a message and an exit code."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(app)
    try:
        # without standalone mode, Typer returns the code of an Exit instead of raising it
        # (Ctrl-C: 130); a command itself returns None
        code = command.main(args=args, prog_name="honcho", standalone_mode=False)
    except HonchoError as err:
        if interrupted_by_user(err):
            sys.exit(130)
        sys.exit(report_error(err))
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
    except Exception as err:
        if interrupted_by_user(err):
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else ExitCode.OK)
