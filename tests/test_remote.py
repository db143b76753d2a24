"""`honcho push` / `honcho pull` against real `honcho serve` processes, through the official SDK.

A store is pushed into a server, pulled from it into a second store, and that store is
served again: the two servers, and the two stores, are compared entity by entity. Push is
run twice (the second adds nothing) and killed mid-way (the rerun finishes without a
duplicate). The server runs without its reasoning worker, so everything it holds came
from the push.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from server_support import Server

from conftest import HONCHO

pytest.importorskip("honcho")
from honcho import Honcho as Remote  # noqa: E402

MODELS = {"HONCHO_MODEL": "test-double", "HONCHO_EMBEDDING_MODEL": "test-double"}


def build_source(h) -> None:
    """Settings, a member who joins late and one who leaves, times set by hand, reasoning,
    a tombstone, a card set by hand, a scope."""
    h.create_peer("alice", {"role": "host"})
    h.create_peer("bob", {"role": "guest"})
    h.create_peer("carol")
    h.create_peer("quiet", observe_me=False)
    h.create_session("dinner", ["alice", "bob", "quiet"], {"place": "York"})
    h.set_peer_config("dinner", "alice", observe_others=True)
    h.add_messages("dinner", [
        {"peer": "bob", "content": "I had pancakes for breakfast.", "created_at": "2024-05-01T08:00:00Z", "metadata": {"n": 1}},
        {"peer": "quiet", "content": "I never say much."},
    ])
    h.add_peers("dinner", ["carol"])
    h.set_peer_config("dinner", "carol", observe_others=True)
    h.add_message("dinner", "bob", "I work as a carpenter in Leeds.")
    h.remove_peers("dinner", ["bob"])
    h.add_message("dinner", "carol", "Bob has left; I collect stamps.")
    h.create_session("lunch", ["alice", "carol"])
    h.add_message("lunch", "alice", "I teach the violin on Tuesdays.")
    done = subprocess.run([*HONCHO, "deriver", "run"], env={**os.environ, **MODELS}, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    gone = [c for c in h.list_conclusions(observer="carol", observed="carol")]
    assert gone
    h.delete_conclusion(gone[0].id)
    h.set_peer_card("alice", ["alice hosts dinners", "alice teaches violin"])
    h.create_scope("meals", sessions=["dinner", "lunch"])


def store_entities(h) -> dict:
    """What must survive the trip, in terms both stores and servers can express."""
    sessions = sorted(s.id for s in h.list_sessions())
    return {
        "peers": sorted((p.id, tuple(sorted(p.metadata.items())), p.observe_me) for p in h.list_peers()),
        "sessions": [(s.id, s.metadata, sorted(s.peers)) for s in sorted(h.list_sessions(), key=lambda s: s.id)],
        "configs": {s: sorted((m.peer_id, h.get_peer_config(s, m.peer_id).observe_others) for m in h.session_peers(s)) for s in sessions},
        "messages": {s: [(m.peer_id, m.content, m.metadata, m.created_at) for m in h.list_messages(s)] for s in sessions},
        "conclusions": sorted((c.observer, c.observed, c.content, c.session_id) for c in h.list_conclusions()),
        "card": h.peer_card("alice")["card"],
        "scopes": {s.id: [x.id for x in h.scope_sessions(s.id)] for s in h.list_scopes()},
    }


def server_entities(url: str) -> dict:
    r = Remote(base_url=url, workspace_id="default", max_retries=0)
    sessions = sorted(list(r.sessions()), key=lambda s: s.id)
    return {
        "peers": sorted((p.id, p.metadata) for p in r.peers()),
        "sessions": [(s.id, s.metadata, sorted(p.id for p in s.peers())) for s in sessions],
        "messages": {s.id: [(m.peer_id, m.content, m.metadata, m.created_at) for m in s.messages(size=100)] for s in sessions},
        "conclusions": sorted((c.observer_id, c.observed_id, c.content, c.session_id) for c in r.conclusions.list(size=100)),
        "card": r.peer("alice").get_card(),
        "scopes": {s.id: [x.id for x in s.sessions()] for s in r.scopes()},
    }


@pytest.fixture
def source(h, monkeypatch):
    for key, value in MODELS.items():
        monkeypatch.setenv(key, value)
    build_source(h)
    return h


def test_push_then_pull_between_two_local_servers_round_trips(source, run_cli, tmp_path):
    first = Server(tmp_path / "x" / "data", tmp_path / "x" / "config", args=("--no-worker",))
    second = None
    try:
        pushed = run_cli("push", "--url", first.url)
        assert pushed.code == 0, pushed
        assert pushed.out["messages"] == 5 and pushed.out["cards"] == 1 and pushed.out["scopes"] == 1
        again = run_cli("push", "--url", first.url)
        assert again.code == 0, again
        assert (again.out["messages"], again.out["conclusions"], again.out["peers"], again.out["memberships"]) == (0, 0, 0, 0)
        assert again.out["skipped"]["messages"] == 5

        target = tmp_path / "b"
        env = {"HONCHO_DATA_DIR": str(target), **MODELS}
        pulled = run_cli("pull", "--url", first.url, env=env)
        assert pulled.code == 0, pulled
        assert pulled.out["messages"] == 5
        assert run_cli("pull", "--url", first.url, env=env).out["messages"] == 0

        from honcho_cli import Honcho

        moved = Honcho(data_dir=target)
        expected = store_entities(source)
        got = store_entities(moved)
        assert got["peers"] == expected["peers"]
        assert got["sessions"] == expected["sessions"]
        assert got["configs"] == expected["configs"]
        assert got["messages"] == expected["messages"]
        assert got["scopes"] == expected["scopes"]
        # every live conclusion arrived in its view; the tombstoned one did not
        assert got["conclusions"] == expected["conclusions"]
        assert got["card"] != expected["card"]  # a card set by hand is not pulled (the server's may be derived)

        second = Server(tmp_path / "y" / "data", tmp_path / "y" / "config", args=("--no-worker",),
                        env={"HONCHO_DATA_DIR": str(target)})
        a, b = server_entities(first.url), server_entities(second.url)
        assert a["card"] == ["alice hosts dinners", "alice teaches violin"]
        for key in ("peers", "sessions", "messages", "conclusions", "scopes"):
            assert a[key] == b[key], key
    finally:
        first.stop_cleanly()
        if second is not None:
            second.stop_cleanly()

    # the membership history was replayed in order: the server's witnesses match the source's
    def witnesses(h):
        with h.store.read() as conn:
            return sorted(conn.execute(
                """SELECT m.session_id, m.seq_in_session, w.observer FROM message_witnesses w
                   JOIN messages m ON m.id = w.message_id WHERE m.workspace_id = 'default'"""
            ).fetchall())

    server_store = Honcho(data_dir=tmp_path / "x" / "data")
    assert witnesses(server_store) == witnesses(source)
    stints = sorted((m.session_id, m.peer_id, m.left_at is None) for s in ("dinner", "lunch")
                    for m in server_store.session_peers(s, include_history=True))
    assert stints == sorted((m.session_id, m.peer_id, m.left_at is None) for s in ("dinner", "lunch")
                            for m in source.session_peers(s, include_history=True))


def test_a_push_killed_mid_way_resumes_without_duplicates(h, monkeypatch, tmp_path, run_cli):
    for key, value in MODELS.items():
        monkeypatch.setenv(key, value)
    h.create_peer("alice")
    h.create_session("long", ["alice"])
    total = 3000
    h.add_messages("long", [{"peer": "alice", "content": f"Message number {i}."} for i in range(total)])
    server = Server(tmp_path / "x" / "data", tmp_path / "x" / "config", args=("--no-worker",))
    try:
        remote = Remote(base_url=server.url, workspace_id="default", max_retries=0)
        proc = subprocess.Popen([*HONCHO, "push", "--url", server.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ))
        deadline = time.monotonic() + 120
        held = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                held = remote.session("long").messages(size=1).total or 0
            except Exception:  # noqa: BLE001 - the session may not exist yet
                held = 0
            if held >= 200:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        held = remote.session("long").messages(size=1).total
        assert 0 < held < total, f"push was not cut off mid-way ({held} of {total})"

        resumed = run_cli("push", "--url", server.url)
        assert resumed.code == 0, resumed
        assert resumed.out["skipped"]["messages"] == held and resumed.out["messages"] == total - held
        contents = [m.content for m in remote.session("long").messages(size=100)]
        assert contents == [f"Message number {i}." for i in range(total)]
    finally:
        server.stop_cleanly()


def test_a_diverged_session_stops_the_push_and_bad_urls_are_clear(h, monkeypatch, tmp_path, run_cli):
    for key, value in MODELS.items():
        monkeypatch.setenv(key, value)
    h.create_peer("alice")
    h.create_session("s", ["alice"])
    h.add_message("s", "alice", "Here it is one thing.")
    server = Server(tmp_path / "x" / "data", tmp_path / "x" / "config", args=("--no-worker",))
    try:
        remote = Remote(base_url=server.url, workspace_id="default", max_retries=0)
        remote.session("s").add_messages([remote.peer("alice").message("There it is another.")])
        diverged = run_cli("push", "--url", server.url)
        assert diverged.code == 4 and "diverged" in diverged.err["error"]["message"], diverged
    finally:
        server.stop_cleanly()
    refused = run_cli("push", "--url", server.url)  # nobody listens there any more
    assert refused.code == 10 and refused.error_code == "REMOTE_ERROR", refused
    assert run_cli("push", "--url", "ftp://example").code == 2
