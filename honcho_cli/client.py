"""`Honcho`: the Python API that the CLI, the tests and scripts share, over core, store and reasoning.

Each method is one short unit of work on the store: open, act in one transaction,
close. Nothing here holds the DuckDB file between calls, so many processes can use
the same data directory at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from honcho_cli.config import Settings, resolve_settings
from honcho_cli.core import messages as messages_core
from honcho_cli.core import peers as peers_core
from honcho_cli.core import sessions as sessions_core
from honcho_cli.core import workspaces as workspaces_core
from honcho_cli.core.entities import Membership, Message, Peer, PeerConfig, Session, Workspace
from honcho_cli.core.messages import NewMessage
from honcho_cli.core.validation import check_id
from honcho_cli.engine import Engine
from honcho_cli.errors import InvalidInput


class Honcho:
    """A handle on one data directory and one workspace in it.

    The data directory's store, vectors and models belong to its Engine
    (`honcho_cli.engine`); pass a warm one (`engine=Engine(settings, warm=True)`) to
    share loaded models between many clients, as `honcho serve` does.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        workspace: str | None = None,
        *,
        settings: Settings | None = None,
        engine: Engine | None = None,
    ) -> None:
        if engine is None:
            engine = Engine(settings or resolve_settings(data_dir=data_dir, workspace=workspace))
        self.engine = engine
        self.settings = engine.settings
        self.workspace = check_id("workspace", workspace or self.settings.workspace)
        self.store = engine.store

    def in_workspace(self, workspace: str) -> Honcho:
        """The same data directory (and engine), another workspace."""
        return Honcho(engine=self.engine, workspace=workspace)

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """A read inside this workspace, which must exist."""
        with self.store.read() as conn:
            workspaces_core.require_workspace(conn, self.workspace)
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write inside this workspace; `default` is made on first use."""
        with self.store.write() as conn:
            workspaces_core.require_workspace(conn, self.workspace, writable=True)
            yield conn

    # -- workspaces -------------------------------------------------------------

    def create_workspace(self, workspace_id: str, metadata: dict[str, Any] | None = None) -> Workspace:
        with self.store.write() as conn:
            return workspaces_core.create_workspace(conn, workspace_id, metadata)

    def list_workspaces(self) -> list[Workspace]:
        with self.store.write() as conn:
            workspaces_core.require_workspace(conn, "default", writable=True)
            return workspaces_core.list_workspaces(conn)

    def inspect_workspace(self, workspace_id: str | None = None) -> dict[str, Any]:
        with self.store.read() as conn:
            return workspaces_core.inspect_workspace(conn, workspace_id or self.workspace)

    def delete_workspace(self, workspace_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        with self.store.write() as conn:
            done = workspaces_core.delete_workspace(conn, workspace_id, dry_run=dry_run)
        if not dry_run:
            self._catch_up_index()
        return done

    # -- peers ------------------------------------------------------------------

    def create_peer(self, peer_id: str, metadata: dict[str, Any] | None = None, observe_me: bool | None = None) -> Peer:
        with self._write() as conn:
            return peers_core.create_peer(conn, self.workspace, peer_id, metadata, observe_me)

    def get_peer(self, peer_id: str) -> Peer:
        with self._read() as conn:
            return peers_core.get_peer(conn, self.workspace, peer_id)

    def update_peer(self, peer_id: str, metadata: dict[str, Any] | None = None, observe_me: bool | None = None) -> Peer:
        with self._write() as conn:
            return peers_core.update_peer(conn, self.workspace, peer_id, metadata, observe_me)

    def list_peers(self) -> list[Peer]:
        with self._read() as conn:
            return peers_core.list_peers(conn, self.workspace)

    # -- sessions and membership --------------------------------------------------

    def create_session(self, session_id: str, peers: list[str] | None = None, metadata: dict[str, Any] | None = None) -> Session:
        with self._write() as conn:
            return sessions_core.create_session(conn, self.workspace, session_id, peers, metadata)

    def get_session(self, session_id: str) -> Session:
        with self._read() as conn:
            return sessions_core.get_session(conn, self.workspace, session_id)

    def update_session(self, session_id: str, metadata: dict[str, Any] | None = None, is_active: bool | None = None) -> Session:
        with self._write() as conn:
            return sessions_core.update_session(conn, self.workspace, session_id, metadata, is_active)

    def list_sessions(self, peer_id: str | None = None) -> list[Session]:
        with self._read() as conn:
            return sessions_core.list_sessions(conn, self.workspace, peer_id)

    def session_peers(self, session_id: str, *, include_history: bool = False) -> list[Membership]:
        with self._read() as conn:
            return sessions_core.memberships(conn, self.workspace, session_id, include_history=include_history)

    def add_peers(self, session_id: str, peer_ids: list[str]) -> list[Membership]:
        with self._write() as conn:
            return sessions_core.add_peers(conn, self.workspace, session_id, peer_ids)

    def remove_peers(self, session_id: str, peer_ids: list[str]) -> list[Membership]:
        with self._write() as conn:
            return sessions_core.remove_peers(conn, self.workspace, session_id, peer_ids)

    def get_peer_config(self, session_id: str, peer_id: str) -> PeerConfig:
        with self._read() as conn:
            return sessions_core.get_peer_config(conn, self.workspace, session_id, peer_id)

    def set_peer_config(
        self,
        session_id: str,
        peer_id: str,
        observe_me: bool | None = None,
        observe_others: bool | None = None,
        *,
        clear_observe_me: bool = False,
    ) -> PeerConfig:
        with self._write() as conn:
            return sessions_core.set_peer_config(
                conn, self.workspace, session_id, peer_id, observe_me, observe_others, clear_observe_me=clear_observe_me
            )

    def delete_session(self, session_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        with self._write() as conn:
            done = sessions_core.delete_session(conn, self.workspace, session_id, dry_run=dry_run)
        if not dry_run:
            self._catch_up_index()
        return done

    def join_session(
        self,
        session_id: str,
        peers: dict[str, dict[str, bool | None]],
        *,
        create: bool = False,
        metadata: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> Session:
        """The reference's membership calls in one transaction: peers are got-or-created,
        join (members stay as they are), and their given per-session settings apply
        (`{"observe_me": .., "observe_others": ..}`, None = unchanged). `create` makes the
        session first if missing (metadata replaces); `replace` also lets unlisted members leave."""
        with self._write() as conn:
            for peer_id in peers:
                check_id("peer", peer_id)
            if create:
                sessions_core.create_session(conn, self.workspace, session_id, None, metadata)
            else:
                sessions_core.get_session(conn, self.workspace, session_id)
            for peer_id in peers:
                peers_core.create_peer(conn, self.workspace, peer_id)
            if replace:
                leaving = [p for p in sessions_core.active_peer_ids(conn, self.workspace, session_id) if p not in peers]
                if leaving:
                    sessions_core.remove_peers(conn, self.workspace, session_id, leaving)
            if peers:
                sessions_core.add_peers(conn, self.workspace, session_id, list(peers))
            for peer_id, config in peers.items():
                observe_me, observe_others = config.get("observe_me"), config.get("observe_others")
                if observe_me is not None or observe_others is not None:
                    sessions_core.set_peer_config(conn, self.workspace, session_id, peer_id, observe_me, observe_others)
            return sessions_core.get_session(conn, self.workspace, session_id)

    # -- messages -----------------------------------------------------------------

    def add_message(
        self,
        session_id: str,
        peer_id: str,
        content: str,
        metadata: dict[str, Any] | None = None,
        created_at: Any = None,
        *,
        join: bool = False,
    ) -> Message:
        item = NewMessage.parse(
            {"peer": peer_id, "content": content, "metadata": metadata, "created_at": created_at}
            if created_at is not None
            else {"peer": peer_id, "content": content, "metadata": metadata}
        )
        return self.add_messages(session_id, [item], join=join)[0]

    def add_messages(self, session_id: str, items: Iterable[NewMessage | dict[str, Any]], *, join: bool = False) -> list[Message]:
        """All or nothing: one bad item and none of them is stored."""
        parsed = [
            item if isinstance(item, NewMessage) else NewMessage.parse(item, where=f"message {i}")
            for i, item in enumerate(items, start=1)
        ]
        with self._write() as conn:
            return messages_core.add_messages(conn, self.workspace, session_id, parsed, join=join)

    def get_message(self, message_id: str) -> Message:
        with self._read() as conn:
            return messages_core.get_message(conn, self.workspace, message_id)

    def delete_message(self, message_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        """The message and everything drawn from it: queue entries, vectors, full-text entries,
        later summaries, and the conclusions it alone supports (tombstoned; see core/deletion)."""
        from honcho_cli.core.deletion import delete_message

        with self._write() as conn:
            done = delete_message(conn, self.workspace, message_id, dry_run=dry_run)
        if not dry_run:
            self._catch_up_index()
        return done

    def update_message(self, message_id: str, metadata: dict[str, Any]) -> Message:
        """Replace a message's metadata (its content never changes)."""
        with self._write() as conn:
            return messages_core.update_message_metadata(conn, self.workspace, message_id, metadata)

    def list_messages(
        self, session_id: str | None = None, *, peer_id: str | None = None, last: int | None = None, present: str | None = None
    ) -> list[Message]:
        """`present`: only messages written while that peer was a member of their session."""
        with self._read() as conn:
            return messages_core.list_messages(conn, self.workspace, session_id, peer_id=peer_id, last=last, present=present)

    def search_messages(
        self,
        query: str,
        *,
        session_id: str | None = None,
        peer_id: str | None = None,
        limit: int = 10,
        mode: str = "hybrid",
        present: str | None = None,
        sessions: list[str] | None = None,
    ) -> list[Message]:
        """Find messages by words (BM25), by meaning (vectors), or both merged by reciprocal rank.

        Hybrid falls back to words alone when the embedding model is not on disk
        (`self.search_note` then says so); `semantic` needs the model. `present` keeps
        only messages written while that peer was a member of their session.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("search query is empty", field="query")
        if not 1 <= limit <= 100:
            raise InvalidInput(f"limit must be between 1 and 100, got {limit}", field="limit")
        if mode not in ("hybrid", "fulltext", "semantic"):
            raise InvalidInput("search mode must be hybrid, fulltext or semantic", field="mode")
        self.search_note = None
        depth = max(200 if present is not None else 50, limit)
        if sessions is not None:  # an allowlist (e.g. a scope's sessions): rank deep, keep what is inside it
            depth = max(depth, 2_000)
            if not sessions:
                return []
        from honcho_cli.store import fulltext

        words: list[tuple[str, float]] | None = []
        with self._read() as conn:
            if session_id is not None:
                sessions_core.get_session(conn, self.workspace, session_id)
            for peer in (peer_id, present):
                if peer is not None:
                    peers_core.get_peer(conn, self.workspace, peer)
            if mode != "semantic":
                words = fulltext.search(conn, self.workspace, query, session_id=session_id, peer_id=peer_id, limit=depth)
            if mode == "fulltext" and words is not None:  # one read does it all
                return self._found(conn, words, present, limit, sessions)
        if words is None:
            words = self._rebuild_and_search(query, session_id, peer_id, depth)
        meaning: list[tuple[str, float]] = []
        if mode != "fulltext":
            vector = self._query_vector(query, required=mode == "semantic")
            if vector is not None:
                meaning = self._message_neighbours(vector, session_id, peer_id, depth)
        if mode == "fulltext" or (mode == "hybrid" and not meaning and self.search_note):
            ranked = words
        elif mode == "semantic":
            ranked = [(message_id, 1.0 - distance) for message_id, distance in meaning]
        else:
            ranked = messages_core.reciprocal_rank_fusion([m for m, _ in words], [m for m, _ in meaning])
        with self.store.read() as conn:
            return self._found(conn, ranked, present, limit, sessions)

    def _found(
        self, conn: Any, ranked: list[tuple[str, float]], present: str | None, limit: int, sessions: list[str] | None
    ) -> list[Message]:
        """The ranked messages that still exist, that `present` witnessed and `sessions` allows, scored."""
        from honcho_cli.errors import MessageNotFound

        if present is not None:
            seen = messages_core.present_among(conn, self.workspace, [m for m, _ in ranked], present)
            ranked = [(m, score) for m, score in ranked if m in seen]
        found = []
        for message_id, score in ranked:
            if len(found) >= limit:
                break
            try:
                message = messages_core.get_message(conn, self.workspace, message_id)
            except MessageNotFound:  # deleted since the ranking was read
                continue
            if sessions is not None and message.session_id not in sessions:
                continue
            message.score = round(score, 6)
            found.append(message)
        return found

    def _query_vector(self, query: str, *, required: bool) -> list[float] | None:
        from honcho_cli.errors import ModelNotFound

        try:
            return [float(x) for x in self.embedder().embed([query])[0]]
        except ModelNotFound as exc:
            if required:
                raise
            self.search_note = f"full-text only: {exc.message}"
            return None

    def _rebuild_and_search(self, query: str, session_id: str | None, peer_id: str | None, depth: int) -> list[tuple[str, float]]:
        """BM25 hits after rebuilding the word index, which a read found missing or too far behind."""
        from honcho_cli.store import fulltext

        with self.store.write() as conn:
            hits = fulltext.search(conn, self.workspace, query, session_id=session_id, peer_id=peer_id, limit=depth)
            if hits is None:  # still so under the write lock: no other process rebuilt it meanwhile
                fulltext.rebuild(conn)
                hits = fulltext.search(conn, self.workspace, query, session_id=session_id, peer_id=peer_id, limit=depth)
            if hits is None:
                from honcho_cli.errors import HonchoError

                raise HonchoError("the full-text index could not be built")
            return hits

    def _message_neighbours(
        self, vector: list[float], session_id: str | None, peer_id: str | None, depth: int
    ) -> list[tuple[str, float]]:
        from honcho_cli.store.vectors import has_message_index

        if has_message_index(self.settings.vectors_path, self.workspace):
            from honcho_cli.store.index_sync import messages_backlog

            with self.store.read() as conn:
                backlog = messages_backlog(conn, self.workspace)
                exact = messages_core.nearest_messages(
                    conn, self.workspace, vector, session_id=session_id, peer_id=peer_id, limit=depth, only_unindexed=True
                ) if backlog.pending else []
            if not backlog.whole_table:
                hits = self.engine.vectors(len(vector)).search_messages(
                    vector, workspace_id=self.workspace, session_id=session_id, peer_id=peer_id, limit=backlog.widen(depth)
                )
                return sorted(backlog.keep(hits) + exact, key=lambda hit: (hit[1], hit[0]))[:depth]
        with self.store.read() as conn:
            return messages_core.nearest_messages(
                conn, self.workspace, vector, session_id=session_id, peer_id=peer_id, limit=depth
            )

    # -- reasoning queue and conclusions ---------------------------------------------

    def deriver_status(
        self, *, observer: str | None = None, sender: str | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        from honcho_cli.core import queue

        with self._read() as conn:
            for peer in (observer, sender):
                if peer is not None:
                    peers_core.get_peer(conn, self.workspace, peer)
            if session_id is not None:
                sessions_core.get_session(conn, self.workspace, session_id)
            return queue.queue_status(conn, self.workspace, observer=observer, sender=sender, session_id=session_id)

    def retry_failed(self) -> int:
        from honcho_cli.core import queue

        with self._write() as conn:
            return queue.retry_failed(conn, self.workspace)

    def list_conclusions(
        self,
        *,
        observer: str | None = None,
        observed: str | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """Without an observer, scopes' copies (observer `scope__...`) are left out: they repeat their origins."""
        from honcho_cli.core import conclusions
        from honcho_cli.core.peers import RESERVED_PREFIX

        with self._read() as conn:
            found = conclusions.list_conclusions(
                conn, self.workspace, observer=observer, observed=observed, session_id=session_id,
                limit=None if observer is None else limit,
            )
        if observer is None:
            found = [c for c in found if not c.observer.startswith(RESERVED_PREFIX)]
        return found[:limit] if limit is not None else found

    def get_conclusion(self, conclusion_id: str) -> Any:
        from honcho_cli.core import conclusions

        with self.store.read() as conn:
            return conclusions.get_conclusion(conn, self.workspace, conclusion_id)

    def delete_conclusion(self, conclusion_id: str) -> Any:
        """Deleted for good: the deriver will not write the same statement back."""
        from honcho_cli.core import conclusions

        with self.store.write() as conn:
            found = conclusions.delete_conclusion(conn, self.workspace, conclusion_id)
        self._catch_up_index()
        return found

    def _catch_up_index(self) -> None:
        """After a write that changed vectors: bring the LanceDB index up to DuckDB (store/index_sync)."""
        from honcho_cli.store.index_sync import catch_up_after_write

        catch_up_after_write(self.store, self.settings.vectors_path, index=self.engine.loaded_vectors())

    def create_conclusion(
        self, observer: str, observed: str, content: str, *, session_id: str | None = None, embedder: Any = None
    ) -> Any:
        """Write a conclusion by hand into (observer, observed); embedded when an embedder is given."""
        from honcho_cli.core import conclusions

        embedding = None
        if embedder is not None:
            embedding = [float(x) for x in embedder.embed([content])[0]]
        with self._write() as conn:
            peers_core.get_peer(conn, self.workspace, observer)
            peers_core.get_peer(conn, self.workspace, observed)
            if session_id is not None:
                sessions_core.get_session(conn, self.workspace, session_id)
            recorded = conclusions.create_conclusion(
                conn, self.workspace, observer, observed, content, session_id=session_id, embedding=embedding
            )
            found = conclusions.get_conclusion(conn, self.workspace, recorded.id) if recorded.outcome != "suppressed" else None
        if embedding is not None:
            self._catch_up_index()
        if found is None:
            from honcho_cli.errors import Conflict

            raise Conflict("that conclusion was deleted before; it stays deleted", conclusion_id=recorded.id)
        return found

    def create_conclusions(self, items: list[dict[str, Any]], *, embedder: Any = None) -> list[Any]:
        """Several conclusions by hand, all or nothing: each {"observer", "observed", "content",
        "session_id"?}. One embedding call, one transaction and one index write for the batch."""
        from honcho_cli.core import conclusions
        from honcho_cli.errors import Conflict

        vectors = embedder.embed([item["content"] for item in items]) if embedder is not None and items else None
        with self._write() as conn:
            ids = []
            for n, item in enumerate(items):
                peers_core.get_peer(conn, self.workspace, item["observer"])
                peers_core.get_peer(conn, self.workspace, item["observed"])
                if item.get("session_id") is not None:
                    sessions_core.get_session(conn, self.workspace, item["session_id"])
                recorded = conclusions.create_conclusion(
                    conn, self.workspace, item["observer"], item["observed"], item["content"],
                    session_id=item.get("session_id"), embedding=None if vectors is None else [float(x) for x in vectors[n]],
                )
                if recorded.outcome == "suppressed":
                    raise Conflict(f"conclusion {n + 1} was deleted before; it stays deleted", conclusion_id=recorded.id)
                ids.append(recorded.id)
            found = [conclusions.get_conclusion(conn, self.workspace, i) for i in ids]
        if vectors is not None:
            self._catch_up_index()
        return found

    # -- reading memory: representation and chat ---------------------------------------

    def embedder(self) -> Any:
        """The data directory's embedding model, checked against the store's vectors (Engine.embedder)."""
        return self.engine.embedder()

    def chat_model(self) -> Any:
        return self.engine.chat_model()

    def representation(
        self,
        peer_id: str,
        target: str | None = None,
        *,
        session_id: str | None = None,
        search_query: str | None = None,
        search_top_k: int | None = None,
        search_max_distance: float | None = None,
        include_most_frequent: bool = False,
        max_conclusions: int = 25,
        scope: str | list[str] | None = None,
        sessions: list[str] | None = None,
    ) -> Any:
        """(peer, peer) without a target, (peer, target) with one; see core.representation.
        `scope` reads a scope's view, `scope=[...]`/`sessions` cut to those sessions (see recall)."""
        from honcho_cli.core import conclusions as conclusions_core
        from honcho_cli.core import representation as rep

        if scope is not None or sessions is not None:
            from honcho_cli.recall import bounded_representation, check_bounds

            check_bounds(scope, sessions, session_id)
            return bounded_representation(
                self, peer_id, target, scope=scope, sessions=sessions, search_query=search_query,
                max_conclusions=max_conclusions, search_top_k=search_top_k, search_max_distance=search_max_distance,
                include_most_frequent=include_most_frequent,
            )

        query = rep.RepresentationQuery(
            observer=peer_id, observed=target or peer_id, session_id=session_id, search_query=search_query,
            search_top_k=search_top_k, search_max_distance=search_max_distance,
            include_most_frequent=include_most_frequent, max_conclusions=max_conclusions,
        )
        query.check()
        vector = None
        if search_query is not None:
            vector = [float(x) for x in self.embedder().embed([search_query])[0]]
        with self._read() as conn:
            peers_core.get_peer(conn, self.workspace, query.observer)
            peers_core.get_peer(conn, self.workspace, query.observed)
            if session_id is not None:
                sessions_core.get_session(conn, self.workspace, session_id)
            hits = None
            if vector is not None:
                hits = self._nearest(conn, query, vector)
            chosen = rep.select(conn, self.workspace, query, hits)
            result = rep.Representation(
                observer=query.observer, observed=query.observed, conclusions=chosen, session_id=session_id,
                sessions=rep.view_sessions(conn, self.workspace, query.observer, query.observed, chosen),
                quoted=_quotes(
                    rep.uncovered_messages(conn, self.workspace, query.observer, query.observed, session_id=session_id),
                    search_query, limit=max(2, min(5, max_conclusions // 5)),
                ),
            )
            if not chosen:
                size = conclusions_core.collection_size(conn, self.workspace, query.observer, query.observed)
                result.hint = rep.empty_view_hint(conn, self.workspace, query.observer, query.observed) if not size else None
            return result

    def _nearest(self, conn, query: Any, vector: list[float]) -> list[tuple[str, float]]:
        """DuckDB's exact scan while it is cheap; the collection's own LanceDB table otherwise.

        DuckDB's scan reads the embedding column of the whole conclusions table, whatever
        the collection (collections interleave in time): 3 s for a 1k collection among
        500k rows. So it serves stores of up to EXACT_SCAN_MAX_ROWS conclusions in all,
        where a CLI process then never imports LanceDB (~1 s). Otherwise, or once the
        collection has its ANN index, LanceDB searches the collection's own table (the
        index, or a flat search of that table alone): one collection's cost does not grow
        with the others'.
        """
        from honcho_cli.core import conclusions as conclusions_core
        from honcho_cli.store.vectors import has_ann_index, has_vector_table

        k = query.semantic_budget
        where = (self.settings.vectors_path, self.workspace, query.observer, query.observed)
        if has_ann_index(*where) or (not conclusions_core.exact_scan_is_cheap(conn) and has_vector_table(*where)):
            from honcho_cli.store.index_sync import collection_backlog

            # rows the index does not follow yet (a writer died between the two stores, or has
            # not caught up) are searched exactly here, and their stale index entries ignored
            backlog = collection_backlog(conn, self.workspace, query.observer, query.observed)
            if not backlog.whole_table:
                hits = self.engine.vectors(len(vector)).search(
                    vector, workspace_id=self.workspace, observer=query.observer, observed=query.observed,
                    session_id=query.session_id, limit=backlog.widen(k), max_distance=query.search_max_distance,
                )
                if backlog.empty:
                    return hits
                exact = conclusions_core.nearest(
                    conn, self.workspace, query.observer, query.observed, vector, limit=k,
                    max_distance=query.search_max_distance, session_id=query.session_id, only_unindexed=True,
                ) if backlog.pending else []
                return sorted(backlog.keep(hits) + exact, key=lambda hit: (hit[1], hit[0]))[:k]
        return conclusions_core.nearest(
            conn, self.workspace, query.observer, query.observed, vector, limit=k,
            max_distance=query.search_max_distance, session_id=query.session_id,
        )

    def chat_context(
        self,
        peer_id: str,
        query: str,
        *,
        target: str | None = None,
        session_id: str | None = None,
        reasoning_level: str = "low",
        present_only: bool = False,
        scope: str | list[str] | None = None,
        sessions: list[str] | None = None,
    ) -> Any:
        """What the dialectic will see: the view's relevant conclusions and, with a session,
        the recent messages the asking peer was present for (with a target, or with
        `present_only`; a self view otherwise reads the session as honcho saw it).
        `scope` / `sessions` bound what is recalled (see recall)."""
        from honcho_cli.reasoning import dialectic

        if scope is not None or sessions is not None:
            from honcho_cli.recall import bounded_chat_context, check_bounds

            check_bounds(scope, sessions, session_id)
            return bounded_chat_context(self, peer_id, query, target=target, scope=scope, sessions=sessions,
                                        reasoning_level=reasoning_level)

        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("the question is empty", field="query")
        if len(query) > dialectic.MAX_QUERY_CHARS:
            raise InvalidInput(
                f"the question has {len(query):,} characters; the limit is {dialectic.MAX_QUERY_CHARS:,}", field="query"
            )
        if reasoning_level not in dialectic.REASONING_LEVELS:
            raise InvalidInput(
                f"reasoning level must be one of {', '.join(dialectic.REASONING_LEVELS)}", field="reasoning_level"
            )
        level = dialectic.REASONING_LEVELS[reasoning_level]
        # ranked by meaning only: the most reinforced or the newest notes are rarely what a question needs
        view = self.representation(
            peer_id, target, search_query=query, search_top_k=level.max_conclusions, max_conclusions=level.max_conclusions,
        )
        evidence = self._witnessed_evidence(peer_id, target or peer_id, query, level.evidence_messages)
        recent: list[Message] = []
        if session_id is not None:
            observer_filter = peer_id if present_only or target not in (None, peer_id) else None
            recent = dialectic.fit_messages(
                self.list_messages(session_id, last=200, present=observer_filter), level.message_tokens
            )
        recent_ids = {m.id for m in recent}
        evidence = [m for m in evidence if m.id not in recent_ids]
        context = dialectic.ChatContext(
            question=query, representation=view, messages=recent, evidence=evidence, note_tokens=level.note_tokens
        )
        return context, level

    def _witnessed_evidence(self, observer: str, observed: str, query: str, limit: int) -> list[Message]:
        """Messages of the same view as the conclusions, closest to the question: the
        dialectic quotes them beside the notes, so a fact the deriver missed can still answer."""
        from honcho_cli.core.conclusions import vector_text

        if limit <= 0:
            return []
        vector = self.embedder().embed([query])[0]
        with self._read() as conn:
            return messages_core.witnessed_nearest(conn, self.workspace, observer, observed, vector_text(vector), limit=limit)

    def chat(
        self,
        peer_id: str,
        query: str,
        *,
        target: str | None = None,
        session_id: str | None = None,
        reasoning_level: str = "low",
        scope: str | list[str] | None = None,
        sessions: list[str] | None = None,
    ) -> dict[str, Any]:
        """A natural-language answer from the right view only; "I don't know." when it holds nothing."""
        from honcho_cli.reasoning import dialectic

        context, level = self.chat_context(
            peer_id, query, target=target, session_id=session_id, reasoning_level=reasoning_level,
            scope=scope, sessions=sessions,
        )
        text = dialectic.answer(self.chat_model(), context, level) if not context.is_empty else dialectic.DONT_KNOW
        return dialectic.chat_result(text, context)

    def search_conclusions(
        self, query: str, *, observer: str, observed: str | None = None, limit: int = 10, session_id: str | None = None
    ) -> list[Any]:
        """Conclusions of one view ranked by meaning, nearest first, each with its distance."""
        view = self.representation(
            observer, observed, session_id=session_id, search_query=query, search_top_k=limit,
            search_max_distance=1.0, max_conclusions=limit,
        )
        return view.conclusions

    def peer_card(self, peer_id: str, target: str | None = None, *, size: int = 10) -> dict[str, Any]:
        """The key facts of a view: the card set for it by hand, else its most reinforced
        conclusions, newest first among equals."""
        from honcho_cli.core import cards
        from honcho_cli.core import conclusions as conclusions_core

        observed = target or peer_id
        with self._read() as conn:
            peers_core.get_peer(conn, self.workspace, peer_id)
            peers_core.get_peer(conn, self.workspace, observed)
            explicit = cards.get_card(conn, self.workspace, peer_id, observed)
            if explicit is not None:
                return {"observer": peer_id, "observed": observed, "card": explicit, "set_by_hand": True}
            top = conclusions_core.list_conclusions(
                conn, self.workspace, observer=peer_id, observed=observed, order="frequent", limit=size
            )
        return {"observer": peer_id, "observed": observed, "card": [c.content for c in top]}

    # -- sessions as prompt material: summaries and context --------------------------------

    def session_summaries(self, session_id: str) -> dict[str, Any]:
        from honcho_cli.core import summaries

        with self._read() as conn:
            sessions_core.get_session(conn, self.workspace, session_id)
            found = summaries.list_summaries(conn, self.workspace, session_id)
        return {
            "session_id": session_id,
            "short_summary": found["short"].to_dict() if found["short"] else None,
            "long_summary": found["long"].to_dict() if found["long"] else None,
        }

    def session_context(
        self,
        session_id: str,
        *,
        tokens: int = 2048,
        peer_target: str | None = None,
        peer_perspective: str | None = None,
        search_query: str | None = None,
        summary: bool = True,
        scope: str | None = None,
        sessions: list[str] | None = None,
    ) -> dict[str, Any]:
        """What an agent would put in its prompt, within `tokens`.

        The view of `peer_target` (through `peer_perspective`'s eyes when given) and its
        card come first, then a summary in at most 40% of what is left, then the most
        recent messages. With a perspective, only what that peer witnessed is used: a
        summary is included only if it covers messages it was present for.
        """
        from honcho_cli.core import summaries
        from honcho_cli.core.messages import estimate_tokens
        from honcho_cli.core.validation import check_range

        check_range("tokens", tokens, 1, 100_000)
        if peer_perspective is not None and peer_target is None:
            raise InvalidInput("--peer-perspective needs --peer-target (whose view of whom)", field="peer_perspective")
        if scope is not None:
            from honcho_cli.core.scopes import check_scope_id, scope_peer
            from honcho_cli.recall import sync_scope

            if peer_target is None or peer_perspective is not None:
                raise InvalidInput("a scope needs a peer target and replaces the peer perspective", field="scope")
            sync_scope(self, check_scope_id(scope))
        session = self.get_session(session_id)
        left = tokens
        out: dict[str, Any] = {
            "session_id": session.id, "peer_target": peer_target, "peer_perspective": peer_perspective,
            "representation": None, "peer_card": None, "summary": None, "messages": [], "token_budget": tokens,
        }
        if peer_target is not None:
            observer = scope_peer(scope) if scope is not None else (peer_perspective or peer_target)
            if scope is not None:
                view = self.representation(peer_target, search_query=search_query, scope=scope)
            else:
                view = self.representation(observer, peer_target, search_query=search_query, sessions=sessions)
            while view.conclusions and estimate_tokens(view.markdown()) > left:
                view.conclusions.pop()
            if view.conclusions:
                out["representation"] = view.markdown()
                left -= estimate_tokens(out["representation"])
            card = self.peer_card(observer, peer_target)["card"]
            card_cost = estimate_tokens("\n".join(card)) if card else 0
            if card and card_cost <= left:
                out["peer_card"] = card
                left -= card_cost
        if summary and left > 0:
            with self.store.read() as conn:
                found = summaries.list_summaries(conn, self.workspace, session_id)
            for kind in ("long", "short"):
                candidate = found[kind]
                if candidate is None or candidate.token_count > int(left * 0.4):
                    continue
                if peer_perspective is not None and not self._present_throughout(session_id, peer_perspective, candidate.seq_covered):
                    continue
                out["summary"] = candidate.to_dict()
                left -= candidate.token_count
                break
        present = peer_perspective
        recent = self.list_messages(session_id, last=500, present=present)
        from honcho_cli.reasoning.dialectic import fit_messages

        chosen = fit_messages(recent, left)
        out["messages"] = [m.to_dict() for m in chosen]
        left -= sum(m.token_count for m in chosen)
        out["token_count"] = tokens - left
        return out

    def _present_throughout(self, session_id: str, peer_id: str, upto_seq: int) -> bool:
        """Whether the peer witnessed every message 1..upto_seq of the session."""
        with self.store.read() as conn:
            total = conn.execute(
                "SELECT count(*) FROM messages WHERE workspace_id = ? AND session_id = ? AND seq_in_session <= ?",
                [self.workspace, session_id, upto_seq],
            ).fetchone()[0]
        seen = [m for m in self.list_messages(session_id, present=peer_id) if m.seq_in_session <= upto_seq]
        return len(seen) == total

    # -- scopes, cards set by hand, clones, workspace-wide chat ------------------------------

    def set_peer_card(self, peer_id: str, card: list[str], target: str | None = None) -> dict[str, Any]:
        """Set a view's card by hand (an empty list goes back to the derived card)."""
        from honcho_cli.core import cards

        observed = target or peer_id
        with self._write() as conn:
            peers_core.get_peer(conn, self.workspace, peer_id)
            peers_core.get_peer(conn, self.workspace, observed)
            cards.set_card(conn, self.workspace, peer_id, observed, card)
        return self.peer_card(peer_id, target)

    def clone_session(self, session_id: str, *, message_id: str | None = None, new_id: str | None = None) -> Session:
        """A copy of the session (up to and including `message_id`); see core.session_clone."""
        from honcho_cli.core.session_clone import clone_session

        with self._write() as conn:
            clone = clone_session(conn, self.workspace, session_id, upto_message_id=message_id, new_id=new_id)
            return sessions_core.get_session(conn, self.workspace, clone)

    def workspace_chat(self, query: str, *, session_id: str | None = None, scope: str | list[str] | None = None,
                       reasoning_level: str = "low") -> dict[str, Any]:
        """An answer from what is known about everyone in the workspace (or what a scope saw)."""
        from honcho_cli.reasoning import dialectic
        from honcho_cli.recall import workspace_chat_context

        context, level = workspace_chat_context(self, query, session_id=session_id, scope=scope, reasoning_level=reasoning_level)
        text = dialectic.answer(self.chat_model(), context, level) if not context.is_empty else dialectic.DONT_KNOW
        return dialectic.chat_result(text, context)

    def create_scope(self, scope_id: str, metadata: dict[str, Any] | None = None, sessions: list[str] | None = None) -> Any:
        from honcho_cli.core import scopes
        from honcho_cli.recall import index_conclusions

        changed: list[str] = []
        with self._write() as conn:
            found = scopes.create_scope(conn, self.workspace, scope_id, metadata)
            if sessions:
                changed = scopes.add_sessions(conn, self.workspace, scope_id, sessions)
        index_conclusions(self, changed)
        return found

    def get_scope(self, scope_id: str) -> Any:
        from honcho_cli.core import scopes

        with self._read() as conn:
            return scopes.get_scope(conn, self.workspace, scope_id)

    def list_scopes(self) -> list[Any]:
        from honcho_cli.core import scopes

        with self._read() as conn:
            return scopes.list_scopes(conn, self.workspace)

    def update_scope(self, scope_id: str, metadata: dict[str, Any]) -> Any:
        from honcho_cli.core import scopes

        with self._write() as conn:
            scopes.get_scope(conn, self.workspace, scope_id)
            return scopes.create_scope(conn, self.workspace, scope_id, metadata)

    def delete_scope(self, scope_id: str) -> dict[str, Any]:
        from honcho_cli.core import scopes
        from honcho_cli.recall import index_conclusions

        with self._write() as conn:
            removed = scopes.delete_scope(conn, self.workspace, scope_id)
        index_conclusions(self, [], removed)
        return {"deleted": scope_id, "conclusions_removed": len(removed)}

    def scope_add_sessions(self, scope_id: str, session_ids: list[str]) -> dict[str, Any]:
        from honcho_cli.core import scopes
        from honcho_cli.recall import index_conclusions

        with self._write() as conn:
            changed = scopes.add_sessions(conn, self.workspace, scope_id, session_ids)
        index_conclusions(self, changed)
        return {"scope": scope_id, "added_sessions": session_ids, "conclusions_copied": len(changed)}

    def scope_remove_session(self, scope_id: str, session_id: str) -> dict[str, Any]:
        from honcho_cli.core import scopes
        from honcho_cli.recall import index_conclusions

        with self._write() as conn:
            removed = scopes.remove_session(conn, self.workspace, scope_id, session_id)
        index_conclusions(self, [], removed)
        return {"scope": scope_id, "removed_session": session_id, "conclusions_removed": len(removed)}

    def scope_sessions(self, scope_id: str, *, reverse: bool = False) -> list[Session]:
        from honcho_cli.core import scopes

        with self._read() as conn:
            return scopes.member_sessions(conn, self.workspace, scope_id, reverse=reverse)

    def scope_status(self, scope_id: str) -> dict[str, dict[str, Any]]:
        """Per member session: its copy state (always completed here: copies are made at once)."""
        from honcho_cli.core import scopes
        from honcho_cli.recall import sync_scope

        sync_scope(self, scopes.check_scope_id(scope_id))
        with self._read() as conn:
            return scopes.status(conn, self.workspace, scope_id)


def _quotes(candidates: list[Message], search_query: str | None, *, limit: int) -> list[Message]:
    """Of the messages that gave no conclusion, those that state something; with a query, the
    ones sharing most of its words first (no vectors needed), else the newest."""
    from honcho_cli.reasoning.grounding import content_words, statements

    stating = [m for m in candidates if statements(m.content)]
    if search_query:
        wanted = set(content_words(search_query))
        stating = [m for m in stating if wanted & set(content_words(m.content))]
        stating.sort(key=lambda m: -len(wanted & set(content_words(m.content))))
    return stating[:limit]
