"""`honcho export` / `honcho import`: a store moved through one JSONL archive loses nothing.

The store is built through the real CLI and Python API (real DuckDB file, real LanceDB),
reasoned over by the deterministic test double; the checks compare the two stores entity
by entity, and the archive bytes of a round trip.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import FIXTURES  # noqa: F401 - the fixtures directory, for orientation

TEST_MODELS = {"HONCHO_MODEL": "test-double", "HONCHO_EMBEDDING_MODEL": "test-double"}


def _strip_stamp(line: bytes) -> dict:
    header = json.loads(line)
    header.pop("exported_at")
    return header


def _build_rich_store(data_dir: Path) -> None:
    """Two workspaces; membership that changes; reasoning done; a tombstone; premises; summaries."""
    import os
    import subprocess

    from conftest import HONCHO
    from honcho_cli import Honcho
    from honcho_cli.core.conclusions import record_conclusion

    h = Honcho(data_dir=data_dir)
    for peer in ("alice", "bob", "charlie"):
        h.create_peer(peer, {"role": peer, "ünï": "cödé"})
    h.create_peer("narrator", observe_me=False)
    h.create_session("s1", ["alice", "bob"], {"topic": "breakfast"})
    h.set_peer_config("s1", "alice", observe_others=True)
    h.add_message("s1", "bob", "I had pancakes for breakfast.", {"n": 1})
    h.add_peers("s1", ["charlie"])
    h.add_message("s1", "charlie", "I prefer waffles.", created_at="2024-03-01T09:30:00+02:00")
    h.remove_peers("s1", ["charlie"])
    h.add_messages("s1", [{"peer": "bob" if i % 2 else "alice", "content": f"Line {i}: I walked {i} km today."}
                          for i in range(24)])
    env = {**os.environ, "HONCHO_DATA_DIR": str(data_dir), **TEST_MODELS}
    done = subprocess.run([*HONCHO, "deriver", "run"], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    h.add_message("s1", "bob", "I had pancakes for breakfast.")  # left pending: queue state
    h.create_workspace("other", {"team": "b"})
    o = h.in_workspace("other")
    o.create_peer("dora")
    o.create_session("x", ["dora"])
    o.add_message("x", "dora", "Hello from the other workspace.")
    found = h.list_conclusions(observer="bob", observed="bob")
    assert len(found) >= 2, found
    with h.store.write() as conn:  # a deduction citing its premises, as `deriver dream` writes one
        record_conclusion(conn, "default", "bob", "bob", "bob is active in the mornings", level="deductive",
                          premise_ids=[found[0].id, found[1].id])
    h.delete_conclusion(found[-1].id)  # a tombstone
    h.set_peer_card("alice", ["alice walks a lot", "alice likes maps"], target="bob")  # a card set by hand
    h.create_scope("walks", sessions=["s1"])  # a scope, with its copies
    summaries = h.session_summaries("s1")
    assert summaries["short_summary"] is not None, summaries


@pytest.fixture(scope="module")
def rich_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rich") / "data"
    _build_rich_store(root)
    return root


@pytest.fixture
def rich_store(rich_template, data_dir, monkeypatch):
    """A copy of the module's rich store as this test's data directory."""
    import shutil

    shutil.copytree(rich_template, data_dir)
    for key, value in TEST_MODELS.items():
        monkeypatch.setenv(key, value)
    from honcho_cli import Honcho

    return Honcho(data_dir=data_dir)


def _entities(h) -> dict:
    """Everything a user can read back, per workspace, through the Python API."""
    out = {}
    for ws in [w.to_dict() for w in h.list_workspaces()]:
        w = h.in_workspace(ws["id"])
        sessions = [s.to_dict() for s in w.list_sessions()]
        out[ws["id"]] = {
            "workspace": ws,
            "peers": [p.to_dict() for p in w.list_peers()],
            "sessions": sessions,
            "members": {s["id"]: [m.to_dict() for m in w.session_peers(s["id"], include_history=True)] for s in sessions},
            "configs": {s["id"]: [w.get_peer_config(s["id"], m).to_dict() for m in s["peers"]] for s in sessions},
            "messages": [m.to_dict() for m in w.list_messages()],
            "conclusions": [c.to_dict() for c in w.list_conclusions()],
            "summaries": {s["id"]: w.session_summaries(s["id"]) for s in sessions},
            "queue": w.deriver_status(),
        }
    return out


def _tables(h) -> dict:
    """Every archived table's rows, as stored (tombstones, witnesses, vectors, queue leases included)."""
    from honcho_cli.core.archive import ARCHIVED_TABLES

    with h.store.read() as conn:
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in ARCHIVED_TABLES}


