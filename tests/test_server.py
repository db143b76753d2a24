"""`honcho serve` over HTTP: the bearer key, wire formats, the background worker, and the CLI
working on the same data directory while the server is up. Real processes, real files."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from conftest import HONCHO
from server_support import Server

V3 = "/v3/workspaces"


def _post(server: Server, path: str, body=None, **kw) -> httpx.Response:
    headers = {**server.headers(), **kw.pop("headers", {})}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30, **kw)


def _get(server: Server, path: str, **kw) -> httpx.Response:
    headers = {**server.headers(), **kw.pop("headers", {})}
    return httpx.get(server.url + path, headers=headers, timeout=30, **kw)


def _wait(predicate, what: str, timeout: float = 60.0):
    """Poll until predicate() is truthy; a generous bound, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not after {timeout}s"
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "data", tmp_path / "config")
    yield srv
    srv.stop_cleanly()


def _room(server: Server, ws: str = "w") -> None:
    assert _post(server, V3, {"id": ws}).status_code == 200
    body = {"id": "s", "peers": {"alice": {"observe_others": True}, "bob": {}}}
    assert _post(server, f"{V3}/{ws}/sessions", body).status_code == 200


def _queue(server: Server, ws: str = "w") -> dict:
    return _get(server, f"{V3}/{ws}/queue/status").json()


# -- the bearer key ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_key_required_on_every_request(tmp_path, how):
    key = "s3cret-key"
    args, env = (("--api-key", key), None) if how == "flag" else ((), {"HONCHO_API_KEY": key})
    srv = Server(tmp_path / "data", tmp_path / "config", args=args, env=env, api_key=key)
    try:
        writes = [
            ("POST", V3, {"id": "w"}),
            ("POST", f"{V3}/default/peers", {"id": "mallory"}),
            ("POST", f"{V3}/default/sessions", {"id": "s", "peers": {"mallory": {}}}),
        ]
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}, {"Authorization": f"Basic {key}"}):
            for method, path, body in writes:
                r = httpx.request(method, srv.url + path, json=body, headers=headers, timeout=10)
                assert r.status_code == 401, (headers, path, r.text)
                assert r.json()["error"]["code"] == "UNAUTHORIZED" and r.headers["www-authenticate"] == "Bearer"
            for path in (f"{V3}/list", "/openapi.json", "/health", f"{V3}/default/queue/status"):
                r = httpx.request("POST" if path.endswith("/list") else "GET", srv.url + path, headers=headers, timeout=10)
                assert r.status_code == 401, (headers, path)
        # nothing was written: the key holder sees no workspace w and no peer mallory
        ok = {"Authorization": f"Bearer {key}"}
        listed = httpx.post(f"{srv.url}{V3}/list", headers=ok, timeout=10).json()
        assert [w["id"] for w in listed["items"]] == ["default"]
        assert httpx.post(f"{srv.url}{V3}/default/peers/list", headers=ok, timeout=10).json()["items"] == []
        assert httpx.post(srv.url + V3, json={"id": "w"}, headers=ok, timeout=10).status_code == 200

        from honcho import Honcho
        from honcho.http.exceptions import AuthenticationError

        assert [p.id for p in Honcho(base_url=srv.url, api_key=key, workspace_id="w").peers()] == []
        with pytest.raises(AuthenticationError):
            Honcho(base_url=srv.url, api_key="nope", workspace_id="w", max_retries=0).peer("x")
    finally:
        srv.stop_cleanly()


