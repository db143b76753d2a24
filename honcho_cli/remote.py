"""Push a local workspace to a Honcho v3 server, or pull one from it, through the official SDK.

Push replays the workspace the way it happened: peers with their settings, then per
session its members joining and leaving in order, interleaved with its messages (each
with its `created_at`), so the server's reasoning sees who was present for what; then
conclusions as conclusions, cards set by hand, and scopes. It is idempotent and
resumable: what the server already holds is found and skipped (a session's messages
are matched by position, and the last one the server holds must be the local one at
that position, else the session has diverged and push stops), so a push that was cut
off is simply run again.

Pull does the reverse into the local store. The v3 API shows only a session's current
members, so those join before the pulled messages, a sender who is no longer a member
joins at its first message and leaves after the last one pulled, and messages get local
ids. Cards set by hand are not pulled (the API does not tell them from derived ones).

Conclusions travel as explicit facts of their view (the API creates no other level and
sets no `times_derived`); a hosted server also derives its own from the messages it
receives. Tombstones are pushed as deletions of the same statement on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from honcho_cli.core.conclusions import normalize
from honcho_cli.errors import Conflict, ExitCode, HonchoError, InvalidInput

if TYPE_CHECKING:
    from honcho_cli.client import Honcho

BATCH = 100  # the v3 API's limit per message or conclusion create call


class RemoteError(HonchoError):
    code = "REMOTE_ERROR"
    exit_code = ExitCode.REMOTE


@dataclass
class Transfer:
    """What a push or pull did; `skipped` counts what the other side already held."""

    peers: int = 0
    sessions: int = 0
    memberships: int = 0
    messages: int = 0
    conclusions: int = 0
    deleted_conclusions: int = 0
    cards: int = 0
    scopes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, what: str, n: int = 1) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sdk_client(url: str, api_key: str | None, workspace: str) -> Any:
    """The official SDK's client on `workspace` at `url`."""
    try:
        from honcho import Honcho as Remote
    except ImportError:  # pragma: no cover - a dependency, but say what to do if it is gone
        raise InvalidInput("push and pull need the official SDK: pip install 'honcho-ai>=2.7,<3'") from None
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"--url must start with http:// or https://, got {url!r}", field="url")
    return Remote(base_url=url.rstrip("/"), api_key=api_key, workspace_id=workspace, max_retries=2, timeout=120)


def _remote_call(what: str, call: Callable[[], Any]) -> Any:
    """Run one SDK call; its failures become one clear error naming what was being done."""
    try:
        return call()
    except HonchoError:
        raise
    except Exception as exc:  # noqa: BLE001 - the SDK's HTTP and connection errors, all alike to a user
        status = getattr(exc, "status", None)
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise RemoteError(f"the server refused or failed {what}: {detail}", status=status, what=what) from None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# -- push ----------------------------------------------------------------------------------------


def push(local: Honcho, remote: Any, *, progress: Callable[[str, int], None] | None = None) -> Transfer:
    """Replay the local workspace into the server's (see the module docstring)."""
    from honcho.api_types import MessageCreateParams, PeerConfig, SessionPeerConfig

    done = Transfer()
    tick = progress or (lambda _what, _n: None)
    workspace = local.inspect_workspace()
    if workspace.get("metadata"):
        _remote_call("setting the workspace metadata", lambda: remote.set_metadata(workspace["metadata"]))
    remote_peers = {p.id: p for p in _remote_call("listing peers", lambda: list(remote.peers()))}
    for peer in local.list_peers():
        known = remote_peers.get(peer.id)
        if known is not None and (known.metadata or {}) == peer.metadata and _observe_me(known) == peer.observe_me:
            done.skip("peers")
            continue
        _remote_call(f"creating peer {peer.id}", lambda p=peer: remote.peer(
            p.id, metadata=p.metadata, configuration=PeerConfig(observe_me=p.observe_me)))
        done.peers += 1
    for session in local.list_sessions():
        _push_session(local, remote, session, done, tick, MessageCreateParams, SessionPeerConfig)
    _push_conclusions(local, remote, done)
    _push_cards(local, remote, done)
    _push_scopes(local, remote, done)
    return done


