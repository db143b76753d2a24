"""Bad input gets a clear, coded error and changes nothing in the store.

State is built with the Python API (fast); each case is one real `honcho` process; the
row counts of every table must be identical before and after. `run_cli` already
fails any case that prints a traceback.
"""

from __future__ import annotations

import pytest

from helpers import table_counts

LONG = "x" * 25_001


@pytest.fixture
def populated(h):
    h.create_peer("alice")
    h.create_peer("bob")
    h.create_peer("outsider")
    h.create_session("s", peers=["alice", "bob"])
    h.set_peer_config("s", "alice", observe_others=True)
    h.add_message("s", "bob", "hello")
    return h


BAD = [
    # ids outside [A-Za-z0-9_-]{1,100}
    pytest.param(("peer", "create", "bad id"), None, 2, "INVALID_INPUT", id="id-with-space"),
    pytest.param(("peer", "create", "a" * 101), None, 2, "INVALID_INPUT", id="id-101-chars"),
    pytest.param(("peer", "create", ""), None, 2, "INVALID_INPUT", id="id-empty"),
    pytest.param(("peer", "create", "alice\n"), None, 2, "INVALID_INPUT", id="id-trailing-newline"),
    pytest.param(("peer", "create", "élodie"), None, 2, "INVALID_INPUT", id="id-non-ascii"),
    pytest.param(("peer", "create", "a.b"), None, 2, "INVALID_INPUT", id="id-dot"),
    pytest.param(("session", "create", "s/1"), None, 2, "INVALID_INPUT", id="session-id-slash"),
    pytest.param(("workspace", "create", "ws:1"), None, 2, "INVALID_INPUT", id="workspace-id-colon"),
    pytest.param(("-w", "bad ws", "peer", "create", "carol"), None, 2, "INVALID_INPUT", id="workspace-flag-bad-id"),
    pytest.param(("session", "add-message", "s", "--peer", "bad id", "hi"), None, 2, "INVALID_INPUT", id="sender-bad-id"),
    # content
    pytest.param(("session", "add-message", "s", "--peer", "bob", ""), None, 2, "INVALID_INPUT", id="content-empty"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", " \n\t "), None, 2, "INVALID_INPUT", id="content-blank"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", LONG), None, 2, "INVALID_INPUT", id="content-25001"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", "-"), LONG.encode(), 2, "INVALID_INPUT", id="stdin-25001"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", "-"), b"", 2, "INVALID_INPUT", id="stdin-empty"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", "-"), b"caf\xe9 latin-1", 2, "INVALID_INPUT", id="stdin-not-utf8"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", "\udcff\udcfe"), None, 2, "INVALID_INPUT", id="argv-not-utf8"),
    pytest.param(("session", "add-message", "s", "--peer", "bob"), None, 2, "INVALID_INPUT", id="content-missing"),
    # metadata
    pytest.param(("peer", "create", "carol", "--metadata", "{bad"), None, 2, "INVALID_INPUT", id="metadata-invalid-json"),
    pytest.param(("peer", "create", "carol", "--metadata", "[1, 2]"), None, 2, "INVALID_INPUT", id="metadata-not-object"),
    pytest.param(("peer", "create", "carol", "--metadata", '{"x": NaN}'), None, 2, "INVALID_INPUT", id="metadata-nan"),
    pytest.param(("peer", "create", "carol", "--metadata", '{"k": "\udcff"}'), None, 2, "INVALID_INPUT", id="metadata-not-utf8"),
    pytest.param(("peer", "set-metadata", "alice", "nope"), None, 2, "INVALID_INPUT", id="set-metadata-invalid"),
    pytest.param(("session", "create", "s2", "--metadata", '"text"'), None, 2, "INVALID_INPUT", id="session-metadata-string"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", "hi", "--metadata", "{"), None, 2, "INVALID_INPUT",
                 id="message-metadata-invalid"),
    # timestamps and numbers
    pytest.param(("session", "add-message", "s", "--peer", "bob", "hi", "--created-at", "yesterday"), None, 2, "INVALID_INPUT",
                 id="created-at-garbage"),
    pytest.param(("session", "add-message", "s", "--peer", "bob", "hi", "--created-at", "0001-01-01T00:00:00+01:00"), None, 2,
                 "INVALID_INPUT", id="created-at-overflow"),
    pytest.param(("message", "list", "--session", "s", "--last", "0"), None, 2, "INVALID_INPUT", id="last-zero"),
    pytest.param(("message", "search", ""), None, 2, "INVALID_INPUT", id="search-empty"),
    pytest.param(("message", "search", "hello", "--limit", "0"), None, 2, "INVALID_INPUT", id="search-limit-0"),
    # unknown things
    pytest.param(("-w", "elsewhere", "peer", "create", "carol"), None, 3, "WORKSPACE_NOT_FOUND", id="unknown-workspace"),
    pytest.param(("session", "add-message", "nope", "--peer", "bob", "hi"), None, 3, "SESSION_NOT_FOUND", id="unknown-session"),
    pytest.param(("session", "add-message", "s", "--peer", "ghost", "hi"), None, 3, "PEER_NOT_FOUND", id="unknown-peer"),
    pytest.param(("session", "add-peers", "s", "ghost"), None, 3, "PEER_NOT_FOUND", id="add-unknown-peer"),
    pytest.param(("session", "add-peers", "s", "outsider", "ghost"), None, 3, "PEER_NOT_FOUND", id="add-some-unknown"),
    pytest.param(("session", "set-peer-config", "s", "ghost", "--observe-others"), None, 3, "PEER_NOT_FOUND",
                 id="config-unknown-peer"),
    pytest.param(("message", "list", "--session", "nope"), None, 3, "SESSION_NOT_FOUND", id="list-unknown-session"),
    pytest.param(("message", "search", "hello", "--peer", "ghost"), None, 3, "PEER_NOT_FOUND", id="search-unknown-peer"),
    # state forbids it
    pytest.param(("session", "add-message", "s", "--peer", "outsider", "hi"), None, 4, "PEER_NOT_IN_SESSION", id="non-member"),
    pytest.param(("session", "delete", "s"), None, 4, "CONFIRMATION_REQUIRED", id="session-delete-without-yes"),
    pytest.param(("workspace", "delete", "default"), None, 4, "CONFIRMATION_REQUIRED", id="workspace-delete-without-yes"),
]


