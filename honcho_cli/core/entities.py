"""The records the core hands out: plain data with a JSON-ready `to_dict()`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


def iso(value: datetime | None) -> str | None:
    """Stored times are naive UTC; show them with their zone."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).isoformat()


def load_json(raw: Any) -> Any:
    if raw is None:
        return {}
    return json.loads(raw) if isinstance(raw, str) else raw


class Record:
    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)  # type: ignore[call-overload]
        return {k: iso(v) if isinstance(v, datetime) else v for k, v in out.items()}


@dataclass
class Workspace(Record):
    id: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass
class Peer(Record):
    id: str
    workspace_id: str
    metadata: dict[str, Any]
    observe_me: bool
    created_at: datetime


@dataclass
class Session(Record):
    id: str
    workspace_id: str
    metadata: dict[str, Any]
    is_active: bool
    created_at: datetime
    peers: list[str] = field(default_factory=list)


@dataclass
class Membership(Record):
    """One stint of a peer in a session, with the settings in force now."""

    session_id: str
    peer_id: str
    joined_at: datetime
    left_at: datetime | None
    observe_me: bool | None
    observe_others: bool

    @property
    def active(self) -> bool:
        return self.left_at is None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["active"] = self.active
        return out


@dataclass
class PeerConfig(Record):
    """A peer's settings in one session, and what they resolve to."""

    session_id: str
    peer_id: str
    observe_me: bool | None
    observe_others: bool
    effective_observe_me: bool


@dataclass
class Message(Record):
    id: str
    workspace_id: str
    session_id: str
    peer_id: str
    content: str
    metadata: dict[str, Any]
    created_at: datetime
    seq_in_session: int
    token_count: int
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if out["score"] is None:
            del out["score"]
        return out