def _observe_me(remote_peer: Any) -> bool:
    config = getattr(remote_peer, "configuration", None)
    value = getattr(config, "observe_me", None) if config is not None else None
    return True if value is None else bool(value)


def _timeline(local: Honcho, session_id: str) -> list[tuple[Any, int, str, Any]]:
    """The session's history in order: (time, rank, kind, item); at one instant joins come
    before messages and messages before leaves."""
    events: list[tuple[Any, int, str, Any]] = []
    for stint in local.session_peers(session_id, include_history=True):
        events.append((stint.joined_at, 0, "join", stint.peer_id))
        if stint.left_at is not None:
            events.append((stint.left_at, 2, "leave", stint.peer_id))
    with local.store.read() as conn:
        rows = conn.execute(
            "SELECT id, inserted_at FROM messages WHERE workspace_id = ? AND session_id = ? ORDER BY seq_in_session",
            [local.workspace, session_id],
        ).fetchall()
    inserted = dict(rows)
    for message in local.list_messages(session_id):
        events.append((inserted[message.id], 1, "message", message))
    events.sort(key=lambda e: (e[0], e[1], getattr(e[3], "seq_in_session", 0)))
    return events


def _push_session(local: Honcho, remote: Any, session: Any, done: Transfer, tick: Callable[[str, int], None],
                  MessageCreateParams: Any, SessionPeerConfig: Any) -> None:
    sid = session.id
    remote_session = _remote_call(f"creating session {sid}", lambda: remote.session(sid, metadata=session.metadata))
    done.sessions += 1
    first = _remote_call(f"reading session {sid}", lambda: remote_session.messages(size=1, reverse=True))
    held = first.total or 0
    local_messages = local.list_messages(sid)
    if held > len(local_messages):
        raise Conflict(f"the server's session {sid!r} holds {held} messages, more than the {len(local_messages)} here: "
                       "it has diverged; push it to another workspace (-w) or remove it there", session_id=sid)
    if held:
        last = first.items[0]
        mine = local_messages[held - 1]
        if (last.peer_id, last.content) != (mine.peer_id, mine.content):
            raise Conflict(f"the server's session {sid!r} has diverged: its message {held} is not this store's", session_id=sid)
    done.skip("messages", held)
    active = {p.id for p in _remote_call(f"reading the members of {sid}", lambda: remote_session.peers())}
    configured: set[str] = set()
    pushed = 0  # local messages up to this position are on the server
    batch: list[Any] = []

    def flush() -> None:
        nonlocal batch
        if batch:
            chunk = batch
            _remote_call(f"adding messages to {sid}", lambda: remote_session.add_messages(chunk))
            done.messages += len(chunk)
            tick("messages", len(chunk))
            batch = []

    def configure(peer_id: str) -> None:
        if peer_id in configured:
            return
        config = local.get_peer_config(sid, peer_id)
        _remote_call(f"setting {peer_id}'s settings in {sid}", lambda: remote_session.set_peer_configuration(
            peer_id, SessionPeerConfig(observe_me=config.observe_me, observe_others=config.observe_others)))
        configured.add(peer_id)

    for _at, _rank, kind, item in _timeline(local, sid):
        if kind == "message":
            pushed += 1
            if pushed <= held:
                continue
            if item.peer_id not in active:  # joined without a recorded stint (cannot happen here; the server would add it)
                active.add(item.peer_id)
            configure(item.peer_id)
            batch.append(MessageCreateParams(peer_id=item.peer_id, content=item.content, metadata=item.metadata or None,
                                             created_at=_utc(item.created_at)))
            if len(batch) >= BATCH:
                flush()
            continue
        flush()
        if pushed < held:  # before the resume point: the server already holds what followed
            continue
        if kind == "join" and item not in active:
            _remote_call(f"adding {item} to {sid}", lambda p=item: remote_session.add_peers([p]))
            active.add(item)
            done.memberships += 1
        elif kind == "leave" and item in active:
            _remote_call(f"removing {item} from {sid}", lambda p=item: remote_session.remove_peers([p]))
            active.discard(item)
            done.memberships += 1
        if kind == "join":
            configure(item)
    flush()
    for peer_id in active - configured:
        configure(peer_id)


def _remote_view(remote: Any, observer: str, observed: str) -> list[Any]:
    view = remote.peer(observer).conclusions_of(observed) if observer != observed else remote.peer(observer).conclusions
    return _remote_call(f"listing {observer}'s conclusions about {observed}", lambda: list(view.list(size=100)))