def test_binds_loopback_by_default_and_says_so(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert f"http://127.0.0.1:{server.port} (auth: none)" in server.log()


# -- wire formats ---------------------------------------------------------------------------


def test_errors_carry_status_detail_and_code(server):
    r = _post(server, f"{V3}/nowhere/peers", {"id": "alice"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "WORKSPACE_NOT_FOUND" and "nowhere" in r.json()["detail"]
    _room(server)
    r = _post(server, f"{V3}/w/peers/zoe/representation", {})
    assert r.status_code == 404 and r.json()["error"]["code"] == "PEER_NOT_FOUND"
    r = _post(server, f"{V3}/w/peers", {"id": "has space"})
    assert r.status_code == 422
    r = _post(server, f"{V3}/w/sessions/s/messages", {"messages": []})
    assert r.status_code == 422
    r = _post(server, f"{V3}/w/sessions/s/messages", {"messages": [{"peer_id": "bob", "content": "x" * 25_001}]})
    assert r.status_code == 422
    r = httpx.request("DELETE", f"{server.url}{V3}/w/sessions/s/peers", json=["carol"], timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "PEER_NOT_IN_SESSION"
    r = _post(server, f"{V3}/w/sessions/s/messages/upload", {"peer_id": "bob"})
    assert r.status_code == 501 and r.json()["error"]["code"] == "NOT_SUPPORTED"
    r = _post(server, f"{V3}/w/peers/list", {"filters": {"colour": "red"}})
    assert r.status_code == 422 and "colour" in r.json()["detail"]


def test_list_routes_page_and_filter(server):
    _room(server)
    for name in ("carol", "dave", "erin"):
        _post(server, f"{V3}/w/peers", {"id": name, "metadata": {"team": "x" if name != "dave" else "y"}})
    page = _post(server, f"{V3}/w/peers/list?page=2&size=2").json()
    assert page["total"] == 5 and page["pages"] == 3 and page["page"] == 2 and [p["id"] for p in page["items"]] == ["carol", "dave"]
    team_x = _post(server, f"{V3}/w/peers/list", {"filters": {"metadata": {"team": "x"}}}).json()
    assert [p["id"] for p in team_x["items"]] == ["carol", "erin"]
    either = _post(server, f"{V3}/w/peers/list", {"filters": {"OR": [{"id": "bob"}, {"id": {"in": ["erin"]}}]}}).json()
    assert [p["id"] for p in either["items"]] == ["bob", "erin"]
    assert _post(server, f"{V3}/w/peers/list?size=101").status_code == 422
    assert _post(server, f"{V3}/w/peers/list?page=0").status_code == 422


def test_chat_stream_is_server_sent_events(server):
    _room(server)
    _post(server, f"{V3}/w/sessions/s/messages", {"messages": [{"peer_id": "bob", "content": "I keep bees."}]})
    _wait(lambda: _queue(server)["completed_work_units"] == 1, "reasoned")
    body = {"query": "What does bob keep?", "target": "bob", "stream": True, "include_evidence": True}
    with httpx.stream("POST", f"{server.url}{V3}/w/peers/alice/chat", json=body, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert events[-1]["done"] is True and all(e["done"] is False for e in events[:-1])
    text = "".join(e["delta"]["content"] for e in events)
    plain = _post(server, f"{V3}/w/peers/alice/chat", {**body, "stream": False}).json()
    assert text == plain["content"]
    assert [c["observed_id"] for c in events[-1]["evidence"]["conclusions"]] == ["bob"]
    assert "bees" in events[-1]["evidence"]["conclusions"][0]["content"]


def test_cli_chat_hands_the_question_to_the_server_only_when_asked(server, run_cli, tmp_path):
    """`honcho chat --server URL` gives the answer the local path gives, from the server's
    loaded models; a server on another data directory, or none, is an error and nothing is sent."""
    _room(server)
    _post(server, f"{V3}/w/sessions/s/messages", {"messages": [{"peer_id": "bob", "content": "I keep bees."}]})
    _wait(lambda: _queue(server)["completed_work_units"] == 1, "reasoned")
    ask = ("chat", "alice", "What does bob keep?", "--target", "bob", "-w", "w", "--json")
    code, local, err = run_cli(*ask, env=server.env)
    assert code == 0, err
    code, remote, err = run_cli(*ask, "--server", server.url, env=server.env)
    assert code == 0, err
    assert remote["answer"] == local["answer"] and remote["conclusions"] == local["conclusions"]
    # streamed: NDJSON deltas as they come, then the summary
    result = run_cli(*ask, "--stream", env={**server.env, "HONCHO_SERVER": server.url})
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.code == 0 and "".join(x["delta"] for x in lines[:-1]) == lines[-1]["answer"] == local["answer"]
    # the server's errors come back as the local path's, with its exit code
    result = run_cli("chat", "alice", "?", "--target", "nobody", "-w", "w", "--server", server.url, env=server.env)
    assert (result.code, result.error_code) == (3, "PEER_NOT_FOUND")
    other = {**server.env, "HONCHO_DATA_DIR": str(tmp_path / "elsewhere")}
    result = run_cli(*ask, "--server", server.url, env=other)
    assert (result.code, result.error_code) == (2, "INVALID_INPUT") and "serves" in result.err["error"]["message"]
    assert not (tmp_path / "elsewhere").exists(), "nothing was written for a refused hand-off"
    result = run_cli(*ask, "--server", "http://127.0.0.1:9", env=server.env)
    assert (result.code, result.error_code) == (2, "INVALID_INPUT") and "no honcho server" in result.err["error"]["message"]


# -- the background worker ----------------------------------------------------------------------


def test_worker_reasons_over_a_single_short_message(server):
    """No token threshold: one five-word message is reasoned over without any flush."""
    _room(server)
    r = _post(server, f"{V3}/w/sessions/s/messages", {"messages": [{"peer_id": "bob", "content": "I play the cello."}]})
    assert r.status_code == 201
    _wait(lambda: _queue(server)["completed_work_units"] == 1, "the worker took the message")
    view = _post(server, f"{V3}/w/peers/alice/representation", {"target": "bob"}).json()
    assert "cello" in view["representation"]
    # the worker counts a unit once its vectors are indexed too, a moment after the queue says done
    _wait(lambda: server.health()["worker"]["units"] >= 1, "the worker counted the unit")
    assert server.health()["worker"]["last_error"] is None


def test_worker_picks_up_messages_written_by_the_cli(server, run_cli):
    """Another process writes to the same data dir while the server is up; the worker finds it."""
    _room(server)
    code, out, err = run_cli("session", "add-message", "s", "--peer", "bob", "I grow tomatoes.", "-w", "w", "--json",
                             env=server.env)
    assert code == 0, (out, err)
    _wait(lambda: _queue(server)["completed_work_units"] == 1, "the worker took the CLI's message")
    code, view, _ = run_cli("representation", "alice", "--target", "bob", "-w", "w", "--json", env=server.env)
    assert code == 0 and "tomatoes" in view["representation"]


def test_cli_deriver_works_beside_the_server(tmp_path, run_cli):
    """Two workers on one queue (the server's and `honcho deriver run`): each unit once, no failure."""
    srv = Server(tmp_path / "data", tmp_path / "config")
    try:
        _room(srv)
        messages = [{"peer_id": "bob" if i % 2 else "alice", "content": f"I visited city number {i}."} for i in range(40)]
        for chunk in range(0, 40, 10):
            assert _post(srv, f"{V3}/w/sessions/s/messages", {"messages": messages[chunk : chunk + 10]}).status_code == 201
        code, out, err = run_cli("deriver", "run", "--all-workspaces", "--json", env=srv.env)
        assert code == 0 and out["failed"] == 0 and out["failures"] == [], (out, err)
        status = _wait(lambda: (q := _queue(srv))["completed_work_units"] == 40 and q, "queue done")
        assert status["failed_work_units"] == 0 and status["pending_work_units"] == 0
        stats = srv.health()["worker"]
        assert stats["units"] + out["units"] >= 1
        code, listed, _ = run_cli("message", "list", "-s", "s", "-w", "w", "--json", env=srv.env)
        assert code == 0 and len(listed) == 40
    finally:
        srv.stop_cleanly()


def test_no_worker_leaves_reasoning_to_the_cli(tmp_path, run_cli):
    srv = Server(tmp_path / "data", tmp_path / "config", args=("--no-worker",))
    try:
        _room(srv)
        _post(srv, f"{V3}/w/sessions/s/messages", {"messages": [{"peer_id": "bob", "content": "I fix bicycles."}]})
        assert srv.health()["worker"] is None
        assert _queue(srv)["pending_work_units"] == 1
        code, out, _ = run_cli("deriver", "run", "--all-workspaces", "--json", env=srv.env)
        assert code == 0 and out["messages"] == 1
        assert _queue(srv)["completed_work_units"] == 1
        view = _post(srv, f"{V3}/w/peers/alice/representation", {"target": "bob"}).json()["representation"]
        assert "bicycles" in view
        r = _post(srv, f"{V3}/w/schedule_dream", {"observer": "alice", "observed": "bob"})
        assert r.status_code == 501
    finally:
        srv.stop_cleanly()


def test_serve_help_and_plain_help_import_no_web_stack():
    code = (
        "import sys; sys.argv=['honcho','--help']\n"
        "from honcho_cli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad=[m for m in ('fastapi','uvicorn','starlette') if m in sys.modules]\n"
        "print('LOADED', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "LOADED []" in out and "serve" in out
    help_text = subprocess.run([*HONCHO, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "--api-key" in help_text and "127.0.0.1" in help_text
