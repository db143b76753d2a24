"""The durable deriver queue: claiming work units under a lease, finishing or releasing them.

A work unit is a run of consecutive pending messages from one sender in one session
that share the same witnesses, so whatever is extracted from it may go to exactly
those observers' collections. The unit also carries the surrounding messages of the
other members as context, but only those that every one of its observers was
present for: what an observer did not witness never reaches its view.

Units are claimed with a lease inside a short transaction; the model then works with
the database closed. A worker that dies leaves its lease to expire and the unit is
claimed again; a worker that lost its lease finds out at commit and writes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from honcho_cli.core.entities import Message
from honcho_cli.core.messages import MESSAGE_SELECT, message_from_row
from honcho_cli.core.validation import utcnow

if TYPE_CHECKING:
    import duckdb

TOKEN_BUDGET = 1024  # the reference feeds about this much per batch
MAX_MESSAGES = 16
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 3


@dataclass
class WorkUnit:
    workspace_id: str
    session_id: str
    observed: str
    observers: list[str]
    messages: list[Message]
    context: list[Message]
    lease_owner: str
    attempt: int
    session_peers: list[str] = field(default_factory=list)

    @property
    def message_ids(self) -> list[str]:
        return [m.id for m in self.messages]

    @property
    def tokens(self) -> int:
        return sum(m.token_count for m in self.messages)


def new_worker_id() -> str:
    return "worker-" + secrets.token_hex(4)


def _claimable(alias: str = "q") -> str:
    return f"({alias}.status = 'pending' OR ({alias}.status = 'in_progress' AND {alias}.lease_until < ?))"


def _witnesses(conn: duckdb.DuckDBPyConnection, workspace_id: str, message_ids: list[str]) -> dict[str, frozenset[str]]:
    rows = conn.execute(
        "SELECT message_id, list(observer ORDER BY observer) FROM message_witnesses "
        "WHERE workspace_id = ? AND list_contains(?, message_id) GROUP BY message_id",
        [workspace_id, message_ids],
    ).fetchall()
    return {r[0]: frozenset(r[1]) for r in rows}


def _present_for_all(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, observers: list[str], candidates: list[tuple]
) -> list[tuple]:
    """Keep the context messages that every observer was a member for when they were written."""
    stints = conn.execute(
        "SELECT peer_id, joined_at, left_at FROM memberships WHERE workspace_id = ? AND session_id = ? AND list_contains(?, peer_id)",
        [workspace_id, session_id, observers],
    ).fetchall()

    def present(peer: str, at: datetime) -> bool:
        return any(p == peer and joined <= at and (left is None or left > at) for p, joined, left in stints)

    return [row for row in candidates if all(present(o, row[-1]) for o in observers)]


def claim_unit(
    conn: duckdb.DuckDBPyConnection,
    worker: str,
    *,
    workspace_id: str | None = None,
    message_ids: list[str] | None = None,
    token_budget: int = TOKEN_BUDGET,
) -> WorkUnit | None:
    """Lease the oldest claimable unit (optionally among given messages), or None."""
    now = utcnow()
    filters, params = [_claimable()], [now]
    if workspace_id is not None:
        filters.append("q.workspace_id = ?")
        params.append(workspace_id)
    if message_ids is not None:
        filters.append("list_contains(?, q.message_id)")
        params.append(message_ids)
    first = conn.execute(
        f"""SELECT q.workspace_id, q.session_id, q.observed, m.seq_in_session
            FROM deriver_queue q JOIN messages m ON m.id = q.message_id
            WHERE {' AND '.join(filters)}
            ORDER BY m.inserted_at, m.seq_in_session LIMIT 1""",
        params,
    ).fetchone()
    if first is None:
        return None
    ws, session_id, observed, first_seq = first
    rows = conn.execute(
        f"""SELECT {', '.join('m.' + c.strip() for c in MESSAGE_SELECT.split(','))}, q.attempts
            FROM deriver_queue q JOIN messages m ON m.id = q.message_id
            WHERE q.workspace_id = ? AND q.session_id = ? AND q.observed = ? AND m.seq_in_session >= ?
              AND {_claimable()}
            ORDER BY m.seq_in_session LIMIT {MAX_MESSAGES}""",
        [ws, session_id, observed, first_seq, now],
    ).fetchall()
    witnesses = _witnesses(conn, ws, [r[0] for r in rows])
    unit_rows: list[tuple] = []
    observers: frozenset[str] | None = None
    tokens = 0
    for row in rows:
        message_witnesses = witnesses.get(row[0], frozenset())
        if observers is None:
            observers = message_witnesses
        elif message_witnesses != observers or tokens + row[8] > token_budget:
            break
        unit_rows.append(row)
        tokens += row[8]
    chosen = [message_from_row(r[:9]) for r in unit_rows]
    attempt = max(r[9] for r in unit_rows) + 1
    ids = [m.id for m in chosen]
    conn.execute(
        """UPDATE deriver_queue SET status = 'in_progress', lease_owner = ?, lease_until = ?,
               attempts = attempts + 1, updated_at = ?
           WHERE workspace_id = ? AND list_contains(?, message_id)""",
        [worker, now + LEASE, now, ws, ids],
    )
    observer_list = sorted(observers or ())
    context_rows = conn.execute(
        f"""SELECT {MESSAGE_SELECT}, inserted_at FROM messages
            WHERE workspace_id = ? AND session_id = ? AND seq_in_session BETWEEN ? AND ?
              AND NOT list_contains(?, id)
            ORDER BY seq_in_session""",
        [ws, session_id, chosen[0].seq_in_session - 1, chosen[-1].seq_in_session, ids],
    ).fetchall()
    context = [message_from_row(r[:9]) for r in _present_for_all(conn, ws, session_id, observer_list, context_rows)]
    members = conn.execute(
        "SELECT DISTINCT peer_id FROM memberships WHERE workspace_id = ? AND session_id = ? ORDER BY peer_id", [ws, session_id]
    ).fetchall()
    return WorkUnit(
        workspace_id=ws, session_id=session_id, observed=observed, observers=observer_list, messages=chosen,
        context=context, lease_owner=worker, attempt=attempt, session_peers=[r[0] for r in members],
    )


def unfinished(conn: duckdb.DuckDBPyConnection, message_ids: list[str]) -> int:
    """How many of these messages still wait for, or are under, reasoning."""
    return conn.execute(
        "SELECT count(*) FROM deriver_queue WHERE list_contains(?, message_id) AND status IN ('pending', 'in_progress')",
        [message_ids],
    ).fetchone()[0]


def still_leased(conn: duckdb.DuckDBPyConnection, unit: WorkUnit) -> bool:
    """True when every message of the unit is still ours; otherwise someone reclaimed it."""
    held = conn.execute(
        """SELECT count(*) FROM deriver_queue WHERE workspace_id = ? AND list_contains(?, message_id)
           AND status = 'in_progress' AND lease_owner = ?""",
        [unit.workspace_id, unit.message_ids, unit.lease_owner],
    ).fetchone()[0]
    return held == len(unit.messages)


def finish_unit(conn: duckdb.DuckDBPyConnection, unit: WorkUnit, *, extracted: int, dropped: int) -> None:
    """Mark the unit done; its fact counts are kept on its first message so sums stay exact."""
    now = utcnow()
    conn.execute(
        """UPDATE deriver_queue SET status = 'completed', lease_owner = NULL, lease_until = NULL, error = NULL,
               facts_extracted = CASE WHEN message_id = ? THEN ? ELSE 0 END,
               facts_dropped = CASE WHEN message_id = ? THEN ? ELSE 0 END, updated_at = ?
           WHERE workspace_id = ? AND list_contains(?, message_id) AND lease_owner = ?""",
        [unit.message_ids[0], extracted, unit.message_ids[0], dropped, now, unit.workspace_id, unit.message_ids,
         unit.lease_owner],
    )


def release_unit(conn: duckdb.DuckDBPyConnection, unit: WorkUnit, error: str, *, max_attempts: int = MAX_ATTEMPTS) -> str:
    """Give the unit back after a failure: pending to retry, or failed with the reason."""
    status = "failed" if unit.attempt >= max_attempts else "pending"
    conn.execute(
        """UPDATE deriver_queue SET status = ?, lease_owner = NULL, lease_until = NULL, error = ?, updated_at = ?
           WHERE workspace_id = ? AND list_contains(?, message_id) AND lease_owner = ?""",
        [status, error[:2000], utcnow(), unit.workspace_id, unit.message_ids, unit.lease_owner],
    )
    return status


def retry_failed(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> int:
    """Put failed items back in the queue with a fresh attempt count."""
    count = conn.execute(
        "SELECT count(*) FROM deriver_queue WHERE workspace_id = ? AND status = 'failed'", [workspace_id]
    ).fetchone()[0]
    conn.execute(
        "UPDATE deriver_queue SET status = 'pending', attempts = 0, updated_at = ? WHERE workspace_id = ? AND status = 'failed'",
        [utcnow(), workspace_id],
    )
    return count


def queue_status(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    *,
    observer: str | None = None,
    sender: str | None = None,
    session_id: str | None = None,
) -> dict[str, Any]:
    """Counts shaped like the reference's queue status, plus what grounding dropped.

    With `observer`, a work item is one (message, observer) pair, as in the reference;
    otherwise one per message, since extraction runs once for all its observers.
    """
    clauses, params = ["q.workspace_id = ?"], [workspace_id]
    source = "deriver_queue q"
    if observer is not None:
        source += " JOIN message_witnesses w ON w.workspace_id = q.workspace_id AND w.message_id = q.message_id"
        clauses.append("w.observer = ?")
        params.append(observer)
    if sender is not None:
        clauses.append("q.observed = ?")
        params.append(sender)
    if session_id is not None:
        clauses.append("q.session_id = ?")
        params.append(session_id)
    where = " AND ".join(clauses)
    row = conn.execute(
        f"""SELECT count(*),
                   count(*) FILTER (WHERE q.status = 'completed'),
                   count(*) FILTER (WHERE q.status = 'in_progress'),
                   count(*) FILTER (WHERE q.status = 'pending'),
                   count(*) FILTER (WHERE q.status = 'failed'),
                   coalesce(sum(q.facts_extracted), 0),
                   coalesce(sum(q.facts_dropped), 0)
            FROM {source} WHERE {where}""",
        params,
    ).fetchone()
    failures = conn.execute(
        f"""SELECT q.message_id, q.session_id, q.observed, q.attempts, q.error FROM {source}
            WHERE {where} AND q.status = 'failed' ORDER BY q.updated_at DESC LIMIT 10""",
        params,
    ).fetchall()
    by_session = conn.execute(
        f"""SELECT q.session_id, count(*), count(*) FILTER (WHERE q.status = 'completed'),
                   count(*) FILTER (WHERE q.status = 'in_progress'), count(*) FILTER (WHERE q.status = 'pending'),
                   count(*) FILTER (WHERE q.status = 'failed')
            FROM {source} WHERE {where} GROUP BY q.session_id ORDER BY q.session_id""",
        params,
    ).fetchall()
    return {
        "total_work_units": row[0],
        "completed_work_units": row[1],
        "in_progress_work_units": row[2],
        "pending_work_units": row[3],
        "failed_work_units": row[4],
        "facts_stored": int(row[5]),
        "facts_dropped_unsupported": int(row[6]),
        "sessions": {
            r[0]: {
                "total_work_units": r[1], "completed_work_units": r[2], "in_progress_work_units": r[3],
                "pending_work_units": r[4], "failed_work_units": r[5],
            }
            for r in by_session
        },
        "recent_failures": [
            {"message_id": f[0], "session_id": f[1], "sender": f[2], "attempts": f[3], "error": f[4]} for f in failures
        ],
    }
