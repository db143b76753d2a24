"""Workspaces separate everything; deleting one (or a session) cascades, but only when asked."""

from __future__ import annotations

import duckdb

from helpers import table_counts


def _fill(client, session="s"):
    client.create_peer("alice")
    client.create_peer("bob")
    client.create_session(session, peers=["alice", "bob"])
    client.set_peer_config(session, "alice", observe_others=True)
    client.add_message(session, "bob", "one")
    client.add_message(session, "alice", "two")


def _rows_in_workspace(h, workspace: str) -> dict[str, int]:
    tables = ("peers", "sessions", "memberships", "session_peer_config", "messages", "message_witnesses", "deriver_queue")
    with h.store.read() as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE workspace_id = ?", [workspace]).fetchone()[0] for t in tables}


def test_workspaces_keep_peers_sessions_and_messages_apart(run_cli, h):
    assert run_cli("workspace", "create", "team").code == 0
    assert run_cli("-w", "team", "peer", "create", "alice").code == 0
    assert run_cli("peer", "create", "alice", "--metadata", '{"where": "default"}').code == 0
    assert run_cli("peer", "inspect", "alice", "-w", "team").out["metadata"] == {}
    assert run_cli("peer", "inspect", "alice", env={"HONCHO_WORKSPACE_ID": "team"}).out["metadata"] == {}
    assert run_cli("peer", "inspect", "alice").out["metadata"] == {"where": "default"}
    assert {w["id"] for w in run_cli("workspace", "list").out} == {"default", "team"}


def test_workspace_delete_needs_yes_and_dry_run_deletes_nothing(run_cli, h):
    h.create_workspace("team")
    _fill(h.in_workspace("team"))
    before = table_counts(h)

    result = run_cli("workspace", "delete", "team")
    assert result.code == 4 and result.error_code == "CONFIRMATION_REQUIRED"
    assert table_counts(h) == before

    code, report, _ = run_cli("workspace", "delete", "team", "--dry-run")
    assert code == 0
    assert report["dry_run"] is True
    assert report["deleted"]["peers"] == 2 and report["deleted"]["sessions"] == 1 and report["deleted"]["messages"] == 2
    assert table_counts(h) == before


def test_workspace_delete_cascades_through_everything_in_it_and_nothing_else(run_cli, h):
    h.create_workspace("team")
    _fill(h.in_workspace("team"))
    _fill(h)
    default_before = _rows_in_workspace(h, "default")

    code, report, _ = run_cli("workspace", "delete", "team", "--yes")
    assert code == 0 and report["dry_run"] is False and report["deleted"]["messages"] == 2

    assert all(count == 0 for count in _rows_in_workspace(h, "team").values())
    assert _rows_in_workspace(h, "default") == default_before
    assert [w["id"] for w in run_cli("workspace", "list").out] == ["default"]
    result = run_cli("-w", "team", "peer", "list")
    assert result.code == 3 and result.error_code == "WORKSPACE_NOT_FOUND"


def test_deleting_the_default_workspace_empties_it(run_cli, h):
    _fill(h)
    assert run_cli("workspace", "delete", "default", "--yes").code == 0
    assert all(count == 0 for count in _rows_in_workspace(h, "default").values())
    assert run_cli("peer", "list").out == []
    assert run_cli("peer", "create", "alice").code == 0  # still usable


def test_session_delete_needs_yes_and_cascades_to_its_messages_and_history(run_cli, h):
    _fill(h, "s")
    _fill(h, "keep")  # same peers, another session
    h.remove_peers("s", ["bob"])
    before = table_counts(h)

    result = run_cli("session", "delete", "s")
    assert result.code == 4 and result.error_code == "CONFIRMATION_REQUIRED"
    code, report, _ = run_cli("session", "delete", "s", "--dry-run")
    assert code == 0 and report["deleted"]["messages"] == 2
    assert table_counts(h) == before

    assert run_cli("session", "delete", "s", "--yes").code == 0
    assert [s.id for s in h.list_sessions()] == ["keep"]
    with h.store.read() as conn:
        for table in ("messages", "memberships", "session_peer_config", "deriver_queue"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE session_id = 's'").fetchone()[0] == 0, table
        orphans = conn.execute(
            "SELECT count(*) FROM message_witnesses w WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = w.message_id)"
        ).fetchone()[0]
        assert orphans == 0
    assert [m.content for m in h.list_messages("keep")] == ["one", "two"]
    assert {p.id for p in h.list_peers()} == {"alice", "bob"}  # peers outlive sessions
    assert run_cli("session", "inspect", "s").code == 3


def test_a_store_from_an_older_version_is_migrated_on_open(data_dir):
    from honcho_cli import Honcho
    from honcho_cli.store.migrations import MIGRATIONS

    data_dir.mkdir(parents=True)
    conn = duckdb.connect(str(data_dir / "honcho.duckdb"))
    conn.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    first_name, first_step = MIGRATIONS[0]
    first_step(conn)  # a store made by the first release: only the first migration
    conn.execute("INSERT INTO schema_migrations VALUES (?, now())", [first_name])
    conn.execute("INSERT INTO workspaces VALUES ('default', '{}', now())")
    conn.execute("INSERT INTO peers VALUES ('default', 'alice', '{}', TRUE, now())")
    conn.close()

    h = Honcho(data_dir=data_dir)
    assert [p.id for p in h.list_peers()] == ["alice"]  # a read upgrades and keeps the data
    h.create_session("s", peers=["alice"])
    h.add_message("s", "alice", "written after the upgrade")  # needs the later tables
    with h.store.read() as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
    assert applied == sorted(name for name, _ in MIGRATIONS)
