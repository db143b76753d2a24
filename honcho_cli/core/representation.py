"""Representations: a chosen subset of one collection, rendered from the observer's vantage point.

Without a target, the collection is (peer, peer): everything honcho concluded about
the peer across all sessions. With a target it is (peer, target): only what the peer
witnessed. The selection blends semantic hits for a query, the most reinforced
conclusions when asked, and the most recent to fill, like the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honcho_cli.core.conclusions import Conclusion, conclusions_by_ids, recent_conclusions, top_conclusions
from honcho_cli.core.entities import Message
from honcho_cli.core.messages import MESSAGE_SELECT, message_from_row
from honcho_cli.core.validation import check_range
from honcho_cli.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb

DEFAULT_MAX_CONCLUSIONS = 25
LEVEL_TITLES = {
    "explicit": "What was said",
    "deductive": "What follows from it",
    "inductive": "Patterns",
    "contradiction": "Contradictions",
}


@dataclass
class RepresentationQuery:
    observer: str
    observed: str
    session_id: str | None = None
    search_query: str | None = None
    search_top_k: int | None = None
    search_max_distance: float | None = None
    include_most_frequent: bool = False
    max_conclusions: int = DEFAULT_MAX_CONCLUSIONS

    def check(self) -> None:
        check_range("search_top_k", self.search_top_k, 1, 100)
        check_range("max_conclusions", self.max_conclusions, 1, 100)
        check_range("search_max_distance", self.search_max_distance, 0.0, 1.0)
        if self.search_query is not None and not self.search_query.strip():
            raise InvalidInput("search query is empty", field="search_query")
        if self.search_query is None and (self.search_top_k is not None or self.search_max_distance is not None):
            raise InvalidInput("--search-top-k and --search-max-distance need --search-query", field="search_query")

    @property
    def semantic_budget(self) -> int:
        """top_k when given, else a third of the cap (at least one)."""
        if self.search_top_k is not None:
            return min(self.search_top_k, self.max_conclusions)
        return max(1, self.max_conclusions // 3)


@dataclass
class Representation:
    observer: str
    observed: str
    conclusions: list[Conclusion]
    session_id: str | None = None
    hint: str | None = None
    sessions: list[str] = field(default_factory=list)
    quoted: list[Message] = field(default_factory=list)  # said in this view, with no conclusion drawn from it

    @property
    def is_self_view(self) -> bool:
        return self.observer == self.observed

    def markdown(self) -> str:
        """Grouped by level; a directional view says whose eyes it is seen through."""
        if self.is_self_view:
            title = f"# What is known about {self.observed}"
        else:
            title = f"# {self.observer}'s view of {self.observed}"
        lines = [title]
        if not self.is_self_view and self.sessions:
            lines.append(f"_Only from what {self.observer} witnessed, in: {', '.join(self.sessions)}._")
        if not self.conclusions and not self.quoted:
            lines.append("")
            lines.append("Nothing is known yet." + (f" {self.hint}" if self.hint else ""))
            return "\n".join(lines)
        for level, heading in LEVEL_TITLES.items():
            group = [c for c in self.conclusions if c.level == level]
            if not group:
                continue
            lines.append("")
            lines.append(f"## {heading}")
            for c in group:
                lines.append(f"- {render_conclusion(c)}")
        if self.quoted:
            lines.append("")
            lines.append(f"## In {self.observed}'s own words (quoted: no conclusion was drawn from these)")
            for m in self.quoted:
                lines.append(f"- {render_quote(m, self.observer, self.observed)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "observer": self.observer,
            "observed": self.observed,
            "representation": self.markdown(),
            "conclusions": [c.to_dict() for c in self.conclusions],
        }
        if self.quoted:
            out["quoted_messages"] = [m.to_dict() for m in self.quoted]
        if self.hint:
            out["hint"] = self.hint
        return out


def render_conclusion(c: Conclusion) -> str:
    """One line: the statement, where and when it was witnessed, and how often it was seen."""
    text = c.content[:1].upper() + c.content[1:]
    where = []
    if c.observer != c.observed and c.session_id:
        where.append(f"{c.observer} heard this in {c.session_id}")
    elif c.session_id:
        where.append(c.session_id)
    where.append(c.created_at.strftime("%Y-%m-%d"))
    suffix = f" ({', '.join(where)}"
    if c.times_derived > 1:
        suffix += f"; seen {c.times_derived} times"
    return text + suffix + ")"


def render_quote(m: Message, observer: str, observed: str) -> str:
    """A message quoted as it was said, with where and when (and by whose ears, in a directional view)."""
    where = f"{observer} heard this in {m.session_id}" if observer != observed else m.session_id
    return f'"{" ".join(m.content.split())}" ({where}, {m.created_at.strftime("%Y-%m-%d")})'


def uncovered_messages(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str, *,
    session_id: str | None = None, limit: int = 20,
) -> list[Message]:
    """The observed peer's messages in this view, reasoned over, that gave no conclusion: newest first.

    What the model missed stays findable: the representation quotes them, marked as quotes.
    """
    select_m = ", ".join("m." + c.strip() for c in MESSAGE_SELECT.split(","))
    session_clause = "AND m.session_id = ?" if session_id is not None else ""
    params = [workspace_id, observer, observed] + ([session_id] if session_id is not None else []) + [limit]
    rows = conn.execute(
        f"""SELECT {select_m} FROM message_witnesses w
            JOIN messages m ON m.workspace_id = w.workspace_id AND m.id = w.message_id
            JOIN deriver_queue q ON q.workspace_id = m.workspace_id AND q.message_id = m.id
            WHERE w.workspace_id = ? AND w.observer = ? AND w.observed = ?
              AND q.status = 'completed' AND q.facts_extracted = 0 {session_clause}
            ORDER BY m.inserted_at DESC LIMIT ?""",
        params,
    ).fetchall()
    return [message_from_row(r) for r in rows]


def select(
    conn: duckdb.DuckDBPyConnection,
    workspace_id: str,
    query: RepresentationQuery,
    semantic_hits: list[tuple[str, float]] | None,
) -> list[Conclusion]:
    """Blend semantic hits, the most reinforced (if asked) and the most recent, without repeats."""
    cap = query.max_conclusions
    chosen: dict[str, Conclusion] = {}
    scope = dict(observer=query.observer, observed=query.observed, session_id=query.session_id)
    if semantic_hits:
        distances = dict(semantic_hits)
        found = {c.id: c for c in conclusions_by_ids(conn, workspace_id, list(distances), **scope)}
        for conclusion_id, distance in semantic_hits[: query.semantic_budget]:
            if conclusion_id in found:
                found[conclusion_id].distance = round(distance, 6)
                chosen[conclusion_id] = found[conclusion_id]
    if query.search_query is not None and query.search_max_distance is not None:
        # a distance cap means "only what is close enough": do not pad with unrelated rows
        return list(chosen.values())[:cap]
    if query.include_most_frequent and len(chosen) < cap:
        share = max(1, cap // 3)
        for c in top_conclusions(conn, workspace_id, "frequent", limit=share + len(chosen), **scope):
            if len(chosen) >= cap or share <= 0:
                break
            if c.id not in chosen:
                chosen[c.id] = c
                share -= 1
    if len(chosen) < cap:
        for c in recent_conclusions(conn, workspace_id, limit=cap, **scope):
            if len(chosen) >= cap:
                break
            chosen.setdefault(c.id, c)
    return list(chosen.values())


def view_sessions(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str, chosen: list[Conclusion]
) -> list[str]:
    """The sessions a directional view is drawn from, for its header line.

    With conclusions, the sessions they come from (every one of them witnessed by the
    observer). Only an empty view asks the store which sessions the observer witnessed:
    that join grows with the messages (30 ms at 500k), too slow for every read.
    """
    if observer == observed:
        return []
    if chosen:
        return sorted({c.session_id for c in chosen if c.session_id})
    return witnessed_sessions(conn, workspace_id, observer, observed)


def witnessed_sessions(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str) -> list[str]:
    """Sessions whose messages from `observed` reached the observer's view."""
    rows = conn.execute(
        """SELECT DISTINCT m.session_id FROM message_witnesses w JOIN messages m ON m.id = w.message_id
           WHERE w.workspace_id = ? AND w.observer = ? AND w.observed = ? ORDER BY 1""",
        [workspace_id, observer, observed],
    ).fetchall()
    return [r[0] for r in rows]


def empty_view_hint(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str) -> str | None:
    """Why a directional view may be empty, in terms the user can act on."""
    if observer == observed:
        return "Add messages from this peer, then run `honcho deriver run`."
    shared = conn.execute(
        """SELECT count(*) FROM session_peer_config c
           WHERE c.workspace_id = ? AND c.peer_id = ? AND c.observe_others
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = c.workspace_id
                         AND m.session_id = c.session_id AND m.peer_id = ?)""",
        [workspace_id, observer, observed],
    ).fetchone()[0]
    if not shared:
        return (
            f"{observer} does not observe others in any session with {observed}: "
            f"`honcho session set-peer-config SESSION {observer} --observe-others` (applies to later messages)."
        )
    pending = conn.execute(
        """SELECT count(*) FROM deriver_queue q JOIN message_witnesses w
             ON w.workspace_id = q.workspace_id AND w.message_id = q.message_id
           WHERE q.workspace_id = ? AND w.observer = ? AND w.observed = ? AND q.status IN ('pending', 'in_progress')""",
        [workspace_id, observer, observed],
    ).fetchone()[0]
    if pending:
        return f"{pending} message(s) are waiting for the deriver: run `honcho deriver run`."
    return None
