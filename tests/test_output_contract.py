"""What scripts rely on: JSON shapes, error envelopes on stderr, exit codes."""

from __future__ import annotations

import os
import pty
import re
import subprocess
from datetime import datetime

import duckdb
import pytest

from conftest import HONCHO, assert_no_traceback

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")

PEER_KEYS = {"id", "metadata", "observe_me", "created_at"}
SESSION_KEYS = {"id", "metadata", "is_active", "created_at", "peers"}
MESSAGE_KEYS = {"id", "session_id", "peer_id", "content", "metadata", "created_at", "seq_in_session", "token_count"}
MEMBER_KEYS = {"session_id", "peer_id", "joined_at", "left_at", "observe_me", "observe_others"}
WORKSPACE_KEYS = {"id", "metadata", "created_at"}


def _check_keys(obj: dict, required: set[str]) -> None:
    assert isinstance(obj, dict), obj
    assert required <= set(obj), f"missing {required - set(obj)} in {obj}"
    assert all(SNAKE.match(k) for k in obj), obj
    for key in ("created_at", "joined_at"):
        if obj.get(key) is not None:
            assert datetime.fromisoformat(obj[key]).tzinfo is not None, obj[key]  # ISO 8601 with a zone


def test_collections_are_arrays_and_resources_are_objects(run_cli, h):
    h.create_peer("alice", metadata={"role": "player"})
    h.create_peer("bob")
    h.create_session("s", peers=["alice", "bob"], metadata={"game": 1})
    message = h.add_message("s", "bob", "I had pancakes for breakfast.", metadata={"turn": 1})

    objects = {
        ("peer", "create", "carol"): PEER_KEYS,
        ("peer", "inspect", "alice"): PEER_KEYS,
        ("session", "create", "s2"): SESSION_KEYS,
        ("session", "inspect", "s"): SESSION_KEYS,
        ("message", "get", message.id): MESSAGE_KEYS,
        ("session", "add-message", "s", "--peer", "alice", "hello"): MESSAGE_KEYS,
        ("session", "get-peer-config", "s", "alice"): {"session_id", "peer_id", "observe_me", "observe_others"},
        ("workspace", "inspect"): WORKSPACE_KEYS,
    }
    for args, keys in objects.items():
        code, out, err = run_cli(*args)
        assert code == 0, (args, err)
        _check_keys(out, keys)

    arrays = {
        ("peer", "list"): PEER_KEYS,
        ("session", "list"): SESSION_KEYS,
        ("session", "peers", "s"): MEMBER_KEYS,
        ("message", "list", "--session", "s"): MESSAGE_KEYS,
        ("message", "search", "pancakes"): MESSAGE_KEYS,
        ("workspace", "list"): WORKSPACE_KEYS,
    }
    for args, keys in arrays.items():
        code, out, err = run_cli(*args)
        assert code == 0, (args, err)
        assert isinstance(out, list) and out, (args, out)
        for item in out:
            _check_keys(item, keys)

    got = run_cli("message", "get", message.id).out
    assert got["id"] == message.id and got["session_id"] == "s" and got["peer_id"] == "bob"
    assert got["content"] == "I had pancakes for breakfast." and got["metadata"] == {"turn": 1}
    assert run_cli("peer", "inspect", "alice").out["metadata"] == {"role": "player"}


def test_empty_collections_are_empty_arrays(run_cli):
    for args in (("peer", "list"), ("session", "list"), ("message", "list")):
        code, out, _ = run_cli(*args)
        assert code == 0 and out == [], (args, out)


def test_metadata_commands_round_trip_json(run_cli):
    assert run_cli("peer", "create", "alice").code == 0
    assert run_cli("peer", "get-metadata", "alice").out == {}
    assert run_cli("peer", "set-metadata", "alice", '{"likes": ["waffles"], "age": null}').code == 0
    assert run_cli("peer", "get-metadata", "alice").out == {"likes": ["waffles"], "age": None}


def test_json_flag_and_env_work_on_a_terminal_where_tables_are_the_default(h):
    h.create_peer("alice")

    def on_tty(*args: str, env: dict | None = None) -> str:
        master, slave = pty.openpty()
        try:
            proc = subprocess.run([*HONCHO, *args], stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=60)
            os.close(slave)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(master)
        assert proc.returncode == 0, proc.stderr
        return b"".join(chunks).decode("utf-8", "replace")

    table = on_tty("peer", "list")
    assert "alice" in table and not table.lstrip().startswith("[")
    for args, env in ((("peer", "list", "--json"), None), (("--json", "peer", "list"), None),
                      (("peer", "list"), {"HONCHO_JSON": "1"})):
        text = on_tty(*args, env=env).strip()
        assert text.startswith("[") and '"id": "alice"' in text, (args, text)


def test_human_errors_are_one_line_without_traceback(data_dir):
    master, slave = pty.openpty()  # stdout on a terminal -> human mode; stderr captured
    try:
        proc = subprocess.run(
            [*HONCHO, "session", "add-message", "a-session-with-a-rather-long-name-to-force-wrapping", "--peer", "alice", "hi"],
            stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    text = proc.stderr.decode()
    assert proc.returncode == 3
    assert_no_traceback(text)
    assert len(text.strip().splitlines()) == 1, text
    assert "SESSION_NOT_FOUND" in text and not text.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("args", "exit_code", "error_code"),
    [
        (("peer", "create", "bad id"), 2, "INVALID_INPUT"),
        (("peer", "inspect", "nobody"), 3, "PEER_NOT_FOUND"),
        (("session", "inspect", "nothing"), 3, "SESSION_NOT_FOUND"),
        (("message", "get", "no-such-message"), 3, "MESSAGE_NOT_FOUND"),
        (("-w", "elsewhere", "peer", "list"), 3, "WORKSPACE_NOT_FOUND"),
        (("workspace", "delete", "default"), 4, "CONFIRMATION_REQUIRED"),
        (("session", "add-message"), 2, "INVALID_INPUT"),  # usage error from the parser
        (("no-such-command",), 2, "INVALID_INPUT"),
        (("message", "list", "--last", "many"), 2, "INVALID_INPUT"),
    ],
)
def test_errors_are_json_envelopes_on_stderr_with_documented_exit_codes(run_cli, args, exit_code, error_code):
    result = run_cli(*args)
    assert result.code == exit_code, result
    assert result.stdout == ""
    assert set(result.err) == {"error"}, result
    error = result.err["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == error_code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


def test_not_found_details_name_what_was_missing(run_cli):
    result = run_cli("peer", "inspect", "nobody")
    assert result.err["error"]["details"]["peer_id"] == "nobody"
    result = run_cli("session", "add-message", "nothing", "--peer", "alice", "hi")
    assert result.err["error"]["details"]["session_id"] == "nothing"


def test_a_store_locked_past_the_timeout_is_busy_not_a_hang(run_cli, h, data_dir):
    h.create_peer("alice")
    holder = duckdb.connect(str(data_dir / "honcho.duckdb"))  # another process holding the write lock
    try:
        result = run_cli("peer", "create", "bob", env={"HONCHO_LOCK_TIMEOUT": "0.5"})
    finally:
        holder.close()
    assert result.code == 5, result
    assert result.error_code == "STORE_BUSY"
    assert [p.id for p in h.list_peers()] == ["alice"]
    assert run_cli("peer", "create", "bob").code == 0  # and works once the lock is gone