def _push_conclusions(local: Honcho, remote: Any, done: Transfer) -> None:
    from honcho_cli.core.peers import RESERVED_PREFIX

    with local.store.read() as conn:
        rows = conn.execute(
            f"""SELECT observer, observed, content, session_id, deleted_at IS NOT NULL FROM conclusions
                WHERE workspace_id = ? AND NOT starts_with(observer, '{RESERVED_PREFIX}')
                ORDER BY observer, observed, created_at, id""",
            [local.workspace],
        ).fetchall()
    views: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        views.setdefault((row[0], row[1]), []).append(row)
    for (observer, observed), items in views.items():
        existing = {normalize(c.content): c for c in _remote_view(remote, observer, observed)}
        view = remote.peer(observer).conclusions_of(observed)
        fresh = []
        for _o, _d, content, session_id, deleted in items:
            key = normalize(content)
            if deleted:
                if key in existing:
                    _remote_call("deleting a conclusion deleted here", lambda c=existing[key]: view.delete(c.id))
                    existing.pop(key)
                    done.deleted_conclusions += 1
                continue
            if key in existing or key in {normalize(f["content"]) for f in fresh}:
                done.skip("conclusions")
                continue
            fresh.append({"content": content, **({"session_id": session_id} if session_id else {})})
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start:start + BATCH]
            _remote_call(f"creating {observer}'s conclusions about {observed}", lambda c=chunk: view.create(c))
            done.conclusions += len(chunk)


def _push_cards(local: Honcho, remote: Any, done: Transfer) -> None:
    with local.store.read() as conn:
        cards = conn.execute(
            "SELECT observer, observed, card FROM peer_cards WHERE workspace_id = ? ORDER BY observer, observed",
            [local.workspace],
        ).fetchall()
    for observer, observed, card in cards:
        target = None if observer == observed else observed
        peer = remote.peer(observer)
        if _remote_call("reading a peer card", lambda: peer.get_card(target=target)) == list(card):
            done.skip("cards")
            continue
        _remote_call(f"setting {observer}'s card", lambda: peer.set_card(list(card), target=target))
        done.cards += 1


def _push_scopes(local: Honcho, remote: Any, done: Transfer) -> None:
    for scope in local.list_scopes():
        members = [s.id for s in local.scope_sessions(scope.id)]
        there = _remote_call(f"creating scope {scope.id}", lambda s=scope: remote.scope(s.id, metadata=s.metadata))
        held = {s.id for s in _remote_call(f"reading scope {scope.id}", lambda t=there: list(t.sessions()))}
        missing = [m for m in members if m not in held]
        for start in range(0, len(missing), BATCH):
            _remote_call(f"adding sessions to scope {scope.id}", lambda c=missing[start:start + BATCH], t=there: t.add_sessions(c))
        done.scopes += 1


# -- pull ----------------------------------------------------------------------------------------


def _pages(first: Any) -> Iterator[Any]:
    page = first
    while page is not None:
        yield from page.items
        page = page.get_next_page() if page.has_next_page() else None


def pull(local: Honcho, remote: Any, *, progress: Callable[[str, int], None] | None = None) -> Transfer:
    """Copy the server's workspace into the local one (see the module docstring)."""
    from honcho_cli.core import scopes as scopes_core

    done = Transfer()
    tick = progress or (lambda _what, _n: None)
    metadata = _remote_call("reading the workspace", lambda: remote.get_metadata())
    local.create_workspace(local.workspace, metadata or None)
    local_peers = {p.id: p for p in local.list_peers()}
    for peer in _remote_call("listing peers", lambda: list(remote.peers())):
        if peer.id.startswith(scopes_core.PREFIX):
            continue
        mine = local_peers.get(peer.id)
        if mine is not None and mine.metadata == (peer.metadata or {}) and mine.observe_me == _observe_me(peer):
            done.skip("peers")
            continue
        local.create_peer(peer.id, peer.metadata or {}, _observe_me(peer))
        done.peers += 1
    for session in _remote_call("listing sessions", lambda: list(remote.sessions())):
        _pull_session(local, remote, session, done, tick)
    _pull_conclusions(local, remote, done)
    for scope in _remote_call("listing scopes", lambda: list(remote.scopes())):
        members = [s.id for s in _remote_call(f"reading scope {scope.id}", lambda s=scope: list(s.sessions()))]
        local.create_scope(scope.id, scope.metadata or {})
        mine = {s.id for s in local.scope_sessions(scope.id)}
        if [m for m in members if m not in mine]:
            local.scope_add_sessions(scope.id, [m for m in members if m not in mine])
        done.scopes += 1
    return done


