"""Where things live and which settings win: flag > environment > config file > default.

Only the standard library and platformdirs are imported here, so every command,
including `honcho --help`, can resolve its settings without loading the engines.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from honcho_cli.errors import InvalidInput

APP_NAME = "honcho"
DEFAULT_WORKSPACE = "default"

ENV_DATA_DIR = "HONCHO_DATA_DIR"
ENV_WORKSPACE = "HONCHO_WORKSPACE_ID"
ENV_CONFIG_DIR = "HONCHO_CONFIG_DIR"
ENV_CACHE_DIR = "HONCHO_CACHE_DIR"
ENV_MODEL = "HONCHO_MODEL"
ENV_EMBEDDING_MODEL = "HONCHO_EMBEDDING_MODEL"
ENV_LOCK_TIMEOUT = "HONCHO_LOCK_TIMEOUT"

CONFIG_KEYS = ("data_dir", "workspace", "model", "embedding_model", "lock_timeout")


def config_dir() -> Path:
    return Path(os.environ.get(ENV_CONFIG_DIR) or platformdirs.user_config_dir(APP_NAME))


def cache_dir() -> Path:
    """Model weights live here: large, re-fetchable, shared by every data dir."""
    return Path(os.environ.get(ENV_CACHE_DIR) or platformdirs.user_cache_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.json"


def read_config_file() -> dict[str, Any]:
    path = config_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"config file {path} is not valid JSON: {exc}", path=str(path)) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"config file {path} must hold a JSON object", path=str(path))
    return data


def write_config_value(key: str, value: Any) -> Path:
    """Set one key in the config file (None removes it); written atomically."""
    if key not in CONFIG_KEYS:
        raise InvalidInput(f"unknown config key {key!r}; known: {', '.join(CONFIG_KEYS)}", key=key)
    data = read_config_file()
    if value is None:
        data.pop(key, None)
    else:
        data[key] = value
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    workspace: str
    model: str | None
    embedding_model: str | None
    lock_timeout: float

    @property
    def database_path(self) -> Path:
        return self.data_dir / "honcho.duckdb"

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / "vectors"


def resolve_settings(
    data_dir: str | Path | None = None,
    workspace: str | None = None,
    model: str | None = None,
    embedding_model: str | None = None,
) -> Settings:
    """Resolve every setting with the documented precedence."""
    file_cfg = read_config_file()

    def pick(flag: Any, env: str, key: str, default: Any) -> Any:
        if flag not in (None, ""):
            return flag
        if os.environ.get(env):
            return os.environ[env]
        if file_cfg.get(key) not in (None, ""):
            return file_cfg[key]
        return default

    raw_timeout = pick(None, ENV_LOCK_TIMEOUT, "lock_timeout", 60.0)
    try:
        lock_timeout = float(raw_timeout)
    except (TypeError, ValueError):
        raise InvalidInput(f"lock timeout must be a number of seconds, got {raw_timeout!r}") from None
    return Settings(
        data_dir=Path(pick(data_dir, ENV_DATA_DIR, "data_dir", platformdirs.user_data_dir(APP_NAME))).expanduser(),
        workspace=pick(workspace, ENV_WORKSPACE, "workspace", DEFAULT_WORKSPACE),
        model=pick(model, ENV_MODEL, "model", None),
        embedding_model=pick(embedding_model, ENV_EMBEDDING_MODEL, "embedding_model", None),
        lock_timeout=lock_timeout,
    )
