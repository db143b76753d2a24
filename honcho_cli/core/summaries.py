"""Session summaries: a short one every 20 messages and a long one every 60, each rolling.

A summary covering messages 1..N is written once N messages exist; the next one
folds the previous summary and the newer messages together, so the model never
reads more than one interval of messages at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from honcho_cli.core.entities import Message, Record
from honcho_cli.core.messages import MESSAGE_SELECT, estimate_tokens, message_from_row
from honcho_cli.core.validation import utcnow

if TYPE_CHECKING:
    import duckdb

INTERVALS = {"short": 20, "long": 60}


@dataclass
class Summary(Record):
    session_id: str
    kind: str
    seq_covered: int
    last_message_id: str
    content: str
    token_count: int
    created_at: datetime


@dataclass
class SummaryJob:
    """One summary to write: the previous one of its kind and the messages since."""

    workspace_id: str
    session_id: str
    kind: str
    upto_seq: int
    previous: Summary | None
    messages: list[Message]


def latest(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str, kind: str) -> Summary | None:
    row = conn.execute(
        """SELECT session_id, kind, seq_covered, last_message_id, content, token_count, created_at
           FROM session_summaries WHERE workspace_id = ? AND session_id = ? AND kind = ?
           ORDER BY seq_covered DESC LIMIT 1""",
        [workspace_id, session_id, kind],
    ).fetchone()
    return Summary(*row) if row else None


def list_summaries(conn: duckdb.DuckDBPyConnection, workspace_id: str, session_id: str) -> dict[str, Summary | None]:
    return {kind: latest(conn, workspace_id, session_id, kind) for kind in INTERVALS}


def due_jobs(conn: duckdb.DuckDBPyConnection, workspace_id: str | None = None, limit: int = 4) -> list[SummaryJob]:
    """Summaries whose next interval of messages is complete, oldest sessions first."""
    clause, params = ("", []) if workspace_id is None else ("WHERE workspace_id = ?", [workspace_id])
    kinds = ", ".join(f"('{kind}', {every})" for kind, every in INTERVALS.items())
    due = conn.execute(
        f"""WITH tops AS (SELECT workspace_id, session_id, max(seq_in_session) AS top FROM messages {clause} GROUP BY ALL),
                 done AS (SELECT workspace_id, session_id, kind, max(seq_covered) AS covered
                          FROM session_summaries GROUP BY ALL),
                 kinds AS (SELECT * FROM (VALUES {kinds}) k(kind, every))
            SELECT t.workspace_id, t.session_id, k.kind, coalesce(d.covered, 0), k.every
            FROM tops t CROSS JOIN kinds k LEFT JOIN done d
              ON d.workspace_id = t.workspace_id AND d.session_id = t.session_id AND d.kind = k.kind
            WHERE coalesce(d.covered, 0) + k.every <= t.top
            ORDER BY 1, 2, 3 LIMIT {int(limit)}""",
        params,
    ).fetchall()
    jobs: list[SummaryJob] = []
    for ws, session_id, kind, covered, every in due:
        rows = conn.execute(
            f"""SELECT {MESSAGE_SELECT} FROM messages WHERE workspace_id = ? AND session_id = ?
                AND seq_in_session > ? AND seq_in_session <= ? ORDER BY seq_in_session""",
            [ws, session_id, covered, covered + every],  # one interval at a time keeps each prompt small
        ).fetchall()
        previous = latest(conn, ws, session_id, kind)
        jobs.append(SummaryJob(ws, session_id, kind, covered + every, previous, [message_from_row(r) for r in rows]))
    return jobs


def save(conn: duckdb.DuckDBPyConnection, job: SummaryJob, content: str) -> Summary:
    last = job.messages[-1].id
    now = utcnow()
    conn.execute(
        """INSERT INTO session_summaries VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING""",
        [job.workspace_id, job.session_id, job.kind, job.upto_seq, last, content, estimate_tokens(content), now],
    )
    return Summary(job.session_id, job.kind, job.upto_seq, last, content, estimate_tokens(content), now)