def _pull_session(local: Honcho, remote: Any, session: Any, done: Transfer, tick: Callable[[str, int], None]) -> None:
    sid = session.id
    members = _remote_call(f"reading the members of {sid}", lambda: session.peers())
    configs = {p.id: _remote_call(f"reading {p.id}'s settings in {sid}", lambda p=p: session.get_peer_configuration(p.id))
               for p in members}
    local.join_session(sid, {p: {"observe_me": c.observe_me, "observe_others": c.observe_others} for p, c in configs.items()},
                       create=True, metadata=session.metadata or {})
    done.sessions += 1
    held = local.list_messages(sid)
    first = _remote_call(f"reading session {sid}", lambda: session.messages(size=BATCH))
    total = first.total or 0
    if len(held) > total:
        raise Conflict(f"this store's session {sid!r} holds more messages than the server's: it has diverged", session_id=sid)
    position = 0
    batch: list[dict[str, Any]] = []
    for message in _pages(first):
        position += 1
        if position <= len(held):
            if (held[position - 1].peer_id, held[position - 1].content) != (message.peer_id, message.content):
                raise Conflict(f"this store's session {sid!r} has diverged from the server's at message {position}", session_id=sid)
            continue
        batch.append({"peer": message.peer_id, "content": message.content, "metadata": message.metadata or {},
                      "created_at": message.created_at})
        if len(batch) >= 1000:
            local.add_messages(sid, batch, join=True)
            done.messages += len(batch)
            tick("messages", len(batch))
            batch = []
    if batch:
        local.add_messages(sid, batch, join=True)
        done.messages += len(batch)
        tick("messages", len(batch))
    done.skip("messages", len(held))
    # senders who are no longer members there joined to speak here; they leave again
    gone = [m.peer_id for m in local.session_peers(sid) if m.peer_id not in configs]
    if gone:
        local.remove_peers(sid, gone)
        done.memberships += len(gone)


def _pull_conclusions(local: Honcho, remote: Any, done: Transfer) -> None:
    """Each remote conclusion into its view, with its level, session and premises (mapped to
    the local copies); statements the view already holds are skipped."""
    from honcho_cli.core.conclusions import record_conclusion
    from honcho_cli.core.peers import RESERVED_PREFIX
    from honcho_cli.errors import ModelNotFound
    from honcho_cli.recall import index_conclusions

    found = _remote_call("listing conclusions", lambda: list(_pages(remote.conclusions.list(size=100, reverse=True))))
    found = [c for c in found if not c.observer_id.startswith(RESERVED_PREFIX)]
    try:
        embedder = local.embedder() if found else None
    except ModelNotFound:
        embedder = None  # stored without vectors; `honcho doctor --repair` embeds them later
    vectors = embedder.embed([c.content for c in found]) if embedder is not None else None
    mapped: dict[str, str] = {}
    written: list[str] = []
    with local.store.write() as conn:
        for i, c in enumerate(found):
            existing = conn.execute(
                "SELECT id FROM conclusions WHERE workspace_id = ? AND observer = ? AND observed = ? AND normalized = ?",
                [local.workspace, c.observer_id, c.observed_id, normalize(c.content)],
            ).fetchone()
            if existing is not None:
                mapped[c.id] = existing[0]
                done.skip("conclusions")
                continue
            recorded = record_conclusion(
                conn, local.workspace, c.observer_id, c.observed_id, c.content, level=c.level or "explicit",
                session_id=c.session_id, premise_ids=[mapped.get(p, p) for p in (c.source_ids or [])],
                embedding=None if vectors is None else [float(x) for x in vectors[i]],
            )
            mapped[c.id] = recorded.id
            written.append(recorded.id)
            done.conclusions += 1
    index_conclusions(local, written)
