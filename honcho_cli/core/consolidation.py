"""Choosing what a consolidation pass over one collection may read, and recording its result.

A pass over (observer, target) reads the target's conclusions in that view (the
primary premises) and, for each other peer those conclusions name, the observer's
view of that peer (secondary premises). Every premise is something the observer
witnessed, so a derived conclusion never carries what the observer did not see.
Derived conclusions are written only into (observer, target) and must rest on at
least one primary premise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from honcho_cli.core.conclusions import Conclusion, list_conclusions
from honcho_cli.core.validation import utcnow

if TYPE_CHECKING:
    import duckdb

MAX_PRIMARY = 30
MAX_SECONDARY = 10


@dataclass
class ConsolidationJob:
    workspace_id: str
    observer: str
    observed: str
    primary: list[Conclusion]
    secondary: list[Conclusion]

    @property
    def premises(self) -> list[Conclusion]:
        return self.primary + self.secondary


def due_collections(
    conn: duckdb.DuckDBPyConnection, workspace_id: str | None, *, min_new: int = 1
) -> list[tuple[str, str, str]]:
    """Collections with at least `min_new` explicit conclusions since their last pass."""
    clause, params = ("", []) if workspace_id is None else ("AND c.workspace_id = ?", [workspace_id])
    rows = conn.execute(
        f"""SELECT c.workspace_id, c.observer, c.observed FROM conclusions c
            LEFT JOIN collection_state s
              ON s.workspace_id = c.workspace_id AND s.observer = c.observer AND s.observed = c.observed
            WHERE c.level = 'explicit' AND c.deleted_at IS NULL
              AND (s.consolidated_at IS NULL OR c.updated_at > s.consolidated_at) {clause}
            GROUP BY ALL HAVING count(*) >= ? ORDER BY 1, 2, 3""",
        [*params, min_new],
    ).fetchall()
    return [tuple(r) for r in rows]


def build_job(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str) -> ConsolidationJob:
    primary = list_conclusions(conn, workspace_id, observer=observer, observed=observed, order="recent", limit=MAX_PRIMARY)
    text = " ".join(c.content for c in primary).lower()
    others = conn.execute(
        "SELECT DISTINCT observed FROM conclusions WHERE workspace_id = ? AND observer = ? AND observed <> ? AND deleted_at IS NULL",
        [workspace_id, observer, observed],
    ).fetchall()
    named = [r[0] for r in others if re.search(rf"\b{re.escape(r[0].lower())}\b", text)]
    secondary: list[Conclusion] = []
    for peer in named:
        secondary.extend(
            list_conclusions(conn, workspace_id, observer=observer, observed=peer, order="frequent", limit=MAX_SECONDARY)
        )
    return ConsolidationJob(workspace_id, observer, observed, primary, secondary[:MAX_SECONDARY])


def mark_consolidated(conn: duckdb.DuckDBPyConnection, job: ConsolidationJob) -> None:
    conn.execute(
        """INSERT INTO collection_state VALUES (?, ?, ?, ?)
           ON CONFLICT (workspace_id, observer, observed) DO UPDATE SET consolidated_at = excluded.consolidated_at""",
        [job.workspace_id, job.observer, job.observed, utcnow()],
    )
