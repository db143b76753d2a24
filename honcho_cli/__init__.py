"""honcho_cli: a local, zero-infrastructure Honcho.

    from honcho_cli import Honcho
    h = Honcho(data_dir="./data")
    h.create_peer("alice")
"""

from honcho_cli.core.client import Honcho
from honcho_cli.errors import HonchoError

__all__ = ["Honcho", "HonchoError"]
__version__ = "0.1.0"
