"""Messages: validated as a whole, then written in one transaction with their witnesses."""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from honcho_cli.core.conclusions import vector_text
from honcho_cli.core.entities import Message, load_json
from honcho_cli.core.peers import create_peer, find_peer
from honcho_cli.core.sessions import active_peer_ids, add_peers, get_session, require_open
from honcho_cli.core.validation import check_content, check_id, parse_metadata, parse_timestamp, utcnow
from honcho_cli.core.witnesses import present_filter_sql, record_witnesses
from honcho_cli.errors import InvalidInput, MessageNotFound, PeerNotFound, PeerNotInSession
from honcho_cli.store.bulk import insert_rows

if TYPE_CHECKING:
    import duckdb

MESSAGE_SELECT = "id, workspace_id, session_id, peer_id, content, metadata, created_at, seq_in_session, token_count"
MESSAGE_COLUMNS = ("id", "workspace_id", "session_id", "peer_id", "content", "metadata", "created_at", "inserted_at",
                   "seq_in_session", "token_count")


@dataclass
class NewMessage:
    """A message as a caller hands it in, before it has an id or a place."""

    peer_id: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @classmethod
    def parse(cls, raw: Any, *, where: str = "message") -> NewMessage:
        """From a JSONL object: {"peer", "content", "metadata"?, "created_at"?}."""
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where}: expected a JSON object", where=where)
        unknown = set(raw) - {"peer", "peer_id", "content", "metadata", "created_at"}
        if unknown:
            raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}", where=where)
        peer = raw.get("peer", raw.get("peer_id"))
        if peer is None:
            raise InvalidInput(f"{where}: missing \"peer\"", where=where)
        if "content" not in raw:
            raise InvalidInput(f"{where}: missing \"content\"", where=where)
        created = raw.get("created_at")
        return cls(
            peer_id=peer,
            content=raw["content"],
            metadata=parse_metadata(raw.get("metadata"), where=f"{where}: metadata"),
            created_at=None if created is None else parse_timestamp(created, where=f"{where}: created_at"),
        )

    def check(self, where: str) -> None:
        try:
            check_id("peer", self.peer_id)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}", **exc.details) from None
        check_content(self.content, where=f"{where}: content")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about four characters a token), used for batching budgets."""
    return max(1, math.ceil(len(text) / 4))


def new_message_id() -> str:
    return secrets.token_urlsafe(15)


def message_from_row(row: tuple) -> Message:
    return Message(
        id=row[0], workspace_id=row[1], session_id=row[2], peer_id=row[3], content=row[4],
        metadata=load_json(row[5]), created_at=row[6], seq_in_session=row[7], token_count=row[8],
    )


def add_messages(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str,
    items: list[NewMessage],
    *,
    join: bool = False,
) -> list[Message]:
    """Append messages to a session, all or nothing.

    Every sender must be an active member, unless `join` is set: then a missing peer
    is created and an absent one joins before its first message (so it observes from
    that point on, never before).
    """
    if not items:
        raise InvalidInput("no messages to add")
    for index, item in enumerate(items, start=1):
        item.check(f"message {index}" if len(items) > 1 else "message")
    session = get_session(conn, workspace_id, session_id)
    require_open(session)
    present = set(active_peer_ids(conn, workspace_id, session_id))
    first_index = {}  # sender -> index of its first message in this batch
    for index, item in enumerate(items):
        first_index.setdefault(item.peer_id, index)
    # each message gets its own instant, so "present when it was written" can be told
    # apart even inside one batch; a peer joining for the batch joins at its first message
    base = utcnow()
    instants = [base + timedelta(microseconds=i) for i in range(len(items))]
    joined_here: dict[str, int] = {}
    for sender in first_index:
        if sender in present:
            continue
        if not join:
            if find_peer(conn, workspace_id, sender) is None:
                raise PeerNotFound(
                    f"peer {sender!r} does not exist (create it, or pass --join to create it and add it to the session)",
                    peer_id=sender,
                )
            raise PeerNotInSession(
                f"peer {sender!r} is not a member of session {session_id!r} (add it with: honcho session add-peers {session_id} {sender}, or pass --join)",
                peer_id=sender,
                session_id=session_id,
            )
        create_peer(conn, workspace_id, sender)
        add_peers(conn, workspace_id, session_id, [sender], joined_at=instants[first_index[sender]])
        present.add(sender)
        joined_here[sender] = first_index[sender]

    seq = conn.execute(
        "SELECT coalesce(max(seq_in_session), 0) FROM messages WHERE workspace_id = ? AND session_id = ?",
        [workspace_id, session_id],
    ).fetchone()[0]
    rows = []
    created: list[Message] = []
    for item, at in zip(items, instants):
        seq += 1
        message = Message(
            id=new_message_id(), workspace_id=workspace_id, session_id=session_id, peer_id=item.peer_id,
            content=item.content, metadata=item.metadata, created_at=item.created_at or at,
            seq_in_session=seq, token_count=estimate_tokens(item.content),
        )
        created.append(message)
        rows.append((
            message.id, workspace_id, session_id, message.peer_id, message.content, json.dumps(message.metadata),
            message.created_at, at, seq, message.token_count,
        ))
    insert_rows(conn, "messages", MESSAGE_COLUMNS, rows)
    record_witnesses(conn, workspace_id, session_id, [(m.id, m.peer_id) for m in created], base, joined_at_index=joined_here)
    return created


def get_message(conn: duckdb.DuckDBPyConnection, workspace_id: str, message_id: str) -> Message:
    check_id("message", message_id)
    row = conn.execute(
        f"SELECT {MESSAGE_SELECT} FROM messages WHERE workspace_id = ? AND id = ?", [workspace_id, message_id]
    ).fetchone()
    if row is None:
        raise MessageNotFound(f"message {message_id!r} does not exist in workspace {workspace_id!r}", message_id=message_id)
    return message_from_row(row)


def update_message_metadata(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, message_id: str, metadata: dict[str, Any]
) -> Message:
    """Replace a message's metadata; its content, and so what was reasoned from it, stays."""
    get_message(conn, workspace_id, message_id)
    conn.execute(
        "UPDATE messages SET metadata = ? WHERE workspace_id = ? AND id = ?",
        [json.dumps(parse_metadata(metadata)), workspace_id, message_id],
    )
    return get_message(conn, workspace_id, message_id)


