"""The durable deriver queue: claiming work units under a lease, finishing or releasing them.

A work unit is a window of one session: consecutive messages of every speaker, read
by the model once. Who may learn from each message was fixed when it was written (its
witnesses); a fact taken from a line goes to exactly that line's witnesses, about that
line's speaker. The window never spans a change of who was present in the session, so
every observer of any line in it was there for all of its lines: nothing it did not
witness can reach its view through the surrounding text.

Units are claimed with a lease inside a short transaction; the model then works with
the database closed. The lease names its holder (host, process id, start token), and
every claim first gives back the units of holders that are certainly dead (same host,
process gone), so a killed worker's unit is taken over at once; a lease held by a live
process is renewed by a heartbeat while the model works, and one that stops being
renewed (a hung worker, or a holder on another host) expires after LEASE. A worker
that lost its lease finds out at commit and writes nothing. `attempts` counts the
failures of the model or its answers, never deaths (`abandoned` counts those).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from honcho_cli.core import liveness
from honcho_cli.core.entities import Message
from honcho_cli.core.messages import MESSAGE_SELECT, message_from_row
from honcho_cli.core.validation import utcnow

if TYPE_CHECKING:
    import duckdb

TOKEN_BUDGET = 1024  # the reference feeds about this much per batch
MAX_MESSAGES = 24
CONTEXT_BEFORE = 1  # earlier lines shown (not reasoned again) so the first line's reply has its question
LEASE = timedelta(seconds=60)  # renewed every HEARTBEAT while the model works
HEARTBEAT = timedelta(seconds=15)
MAX_ATTEMPTS = 3  # failures of the model or its answer before a unit is marked failed
ABANDON_LIMIT = 20  # workers dying on the same unit this often: a crash on this input, not bad luck


@dataclass
class WorkUnit:
    workspace_id: str
    session_id: str
    messages: list[Message]  # claimed: reasoned over now
    context: list[Message]  # shown beside them only: said just before, or never queued (nobody observes the sender)
    witnesses: dict[str, list[str]]  # claimed message id -> its observers, fixed when it was written
    lease_owner: str
    attempt: int
    session_peers: list[str] = field(default_factory=list)

    @property
    def message_ids(self) -> list[str]:
        return [m.id for m in self.messages]

    @property
    def tokens(self) -> int:
        return sum(m.token_count for m in self.messages)

    @property
    def speakers(self) -> list[str]:
        return sorted({m.peer_id for m in self.messages})

    @property
    def observers(self) -> list[str]:
        return sorted({o for observers in self.witnesses.values() for o in observers})

    @property
    def lines(self) -> list[Message]:
        """Everything the model reads, in the order it was said."""
        return sorted([*self.messages, *self.context], key=lambda m: m.seq_in_session)


def new_worker_id() -> str:
    return "worker-" + secrets.token_hex(4)


def _claimable(alias: str = "q") -> str:
    return f"({alias}.status = 'pending' OR ({alias}.status = 'in_progress' AND {alias}.lease_until < ?))"


def _witnesses(conn: duckdb.DuckDBPyConnection, workspace_id: str, message_ids: list[str]) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT message_id, list(observer ORDER BY observer) FROM message_witnesses "
        "WHERE workspace_id = ? AND list_contains(?, message_id) GROUP BY message_id",
        [workspace_id, message_ids],
    ).fetchall()
    return {r[0]: list(r[1]) for r in rows}


def _presence(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str):
    """who_was_there(instant): the members of the session at that instant."""
    stints = conn.execute(
        "SELECT peer_id, joined_at, left_at FROM memberships WHERE workspace_id = ? AND session_id = ?",
        [workspace_id, session_id],
    ).fetchall()

    def who_was_there(at: datetime) -> frozenset[str]:
        return frozenset(p for p, joined, left in stints if joined <= at and (left is None or left > at))

    return who_was_there


def claim_unit(
    conn: duckdb.DuckDBPyConnection,
    worker: str,
    *,
    workspace_id: str | None = None,
    message_ids: list[str] | None = None,
    token_budget: int = TOKEN_BUDGET,
) -> WorkUnit | None:
    """Lease the oldest claimable window (optionally among given messages), or None.

    The window starts at the oldest claimable message and runs on through its session
    while the same members are present, the messages are claimable (or were never
    queued), and the token budget allows; at least one message is always taken.
    """
    now = utcnow()
    free_dead_leases(conn, now)
    filters, params = [_claimable()], [now]
    if workspace_id is not None:
        filters.append("q.workspace_id = ?")
        params.append(workspace_id)
    if message_ids is not None:
        filters.append("list_contains(?, q.message_id)")
        params.append(message_ids)
    first = conn.execute(
        f"""SELECT q.workspace_id, q.session_id, m.seq_in_session
            FROM deriver_queue q JOIN messages m ON m.id = q.message_id
            WHERE {' AND '.join(filters)}
            ORDER BY m.inserted_at, m.seq_in_session LIMIT 1""",
        params,
    ).fetchone()
    if first is None:
        return None
    ws, session_id, first_seq = first
    select = ", ".join("m." + c.strip() for c in MESSAGE_SELECT.split(","))
    rows = conn.execute(
        f"""SELECT {select}, m.inserted_at, q.message_id IS NOT NULL, coalesce({_claimable()}, false), coalesce(q.attempts, 0)
            FROM messages m LEFT JOIN deriver_queue q ON q.workspace_id = m.workspace_id AND q.message_id = m.id
            WHERE m.workspace_id = ? AND m.session_id = ? AND m.seq_in_session >= ?
            ORDER BY m.seq_in_session LIMIT {MAX_MESSAGES + CONTEXT_BEFORE}""",
        [now, ws, session_id, first_seq - CONTEXT_BEFORE],
    ).fetchall()
    who_was_there = _presence(conn, ws, session_id)
    wanted = None if message_ids is None else set(message_ids)
    before = [r for r in rows if r[7] < first_seq]
    room = who_was_there(next(r[9] for r in rows if r[7] == first_seq))
    claimed: list[tuple] = []
    others: list[tuple] = []
    tokens = 0
    for row in (r for r in rows if r[7] >= first_seq):
        queued, claimable = row[10], row[11]
        if who_was_there(row[9]) != room:
            break  # someone joined or left: what follows is another audience
        if queued and (not claimable or (wanted is not None and row[0] not in wanted)):
            break  # held by another worker, already done, or not asked for
        if claimed and queued and tokens + row[8] > token_budget:
            break
        if queued:
            claimed.append(row)
            tokens += row[8]
        else:
            others.append(row)
    # lines after the last claimed one add nothing to reason about
    last_seq = claimed[-1][7]
    others = [r for r in others if r[7] < last_seq]
    context_rows = [r for r in before if who_was_there(r[9]) == room] + others
    ids = [r[0] for r in claimed]
    _lease(conn, worker, ws, ids, now)
    members = conn.execute(
        "SELECT DISTINCT peer_id FROM memberships WHERE workspace_id = ? AND session_id = ? ORDER BY peer_id", [ws, session_id]
    ).fetchall()
    return WorkUnit(
        workspace_id=ws, session_id=session_id,
        messages=[message_from_row(r[:9]) for r in claimed],
        context=[message_from_row(r[:9]) for r in context_rows],
        witnesses=_witnesses(conn, ws, ids),
        lease_owner=worker, attempt=max(r[12] for r in claimed) + 1, session_peers=[r[0] for r in members],
    )


_RELEASED = "lease_owner = NULL, lease_until = NULL, lease_host = NULL, lease_pid = NULL, lease_process = NULL"


def _lease(conn: duckdb.DuckDBPyConnection, worker: str, workspace_id: str, ids: list[str], now: datetime) -> None:
    """Take the messages under this process's name; one whose lease had expired was abandoned."""
    me = liveness.this_process()
    conn.execute(
        """UPDATE deriver_queue SET
               abandoned = coalesce(abandoned, 0) + CASE WHEN status = 'in_progress' THEN 1 ELSE 0 END,
               status = 'in_progress', lease_owner = ?, lease_until = ?, lease_host = ?, lease_pid = ?,
               lease_process = ?, updated_at = ?
           WHERE workspace_id = ? AND list_contains(?, message_id)""",
        [worker, now + LEASE, me.host, me.pid, me.process, now, workspace_id, ids],
    )


