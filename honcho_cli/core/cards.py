"""Peer cards set by hand: the SDK's `Peer.set_card`, kept per view.

A view's card is normally derived (its most reinforced conclusions); a card set here
replaces that for the view until it is set again, and an empty one goes back to the
derived card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from honcho_cli.core.validation import utcnow
from honcho_cli.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb

MAX_FACTS = 100
MAX_FACT_CHARS = 2_000


def check_card(card: Any) -> list[str]:
    if not isinstance(card, list) or not all(isinstance(fact, str) for fact in card):
        raise InvalidInput("a peer card is a list of strings", field="peer_card")
    if len(card) > MAX_FACTS:
        raise InvalidInput(f"a peer card holds at most {MAX_FACTS} facts, got {len(card)}", field="peer_card")
    for fact in card:
        if not fact.strip() or len(fact) > MAX_FACT_CHARS:
            raise InvalidInput(f"each fact of a peer card has 1-{MAX_FACT_CHARS:,} characters", field="peer_card")
    return card


def set_card(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str, card: list[str]) -> None:
    check_card(card)
    if not card:
        conn.execute("DELETE FROM peer_cards WHERE workspace_id = ? AND observer = ? AND observed = ?",
                     [workspace_id, observer, observed])
        return
    conn.execute(
        "INSERT INTO peer_cards VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id, observer, observed) "
        "DO UPDATE SET card = excluded.card, updated_at = excluded.updated_at",
        [workspace_id, observer, observed, card, utcnow()],
    )


def get_card(conn: duckdb.DuckDBPyConnection, workspace_id: str, observer: str, observed: str) -> list[str] | None:
    row = conn.execute(
        "SELECT card FROM peer_cards WHERE workspace_id = ? AND observer = ? AND observed = ?",
        [workspace_id, observer, observed],
    ).fetchone()
    return list(row[0]) if row else None