def list_messages(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    session_id: str | None = None,
    *,
    peer_id: str | None = None,
    last: int | None = None,
    present: str | None = None,
) -> list[Message]:
    """In session order; `last` keeps only the newest N (still oldest first).

    `present` keeps only messages written while that peer was a member: what it witnessed.
    """
    if last is not None and last < 1:
        raise InvalidInput("--last must be at least 1", field="last")
    clauses, params = ["workspace_id = ?"], [workspace_id]
    if session_id is not None:
        get_session(conn, workspace_id, session_id)
        clauses.append("session_id = ?")
        params.append(session_id)
    if peer_id is not None:
        check_id("peer", peer_id)
        clauses.append("peer_id = ?")
        params.append(peer_id)
    if present is not None:
        clauses.append(present_filter_sql())
        params.append(present)
    where = " AND ".join(clauses)
    keys = ["seq_in_session"] if session_id is not None else ["inserted_at", "session_id", "seq_in_session"]
    forward = ", ".join(keys)
    if last is None:
        sql = f"SELECT {MESSAGE_SELECT} FROM messages m WHERE {where} ORDER BY {forward}"
    else:
        backward = ", ".join(f"{k} DESC" for k in keys)
        sql = f"""SELECT {MESSAGE_SELECT} FROM (SELECT * FROM messages m WHERE {where} ORDER BY {backward} LIMIT {int(last)})
                  ORDER BY {forward}"""
    return [message_from_row(r) for r in conn.execute(sql, params).fetchall()]


def present_among(conn: duckdb.DuckDBPyConnection, workspace_id: str, message_ids: list[str], peer_id: str) -> set[str]:
    """Those of `message_ids` written while `peer_id` was a member of their session."""
    if not message_ids:
        return set()
    rows = conn.execute(
        f"""SELECT m.id FROM messages m WHERE m.workspace_id = ? AND list_contains(?, m.id) AND {present_filter_sql()}""",
        [workspace_id, message_ids, peer_id],
    ).fetchall()
    return {r[0] for r in rows}


def store_embeddings(conn: duckdb.DuckDBPyConnection, workspace_id: str, vectors: dict[str, list[float]]) -> None:
    """Keep message vectors (computed by the deriver anyway) for semantic message search."""
    rows = [(workspace_id, message_id, vector_text(vector)) for message_id, vector in vectors.items()]
    if rows:
        conn.executemany(
            "INSERT INTO message_embeddings (workspace_id, message_id, embedding) VALUES (?, ?, ?::FLOAT[]) "
            "ON CONFLICT (message_id) DO NOTHING",
            rows,
        )


def nearest_messages(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    vector: list[float],
    *,
    session_id: str | None = None,
    peer_id: str | None = None,
    limit: int = 50,
    only_unindexed: bool = False,
) -> list[tuple[str, float]]:
    """Exact cosine search over message vectors, optionally inside one session or from one peer
    (`only_unindexed`: among those the vector index does not follow yet)."""
    clauses, params = ["e.workspace_id = ?"], [vector_text(vector), workspace_id]
    if only_unindexed:
        clauses.append("e.index_pending IS NOT NULL")
    if session_id is not None:
        clauses.append("m.session_id = ?")
        params.append(session_id)
    if peer_id is not None:
        clauses.append("m.peer_id = ?")
        params.append(peer_id)
    rows = conn.execute(
        f"""SELECT e.message_id, list_cosine_distance(e.embedding, ?::FLOAT[]) AS distance
            FROM message_embeddings e JOIN messages m ON m.id = e.message_id
            WHERE {' AND '.join(clauses)} ORDER BY distance, e.message_id LIMIT {int(limit)}""",
        params,
    ).fetchall()
    return [(r[0], float(r[1])) for r in rows]


def reciprocal_rank_fusion(*rankings: list[str], k: int = 60) -> list[tuple[str, float]]:
    """Merge ranked id lists: each list adds 1 / (k + rank) to an id's score."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def witnessed_nearest(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    observer: str,
    observed: str,
    vector_literal: str,
    *,
    limit: int,
) -> list[Message]:
    """The messages of `observed` that reached `observer`'s view, nearest in meaning first.

    Scoped by the witness table, exactly like the conclusions of the same view: for a
    self view, what the peer said; for a directional one, what the observer heard the
    target say. `vector_literal` is the query vector as text (see conclusions.vector_text).
    """
    rows = conn.execute(
        f"""SELECT {', '.join('m.' + c.strip() for c in MESSAGE_SELECT.split(','))}
            FROM message_witnesses w
            JOIN message_embeddings e ON e.message_id = w.message_id
            JOIN messages m ON m.id = w.message_id
            WHERE w.workspace_id = ? AND w.observer = ? AND w.observed = ?
            ORDER BY list_cosine_distance(e.embedding, {vector_literal}::FLOAT[]), m.id
            LIMIT {int(limit)}""",
        [workspace_id, observer, observed],
    ).fetchall()
    return [message_from_row(r) for r in rows]