def free_dead_leases(conn: duckdb.DuckDBPyConnection, now: datetime | None = None) -> int:
    """Give back at once the units whose holder is certainly dead (core/liveness); returns how many items.

    Not a failure: `attempts` stays, `abandoned` counts it. A unit abandoned ABANDON_LIMIT
    times is marked failed instead, so a worker that crashes on it cannot loop forever.
    """
    holders = conn.execute(
        "SELECT DISTINCT lease_owner, lease_host, lease_pid, lease_process FROM deriver_queue WHERE status = 'in_progress'"
    ).fetchall()
    dead = [owner for owner, host, pid, process in holders if liveness.is_dead(host, pid, process)]
    if not dead:
        return 0
    why = f"ABANDONED: a worker died while reasoning over it {ABANDON_LIMIT} times (does this input crash it?)"
    return conn.execute(
        f"""UPDATE deriver_queue SET
               status = CASE WHEN coalesce(abandoned, 0) + 1 >= ? THEN 'failed' ELSE 'pending' END,
               error = CASE WHEN coalesce(abandoned, 0) + 1 >= ? THEN ? ELSE error END,
               abandoned = coalesce(abandoned, 0) + 1, {_RELEASED}, updated_at = ?
           WHERE status = 'in_progress' AND list_contains(?, lease_owner)""",
        [ABANDON_LIMIT, ABANDON_LIMIT, why, now or utcnow(), dead],
    ).fetchone()[0]