def test_round_trip_is_byte_identical_and_loses_nothing(rich_store, run_cli, data_dir, tmp_path):
    first = tmp_path / "first.jsonl"
    result = run_cli("export", "--all", "-o", str(first))
    assert result.code == 0, result
    assert result.out["rows"]["messages"] == 28 and result.out["workspaces"] == ["default", "other"]

    target = tmp_path / "target"
    env = {"HONCHO_DATA_DIR": str(target), **TEST_MODELS}
    imported = run_cli("import", str(first), env=env)
    assert imported.code == 0, imported
    assert imported.out["vectors"] == "carried" and imported.out["rows"]["messages"] == 28

    second = tmp_path / "second.jsonl"
    assert run_cli("export", "--all", "-o", str(second), env=env).code == 0
    a, b = first.read_bytes().splitlines(), second.read_bytes().splitlines()
    assert _strip_stamp(a[0]) == _strip_stamp(b[0])
    assert a[1:] == b[1:]

    from honcho_cli import Honcho

    moved = Honcho(data_dir=target)
    assert _entities(moved) == _entities(rich_store)
    assert _tables(moved) == _tables(rich_store)
    tombstones = [json.loads(line)["row"] for line in a if b'"deleted_at":"' in line]
    own = [t for t in tombstones if not t["observer"].startswith("scope__")]  # the scope's copy is deleted too
    assert len(own) == 1 and len(tombstones) == 2 and own[0]["id"] not in {c.id for c in moved.list_conclusions()}
    deduction = [c for c in moved.list_conclusions() if c.level == "deductive"]
    assert len(deduction) == 1 and len(deduction[0].premise_ids) == 2
    assert moved.deriver_status()["pending_work_units"] >= 1  # the work left to do is still to do

    # the moved store works: its vector index was written, search and the deriver run
    doctor = run_cli("doctor", env=env)
    vector_check = [c for c in doctor.out["checks"] if c["name"] == "vector index"][0]
    assert "0 missing" in vector_check["detail"], doctor
    hits = run_cli("conclusion", "search", "pancakes", "--observer", "bob", env=env)
    assert hits.code == 0 and any("pancakes" in c["content"] for c in hits.out), hits
    assert run_cli("deriver", "run", env=env).code == 0
    assert moved.deriver_status()["pending_work_units"] == 0


def test_export_of_one_workspace_holds_only_it(rich_store, run_cli, tmp_path):
    out = tmp_path / "other.jsonl.gz"
    assert run_cli("-w", "other", "export", "-o", str(out)).code == 0
    lines = gzip.decompress(out.read_bytes()).splitlines()
    header = json.loads(lines[0])
    assert header["workspaces"] == ["other"] and header["format"] == "honcho-archive" and header["version"] == 1
    rows = [json.loads(line) for line in lines[1:-1]]
    assert {r["row"].get("workspace_id", r["row"].get("id")) for r in rows} == {"other"}
    assert [r["row"]["content"] for r in rows if r["table"] == "messages"] == ["Hello from the other workspace."]

    target = tmp_path / "t"
    imported = run_cli("import", str(out), env={"HONCHO_DATA_DIR": str(target)})
    assert imported.code == 0, imported
    listed = run_cli("-w", "other", "message", "list", env={"HONCHO_DATA_DIR": str(target)})
    assert [m["content"] for m in listed.out] == ["Hello from the other workspace."]


def test_export_to_standard_output_and_import_from_standard_input(rich_store, run_cli, tmp_path):
    exported = run_cli("export")
    assert exported.code == 0
    lines = exported.stdout.splitlines()
    assert json.loads(lines[0])["workspaces"] == ["default"] and json.loads(lines[-1])["end"] is True
    target = tmp_path / "t"
    imported = run_cli("import", "-", input=exported.stdout, env={"HONCHO_DATA_DIR": str(target)})
    assert imported.code == 0, imported
    assert imported.out["rows"]["messages"] == 27


def test_a_clash_imports_nothing_unless_skip_existing(rich_store, run_cli, data_dir, tmp_path):
    archive = tmp_path / "a.jsonl"
    assert run_cli("export", "-o", str(archive)).code == 0
    # one more peer and message in the store, not in the archive
    assert run_cli("peer", "create", "eve").code == 0
    before = _tables(rich_store)

    clash = run_cli("import", str(archive))
    assert clash.code == 4 and clash.error_code == "CONFLICT", clash
    assert "--skip-existing" in clash.err["error"]["message"]
    assert _tables(rich_store) == before

    skipped = run_cli("import", "--skip-existing", str(archive))
    assert skipped.code == 0, skipped
    assert skipped.out["rows"] == {} and skipped.out["skipped"]["messages"] == 27
    assert _tables(rich_store) == before