@pytest.mark.parametrize(("args", "stdin", "exit_code", "error_code"), BAD)
def test_bad_input_is_refused_with_a_coded_error_and_changes_nothing(populated, run_cli, args, stdin, exit_code, error_code):
    before = table_counts(populated)
    result = run_cli(*args, input=stdin)
    assert result.code == exit_code, result
    assert result.error_code == error_code, result
    assert result.err["error"]["message"]
    assert result.stdout == ""
    assert table_counts(populated) == before


def test_content_of_exactly_25000_chars_is_accepted(populated, run_cli):
    code, message, _ = run_cli("session", "add-message", "s", "--peer", "bob", "-", input="é" * 25_000)
    assert code == 0
    assert populated.get_message(message["id"]).content == "é" * 25_000


def test_the_python_api_refuses_the_same_input(populated):
    from honcho_cli import HonchoError

    before = table_counts(populated)
    attempts = [
        lambda: populated.create_peer("bad id"),
        lambda: populated.add_message("s", "bob", ""),
        lambda: populated.add_message("s", "bob", LONG),
        lambda: populated.add_message("s", "bob", "lone \ud800 surrogate"),
        lambda: populated.add_message("s", "bob", "hi", metadata={"x": float("nan")}),
        lambda: populated.add_message("s", "outsider", "hi"),
        lambda: populated.add_messages("s", [{"peer": "bob", "content": "ok"}, {"peer": "bob", "content": ""}]),
        lambda: populated.add_messages("s", []),
    ]
    for attempt in attempts:
        with pytest.raises(HonchoError):
            attempt()
    assert table_counts(populated) == before


def test_an_inactive_session_takes_no_messages(populated, run_cli):
    populated.update_session("s", is_active=False)
    before = table_counts(populated)
    result = run_cli("session", "add-message", "s", "--peer", "bob", "hi")
    assert result.code == 4 and result.error_code == "CONFLICT"
    assert table_counts(populated) == before


def test_a_data_dir_that_is_a_file_is_a_clear_error(run_cli, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = run_cli("--data-dir", str(not_a_dir), "peer", "list")
    assert result.code == 2 and result.error_code == "INVALID_INPUT"
    assert not_a_dir.read_text() == "x"


def test_a_store_file_that_is_not_duckdb_is_a_clear_error_and_is_left_alone(run_cli, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "honcho.duckdb").write_bytes(b"not a database\n")
    result = run_cli("peer", "create", "alice")
    assert result.code != 0 and result.error_code
    assert (data_dir / "honcho.duckdb").read_bytes() == b"not a database\n"
