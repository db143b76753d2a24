"""`honcho config`: the settings in force and where each came from (the official CLI's `config`)."""

from __future__ import annotations

import os

from honcho_cli.cli import state
from honcho_cli.cli.output import emit_object


def config() -> None:
    """Show the settings in force: data directory, workspace, models, lock timeout, config file."""
    from honcho_cli import config as cfg

    settings = state.settings()
    emit_object({
        "data_dir": str(settings.data_dir),
        "workspace": settings.workspace,
        "model": settings.model or "(default: the catalog's chat model)",
        "embedding_model": settings.embedding_model or "(default: the catalog's embedding model)",
        "lock_timeout": settings.lock_timeout,
        "config_file": str(cfg.config_file()),
        "config_file_exists": cfg.config_file().exists(),
        "peer_id": os.environ.get("HONCHO_PEER_ID"),  # -p fallback
        "session_id": os.environ.get("HONCHO_SESSION_ID"),  # -s fallback
    })
