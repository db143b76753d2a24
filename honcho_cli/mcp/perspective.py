"""Whom a `honcho mcp` server acts for, and what that allows.

Without `--peer` the server is the host's tool: any peer's view may be read, any peer may
speak (a game master, a test harness). With `--peer P` it is P's own memory, the way an
agent or an NPC should hold it: every read is P's view (P's view of a target, or P's own),
messages are written as P, conclusions are curated only in P's views, and message search
and session context keep to what P was present for. The checks run on the arguments
before anything is read or written, so no wording of an argument can reach another view.
"""

from __future__ import annotations

from honcho_cli.core.validation import check_id
from honcho_cli.errors import InvalidInput


class Perspective:
    def __init__(self, peer: str | None) -> None:
        self.peer = check_id("peer", peer) if peer is not None else None

    @property
    def pinned(self) -> bool:
        return self.peer is not None

    def _refuse(self, field: str, given: str, what: str) -> InvalidInput:
        return InvalidInput(
            f"this server acts for {self.peer} (honcho mcp --peer {self.peer}): {what} {given!r} is not allowed; "
            f"omit {field} or use {self.peer!r}",
            field=field,
            value=given,
            acting_for=self.peer,
        )

    def observer(self, given: str | None, *, field: str = "peer_id") -> str:
        """Whose view is read or curated: the pinned peer only; otherwise the argument, required."""
        if self.peer is None:
            if given is None:
                raise InvalidInput(f"{field} is required: whose memory to use", field=field)
            return given
        if given is not None and given != self.peer:
            raise self._refuse(field, given, "reading or changing the memory of")
        return self.peer

    def sender(self, given: str) -> str:
        """Who may speak: anyone, unless the server acts for one peer."""
        if self.peer is not None and given != self.peer:
            raise self._refuse("peer_id", given, "writing a message as")
        return given

    def present(self) -> str | None:
        """Messages are limited to those this peer was present for (None: all)."""
        return self.peer
