"""Named schema migrations, recorded in the file and applied on open.

Each schema change is appended here as a new named step and never edited after it
ships, so a store written by an older honcho opens in a newer one. Foreign keys are
left out on purpose: DuckDB cannot cascade them, and the core enforces the links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

Migration = tuple[str, Callable[["duckdb.DuckDBPyConnection"], None]]


def _m001_entities(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        CREATE TABLE workspaces (
            id VARCHAR PRIMARY KEY,
            metadata JSON NOT NULL DEFAULT '{}',
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE peers (
            workspace_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            metadata JSON NOT NULL DEFAULT '{}',
            observe_me BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE TABLE sessions (
            workspace_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            metadata JSON NOT NULL DEFAULT '{}',
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        -- per (session, peer) settings, kept across leave and re-join
        CREATE TABLE session_peer_config (
            workspace_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            peer_id VARCHAR NOT NULL,
            observe_me BOOLEAN,              -- NULL: fall back to the peer's setting
            observe_others BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (workspace_id, session_id, peer_id)
        );
        -- one row per stint in a session; leaving sets left_at, nothing is erased
        CREATE TABLE memberships (
            workspace_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            peer_id VARCHAR NOT NULL,
            joined_at TIMESTAMP NOT NULL,
            left_at TIMESTAMP
        );
        CREATE TABLE messages (
            id VARCHAR PRIMARY KEY,
            workspace_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            peer_id VARCHAR NOT NULL,
            content VARCHAR NOT NULL,
            metadata JSON NOT NULL DEFAULT '{}',
            created_at TIMESTAMP NOT NULL,
            inserted_at TIMESTAMP NOT NULL,
            seq_in_session BIGINT NOT NULL,
            token_count INTEGER NOT NULL,
            UNIQUE (workspace_id, session_id, seq_in_session)
        );
        CREATE INDEX messages_by_peer ON messages (workspace_id, peer_id);
        -- what the full-text index last saw, to tell when it must be rebuilt
        CREATE TABLE fulltext_state (
            name VARCHAR PRIMARY KEY,
            row_count BIGINT NOT NULL,
            last_inserted TIMESTAMP
        );
        """
    )


def _m002_reasoning(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- who may learn from a message, fixed when the message is created:
        -- the sender (self view) and every member observing others at that moment
        CREATE TABLE message_witnesses (
            workspace_id VARCHAR NOT NULL,
            message_id VARCHAR NOT NULL,
            observer VARCHAR NOT NULL,
            observed VARCHAR NOT NULL,
            PRIMARY KEY (workspace_id, message_id, observer)
        );
        -- one durable work item per message the deriver must read
        CREATE TABLE deriver_queue (
            workspace_id VARCHAR NOT NULL,
            message_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            observed VARCHAR NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'pending', -- pending|in_progress|completed|failed
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_owner VARCHAR,
            lease_until TIMESTAMP,
            error VARCHAR,
            facts_extracted INTEGER NOT NULL DEFAULT 0, -- grounded facts the unit produced
            facts_dropped INTEGER NOT NULL DEFAULT 0,   -- extracted but unsupported by the source
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, message_id)
        );
        CREATE TABLE conclusions (
            id VARCHAR PRIMARY KEY,
            workspace_id VARCHAR NOT NULL,
            observer VARCHAR NOT NULL,
            observed VARCHAR NOT NULL,
            content VARCHAR NOT NULL,
            normalized VARCHAR NOT NULL,
            level VARCHAR NOT NULL,             -- explicit|deductive|inductive|contradiction
            session_id VARCHAR,
            source_message_ids VARCHAR[] NOT NULL DEFAULT [],
            premise_ids VARCHAR[] NOT NULL DEFAULT [],
            times_derived INTEGER NOT NULL DEFAULT 1,
            embedding FLOAT[],                  -- source of truth; LanceDB holds a search index of it
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            deleted_at TIMESTAMP              -- deleted stays deleted: kept as a tombstone
        );
        CREATE INDEX conclusions_by_collection ON conclusions (workspace_id, observer, observed);
        """
    )


def _m003_summaries(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- rolling session summaries: each one covers messages 1..seq_covered of its session
        CREATE TABLE session_summaries (
            workspace_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,                -- short | long
            seq_covered BIGINT NOT NULL,
            last_message_id VARCHAR NOT NULL,
            content VARCHAR NOT NULL,
            token_count INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, session_id, kind, seq_covered)
        );
        """
    )


def _m004_consolidation(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- when each collection was last consolidated, so only new conclusions trigger it again
        CREATE TABLE collection_state (
            workspace_id VARCHAR NOT NULL,
            observer VARCHAR NOT NULL,
            observed VARCHAR NOT NULL,
            consolidated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, observer, observed)
        );
        """
    )


def _m005_message_embeddings(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- message vectors for hybrid search; LanceDB holds an index of them
        CREATE TABLE message_embeddings (
            workspace_id VARCHAR NOT NULL,
            message_id VARCHAR PRIMARY KEY,
            embedding FLOAT[] NOT NULL
        );
        """
    )


