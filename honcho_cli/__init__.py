"""honcho_cli: a local, zero-infrastructure Honcho.

    from honcho_cli import Honcho
    h = Honcho(data_dir="./data")
    h.create_peer("alice")

Attributes load on first use so that `honcho --help` does not pay for the core.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Honcho", "HonchoError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Honcho":
        from honcho_cli.client import Honcho

        return Honcho
    if name == "HonchoError":
        from honcho_cli.errors import HonchoError

        return HonchoError
    raise AttributeError(name)