def renew_lease(conn: duckdb.DuckDBPyConnection, unit: WorkUnit) -> bool:
    """Push the lease's end LEASE ahead; False when the unit is no longer ours."""
    renewed = conn.execute(
        """UPDATE deriver_queue SET lease_until = ? WHERE workspace_id = ? AND list_contains(?, message_id)
           AND status = 'in_progress' AND lease_owner = ?""",
        [utcnow() + LEASE, unit.workspace_id, unit.message_ids, unit.lease_owner],
    ).fetchone()[0]
    return renewed > 0


@contextmanager
def keep_leased(store: Any, unit: WorkUnit, every: timedelta = HEARTBEAT) -> Iterator[None]:
    """While the body runs (the model at work, the store closed), renew the unit's lease
    every `every` from a thread. A failed renewal is tried again at the next beat: the
    commit checks the lease anyway, so the worst a missed beat costs is work done twice."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every.total_seconds()):
            try:
                with store.write() as conn:
                    if not renew_lease(conn, unit):
                        return
            except Exception:  # noqa: BLE001 - the store busy or full: the next beat tries again
                continue

    thread = threading.Thread(target=beat, name="honcho-lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def held_elsewhere(conn: duckdb.DuckDBPyConnection, workspace_id: str | None, *, besides: str | None = None) -> list[dict[str, Any]]:
    """Units in progress under a holder that is alive (or cannot be told dead): who, how many, until when."""
    clause, params = ("", []) if workspace_id is None else (" AND workspace_id = ?", [workspace_id])
    rows = conn.execute(
        f"""SELECT lease_owner, lease_host, lease_pid, lease_process, count(*), max(lease_until) FROM deriver_queue
            WHERE status = 'in_progress'{clause} GROUP BY ALL ORDER BY 6""",
        params,
    ).fetchall()
    return [
        {"worker": owner, "host": host, "pid": pid, "messages": count, "lease_until": until}
        for owner, host, pid, process, count, until in rows
        if owner != besides and not liveness.is_dead(host, pid, process)
    ]


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


def finish_unit(conn: duckdb.DuckDBPyConnection, unit: WorkUnit, *, extracted: dict[str, int], dropped: int) -> None:
    """Mark the unit done: each message keeps how many facts it gave (a message that gave none
    is quoted as it was said where its speaker's views are read); the unit's dropped count is
    kept on its first message so sums stay exact."""
    now = utcnow()
    counts = [extracted.get(message_id, 0) for message_id in unit.message_ids]
    conn.execute(
        f"""UPDATE deriver_queue SET status = 'completed', {_RELEASED}, error = NULL,
               facts_extracted = list_extract(?::INTEGER[], list_position(?, message_id)),
               facts_dropped = CASE WHEN message_id = ? THEN ? ELSE 0 END, updated_at = ?
           WHERE workspace_id = ? AND list_contains(?, message_id) AND lease_owner = ?""",
        [counts, unit.message_ids, unit.message_ids[0], dropped, now, unit.workspace_id, unit.message_ids,
         unit.lease_owner],
    )


def release_unit(conn: duckdb.DuckDBPyConnection, unit: WorkUnit, error: str, *, max_attempts: int = MAX_ATTEMPTS) -> str:
    """Give the unit back after a failure of the model or its answer (one more attempt):
    pending to retry, or failed with the reason."""
    status = "failed" if unit.attempt >= max_attempts else "pending"
    conn.execute(
        f"""UPDATE deriver_queue SET status = ?, attempts = attempts + 1, {_RELEASED}, error = ?, updated_at = ?
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
        "UPDATE deriver_queue SET status = 'pending', attempts = 0, abandoned = 0, updated_at = ? "
        "WHERE workspace_id = ? AND status = 'failed'",
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
                   coalesce(sum(q.facts_dropped), 0),
                   coalesce(sum(q.abandoned), 0)
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
        # times a worker died holding these items (taken over at once; not failures)
        "abandoned_by_dead_workers": int(row[7]),
        "held_by": [
            {**h, "lease_until": h["lease_until"].isoformat() if h["lease_until"] else None}
            for h in held_elsewhere(conn, workspace_id)
        ],
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