def _m006_store_meta(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- facts about the store itself, e.g. which embedding model made its vectors
        CREATE TABLE store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        """
    )


def _m007_index_sync(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- NULL once the LanceDB index holds the row as it is now; otherwise the token of the
        -- change it has yet to follow (0 for a new row, then values of index_changes), so a
        -- catch-up marks a row done only if nothing changed it meanwhile. Every row written
        -- before this step is pending: the first catch-up writes it (an idempotent upsert).
        ALTER TABLE conclusions ADD COLUMN index_pending BIGINT DEFAULT 0;
        ALTER TABLE message_embeddings ADD COLUMN index_pending BIGINT DEFAULT 0;
        CREATE SEQUENCE index_changes START 1;
        -- vectors whose rows left DuckDB (a deleted message, session or workspace), still to be
        -- removed from the index: one id of a LanceDB table, or the whole table when id is NULL
        CREATE TABLE index_removals (
            change BIGINT NOT NULL DEFAULT nextval('index_changes'),
            table_name VARCHAR NOT NULL,
            id VARCHAR,
            created_at TIMESTAMP NOT NULL
        );
        """
    )


def _m008_lease_owners(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- which process holds a unit's lease, so the next worker can tell at once that it died:
        -- host name, process id, and a token of that process's start (boot id and start time)
        ALTER TABLE deriver_queue ADD COLUMN lease_host VARCHAR;
        ALTER TABLE deriver_queue ADD COLUMN lease_pid INTEGER;
        ALTER TABLE deriver_queue ADD COLUMN lease_process VARCHAR;
        -- how often a worker died holding this item: not a failure, only shown in status
        ALTER TABLE deriver_queue ADD COLUMN abandoned INTEGER DEFAULT 0;
        """
    )


def _m009_peer_cards(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- a card set by hand (the SDK's Peer.set_card) for one view; without one, the card
        -- is derived from the view's most reinforced conclusions
        CREATE TABLE peer_cards (
            workspace_id VARCHAR NOT NULL,
            observer VARCHAR NOT NULL,
            observed VARCHAR NOT NULL,
            card VARCHAR[] NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, observer, observed)
        );
        """
    )


def _m010_scopes(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        """
        -- a named set of sessions that bounds recall; its own view is held by the reserved
        -- peer scope__<id>, whose conclusions are copies of those drawn in its sessions
        CREATE TABLE scopes (
            workspace_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            metadata JSON NOT NULL DEFAULT '{}',
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE TABLE scope_sessions (
            workspace_id VARCHAR NOT NULL,
            scope_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            added_at TIMESTAMP NOT NULL,
            state VARCHAR NOT NULL,            -- completed | pending | failed, as the SDK reports it
            docs_copied INTEGER,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace_id, scope_id, session_id)
        );
        -- which conclusion each scope copy was made from, to keep it in step and remove it
        CREATE TABLE scope_copies (
            workspace_id VARCHAR NOT NULL,
            scope_id VARCHAR NOT NULL,
            copy_id VARCHAR NOT NULL,
            origin_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            PRIMARY KEY (workspace_id, scope_id, origin_id)
        );
        """
    )


MIGRATIONS: list[Migration] = [
    ("001_entities", _m001_entities),
    ("002_reasoning", _m002_reasoning),
    ("003_summaries", _m003_summaries),
    ("004_consolidation", _m004_consolidation),
    ("005_message_embeddings", _m005_message_embeddings),
    ("006_store_meta", _m006_store_meta),
    ("007_index_sync", _m007_index_sync),
    ("008_lease_owners", _m008_lease_owners),
    ("009_peer_cards", _m009_peer_cards),
    ("010_scopes", _m010_scopes),
]


def applied_migrations(conn: duckdb.DuckDBPyConnection) -> set[str] | None:
    """The names recorded in the file, or None for a file with no honcho schema yet."""
    import duckdb

    # asked directly: information_schema costs a cold process ~18 ms of CPU, this ~2 ms
    try:
        return {row[0] for row in conn.execute("SELECT name FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        return None


def unknown_migrations(conn: duckdb.DuckDBPyConnection, applied: set[str] | None = None) -> list[str]:
    """Steps recorded by a newer honcho: this version must not write to such a store.
    `applied`: what applied_migrations already read from this connection."""
    known = {name for name, _ in MIGRATIONS}
    return sorted((applied if applied is not None else applied_migrations(conn) or set()) - known)


def pending_migrations(conn: duckdb.DuckDBPyConnection, applied: set[str] | None = None) -> list[Migration]:
    done = applied if applied is not None else applied_migrations(conn)
    if done is None:
        return list(MIGRATIONS)
    return [m for m in MIGRATIONS if m[0] not in done]


def apply_migrations(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply what is missing, each step in its own transaction with its record."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    applied = []
    for name, step in pending_migrations(conn):
        conn.execute("BEGIN TRANSACTION")
        try:
            step(conn)
            conn.execute("INSERT INTO schema_migrations VALUES (?, now())", [name])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(name)
    return applied