def test_a_partly_new_archive_with_skip_existing_adds_only_the_new_rows(run_cli, data_dir, tmp_path):
    assert run_cli("peer", "create", "alice").code == 0
    assert run_cli("session", "create", "s1", "--peers", "alice").code == 0
    archive = tmp_path / "a.jsonl"
    assert run_cli("export", "-o", str(archive)).code == 0
    target = {"HONCHO_DATA_DIR": str(tmp_path / "t")}
    assert run_cli("import", str(archive), env=target).code == 0
    assert run_cli("peer", "create", "bob").code == 0
    assert run_cli("session", "add-message", "s1", "--peer", "alice", "Only in the first store.").code == 0
    assert run_cli("export", "-o", str(archive)).code == 0
    again = run_cli("import", "--skip-existing", str(archive), env=target)
    assert again.code == 0, again
    assert again.out["rows"] == {"peers": 1, "messages": 1, "message_witnesses": 1, "deriver_queue": 1}
    listed = run_cli("message", "list", env=target)
    assert [m["content"] for m in listed.out] == ["Only in the first store."]


@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda lines: lines[:-3], "incomplete"),  # cut off before its last line
        (lambda lines: lines[:5] + [b'{"table": "peers", "row": {"id": 1'] + lines[6:], "line 6: invalid JSON"),
        (lambda lines: lines[:5] + [b'{"table": "nonsense", "row": {}}'] + lines[6:], "line 6"),
        (lambda lines: [b'{"format": "something-else"}'] + lines[1:], "not a honcho archive"),
        (lambda lines: lines[:-1] + [b'{"end": true, "rows": {"messages": 1}}'], "do not match"),
    ],
)
def test_a_damaged_archive_is_refused_and_changes_nothing(rich_store, run_cli, tmp_path, damage, needle):
    archive = tmp_path / "a.jsonl"
    assert run_cli("export", "--all", "-o", str(archive)).code == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(damage(archive.read_bytes().splitlines())) + b"\n")
    target = tmp_path / "t"
    result = run_cli("import", str(bad), env={"HONCHO_DATA_DIR": str(target)})
    assert result.code == 2 and result.error_code == "INVALID_INPUT", result
    assert needle in result.err["error"]["message"]
    from honcho_cli import Honcho

    assert _tables(Honcho(data_dir=target)) == {t: [] for t in _tables(rich_store)}


def test_vectors_of_another_embedding_model_are_computed_again(rich_store, run_cli, tmp_path):
    archive = tmp_path / "a.jsonl"
    assert run_cli("export", "-o", str(archive)).code == 0
    lines = archive.read_bytes().splitlines()
    header = json.loads(lines[0])
    header["embedding_model"] = "some-other-model.gguf"
    (tmp_path / "b.jsonl").write_bytes(b"\n".join([json.dumps(header).encode(), *lines[1:]]) + b"\n")
    target = tmp_path / "t"
    env = {"HONCHO_DATA_DIR": str(target), **TEST_MODELS}
    from honcho_cli import Honcho

    Honcho(data_dir=target).embedder()  # the store now belongs to the test double's vectors
    result = run_cli("import", str(tmp_path / "b.jsonl"), env=env)
    assert result.code == 0, result
    assert result.out["vectors"] == "reembedded"
    doctor = run_cli("doctor", env=env)
    checks = {c["name"]: c for c in doctor.out["checks"]}
    assert checks["conclusion embeddings"]["status"] == "ok", doctor
    assert "0 missing" in checks["vector index"]["detail"], doctor


def test_export_without_a_file_on_a_terminal_or_of_a_missing_workspace_is_an_error(run_cli):
    missing = run_cli("-w", "nope", "export", "-o", "x.jsonl")
    assert missing.code == 3 and missing.error_code == "WORKSPACE_NOT_FOUND", missing


def test_every_table_is_archived_or_declared_derived(h):
    from honcho_cli.core.archive import unaccounted_tables
    from honcho_cli.core.workspaces import WORKSPACE_TABLES
    from honcho_cli.core.archive import ARCHIVED_TABLES

    with h.store.read() as conn:
        assert unaccounted_tables(conn) == []
    assert set(WORKSPACE_TABLES) <= set(ARCHIVED_TABLES)


def test_import_of_a_missing_file_is_invalid_input(run_cli, tmp_path):
    result = run_cli("import", str(tmp_path / "nothing.jsonl"))
    assert result.code == 2 and "cannot read" in result.err["error"]["message"]


def test_header_describes_every_column_with_its_type(rich_store, run_cli, tmp_path):
    archive = tmp_path / "a.jsonl"
    assert run_cli("export", "-o", str(archive)).code == 0
    header = json.loads(archive.read_bytes().splitlines()[0])
    assert ["deleted_at", "TIMESTAMP"] in header["tables"]["conclusions"]
    assert ["embedding", "FLOAT[]"] in header["tables"]["conclusions"]
    assert header["embedding_model"] == "test-double"
    assert "006_store_meta" in header["schema"]
    assert Path(archive).stat().st_size > 0
