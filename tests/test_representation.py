"""Reading memory: `representation` and `chat` see one (observer, observed) view, and only it.

The seed's scenario is reasoned over once per module by the real deriver with the scripted
test double (deriver_support.py) and copied into each test's data dir. Parameter checks go
through the real CLI (exit codes, JSON). The search-path test builds a collection big enough
for a LanceDB IVF_PQ index (the threshold lowered for speed) and checks that the index path
and DuckDB's exact scan return the same ranking. No timings here: see bench/representation.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, HONCHO
from deriver_support import make_deriver

TEST_DOUBLE = {"HONCHO_MODEL": "test-double"}
CHARLIE_CLAIM = ("lied", "didn't have breakfast", "waffles")
CONCLUSION_KEYS = {"id", "content", "level", "session_id", "source_message_ids", "times_derived", "created_at"}


# -- the seed's scenario, reasoned over once ---------------------------------------------


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the seed's scenario after the deriver ran (test double, LanceDB on)."""
    root = tmp_path_factory.mktemp("seeded")
    data_dir, config_dir = root / "data", root / "config"
    config_dir.mkdir()
    env = dict(os.environ, HONCHO_DATA_DIR=str(data_dir), HONCHO_CONFIG_DIR=str(config_dir), HONCHO=HONCHO[0])
    env.pop("HONCHO_WORKSPACE_ID", None)
    proc = subprocess.run(["bash", str(FIXTURES / "seed-scenario.sh")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    from honcho_cli import Honcho

    stats = make_deriver(Honcho(data_dir=data_dir), vectors=True).run()
    assert stats.failed == 0 and stats.messages == 3
    return data_dir


@pytest.fixture
def seeded(seeded_template: Path, data_dir: Path):
    """This test's data dir, a copy of the reasoned-over seed; returns a client on it."""
    shutil.copytree(seeded_template, data_dir)
    from honcho_cli import Honcho

    return Honcho(data_dir=data_dir)


def _ids(h, observer: str, observed: str) -> set[str]:
    return {c.id for c in h.list_conclusions(observer=observer, observed=observed)}


def _mentions_charlies_claim(text: str) -> bool:
    return any(word in text.lower() for word in CHARLIE_CLAIM)


def test_alices_view_of_bob_has_the_pancakes_and_never_charlies_claim(seeded):
    view = seeded.representation("alice", "bob")
    assert view.conclusions, "alice heard bob in game-session"
    assert any("pancakes" in c.content.lower() for c in view.conclusions)
    assert not any(_mentions_charlies_claim(c.content) for c in view.conclusions)
    assert {c.session_id for c in view.conclusions} == {"game-session"}
    assert {(c.observer, c.observed) for c in view.conclusions} == {("alice", "bob")}
    text = view.markdown()
    assert text.startswith("# alice's view of bob") and "pancakes" in text.lower()
    assert not _mentions_charlies_claim(text)
    # a query about the claim still only ranks inside alice -> bob
    searched = seeded.representation("alice", "bob", search_query="Bob is lying about his breakfast")
    assert {c.id for c in searched.conclusions} <= _ids(seeded, "alice", "bob")
    assert not any(_mentions_charlies_claim(c.content) for c in searched.conclusions)


def test_alices_view_of_charlie_holds_what_charlie_said_in_her_presence(seeded):
    view = seeded.representation("alice", "charlie")
    contents = " ".join(c.content.lower() for c in view.conclusions)
    assert "waffles" in contents  # game-session, alice present
    assert "lied" in contents or "didn't have breakfast" in contents  # game-session-2, alice present
    assert {c.session_id for c in view.conclusions} == {"game-session", "game-session-2"}
    assert {(c.observer, c.observed) for c in view.conclusions} == {("alice", "charlie")}
    assert "pancakes" not in contents  # bob's words are not charlie's
    # bob's own view of himself never learns what charlie said to alice
    assert not any(_mentions_charlies_claim(c.content) for c in seeded.representation("bob").conclusions)


def test_cli_representation_json_shape_and_scope(seeded, run_cli):
    code, out, _ = run_cli("representation", "alice", "--target", "bob", "--json")
    assert code == 0, out
    assert set(out) == {"observer", "observed", "representation", "conclusions"}
    assert (out["observer"], out["observed"]) == ("alice", "bob")
    assert isinstance(out["representation"], str) and "pancakes" in out["representation"].lower()
    assert out["conclusions"]
    for c in out["conclusions"]:
        assert CONCLUSION_KEYS <= set(c), c
        assert "distance" not in c  # only ranked results carry a distance
        assert isinstance(c["source_message_ids"], list) and isinstance(c["times_derived"], int)
    assert {c["id"] for c in out["conclusions"]} <= _ids(seeded, "alice", "bob")

    code, out, _ = run_cli("representation", "alice", "--target", "bob", "--search-query", "breakfast", "--json", env=TEST_DOUBLE)
    assert code == 0, out
    assert out["conclusions"] and all(0.0 <= c["distance"] <= 2.0 for c in out["conclusions"])
    ranked = [c["distance"] for c in out["conclusions"] if "distance" in c]
    assert ranked == sorted(ranked)
    assert {c["id"] for c in out["conclusions"]} <= _ids(seeded, "alice", "bob")
    assert not any(_mentions_charlies_claim(c["content"]) for c in out["conclusions"])


def test_chat_with_target_uses_only_alice_to_bob_conclusions(seeded, run_cli, monkeypatch):
    allowed = _ids(seeded, "alice", "bob")
    code, out, _ = run_cli("chat", "alice", "What did Bob say about breakfast?", "--target", "bob", "--json", env=TEST_DOUBLE)
    assert code == 0, out
    assert set(out) == {"answer", "conclusions", "messages"}
    assert out["conclusions"] and set(out["conclusions"]) <= allowed
    assert isinstance(out["answer"], str) and out["answer"]
    # the quoted messages are what alice heard bob say: bob's breakfast line, nothing of charlie's
    with seeded.store.read() as conn:
        heard = {r[0] for r in conn.execute(
            "SELECT message_id FROM message_witnesses WHERE observer = 'alice' AND observed = 'bob'"
        ).fetchall()}
    assert out["messages"] and set(out["messages"]) <= heard

    from honcho_cli import Honcho
    from honcho_cli.reasoning.test_double import DeterministicTestModel

    prompts: list[str] = []

    def record(system: str, prompt: str, schema) -> None:
        prompts.append(prompt)  # and let the double answer by its rules

    monkeypatch.setenv("HONCHO_MODEL", "test-double")
    h = Honcho(data_dir=seeded.settings.data_dir)
    h.engine.use(chat=DeterministicTestModel(responder=record))
    result = h.chat("alice", "What did Bob say about breakfast?", target="bob")
    assert result["conclusions"] and set(result["conclusions"]) <= allowed
    assert len(prompts) == 1, "the model was asked once"
    assert "pancakes" in prompts[0].lower() and not _mentions_charlies_claim(prompts[0])
    # without a target the question goes to alice's own view, which holds nothing
    assert h.chat("alice", "What did Bob say about breakfast?") == {"answer": "I don't know.", "conclusions": [], "messages": []}
    assert len(prompts) == 1


# -- limits and edge cases through the CLI ----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--search-query", "x", "--search-top-k", "0"),
        ("--search-query", "x", "--search-top-k", "101"),
        ("--max-conclusions", "0"),
        ("--max-conclusions", "101"),
        ("--search-query", "x", "--search-max-distance", "-0.1"),
        ("--search-query", "x", "--search-max-distance", "1.1"),
        ("--search-query", ""),
    ],
)
def test_out_of_range_parameters_exit_2_invalid_input(run_cli, args):
    for peer in ("alice", "bob"):
        assert run_cli("peer", "create", peer).code == 0
    result = run_cli("representation", "alice", "--target", "bob", *args, "--json", env=TEST_DOUBLE)
    assert result.code == 2, result
    assert result.error_code == "INVALID_INPUT", result


def test_parameters_at_their_limits_are_accepted(seeded, run_cli):
    for args in (
        ("--search-query", "breakfast", "--search-top-k", "1", "--max-conclusions", "1"),
        ("--search-query", "breakfast", "--search-top-k", "100", "--max-conclusions", "100"),
        ("--search-query", "breakfast", "--search-max-distance", "0.0"),
        ("--search-query", "breakfast", "--search-max-distance", "1.0"),
    ):
        code, out, _ = run_cli("representation", "alice", "--target", "bob", *args, "--json", env=TEST_DOUBLE)
        assert code == 0, (args, out)
        assert {c["id"] for c in out["conclusions"]} <= _ids(seeded, "alice", "bob")
    _, one, _ = run_cli("representation", "alice", "--target", "bob", "--max-conclusions", "1", "--json")
    assert len(one["conclusions"]) == 1
    _, none_close, _ = run_cli(
        "representation", "alice", "--target", "bob", "--search-query", "breakfast", "--search-max-distance", "0.0",
        "--json", env=TEST_DOUBLE,
    )
    assert all(c["distance"] <= 1e-6 for c in none_close["conclusions"])  # a cap is not padded with other rows


def test_session_filter_that_matches_nothing_returns_nothing(seeded, run_cli):
    # alice -> bob holds only game-session; game-session-2 exists but gave alice nothing about bob
    code, out, _ = run_cli("representation", "alice", "--target", "bob", "--session", "game-session-2", "--json")
    assert code == 0, out
    assert out["conclusions"] == []
    code, out, _ = run_cli(
        "representation", "alice", "--target", "bob", "--session", "game-session-2", "--search-query", "breakfast",
        "--json", env=TEST_DOUBLE,
    )
    assert code == 0 and out["conclusions"] == []
    assert seeded.representation("alice", "bob", session_id="game-session-2", include_most_frequent=True).conclusions == []
    kept = seeded.representation("alice", "charlie", session_id="game-session-2").conclusions
    assert kept and {c.session_id for c in kept} == {"game-session-2"}
    result = run_cli("representation", "alice", "--target", "bob", "--session", "no-such-session", "--json")
    assert result.code == 3 and result.error_code == "SESSION_NOT_FOUND"


def test_empty_view_is_not_an_error_and_carries_a_hint(seeded, run_cli):
    # bob never observes others, so his view of charlie is empty
    code, out, _ = run_cli("representation", "bob", "--target", "charlie", "--json")
    assert code == 0, out
    assert out["conclusions"] == []
    assert "observe" in out["hint"] and "bob" in out["hint"]
    assert "Nothing is known yet" in out["representation"]
    code, text, _ = run_cli("representation", "bob", "--target", "charlie", env={"HONCHO_JSON": ""})
    assert code == 0 and "Nothing is known yet" in str(text)


def test_include_most_frequent_brings_in_the_most_reinforced(h):
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    for _ in range(5):  # written five times: derived five times
        h.create_conclusion("alice", "bob", "Bob plays chess every Sunday")
    for i in range(10):
        h.create_conclusion("alice", "bob", f"Bob mentioned errand number {i}")
    plain = h.representation("alice", "bob", max_conclusions=3)
    assert [c.content for c in plain.conclusions] == [f"Bob mentioned errand number {i}" for i in (9, 8, 7)]
    frequent = h.representation("alice", "bob", max_conclusions=3, include_most_frequent=True)
    assert len(frequent.conclusions) == 3
    top = frequent.conclusions[0]
    assert top.content == "Bob plays chess every Sunday" and top.times_derived == 5
    assert [c.content for c in frequent.conclusions[1:]] == [f"Bob mentioned errand number {i}" for i in (9, 8)]


# -- the two search paths agree -----------------------------------------------------------------


class _LookupEmbedder:
    """Query text -> a chosen vector, so a test decides exactly where a query lands."""

    dimensions = 384

    def __init__(self, table: dict) -> None:
        self.table = table

    def embed(self, texts):
        import numpy as np

        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def _clustered_collection(h, rng, clusters: int, size: int):
    """clusters x size conclusions in alice -> bob around random centres, two sessions; returns the centres."""
    import numpy as np

    from honcho_cli.core.conclusions import record_conclusion
    from honcho_cli.store.index_sync import catch_up

    for peer in ("alice", "bob"):
        h.create_peer(peer)
    h.create_session("s1", ["alice", "bob"])
    h.create_session("s2", ["alice", "bob"])
    centres = rng.standard_normal((clusters, 384))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    with h.store.write() as conn:
        for k in range(clusters):
            for j in range(size):
                v = centres[k] + rng.standard_normal(384) * 0.033
                v /= np.linalg.norm(v)
                recorded = record_conclusion(
                    conn, h.workspace, "alice", "bob", f"fact {j} of topic {k}", session_id=f"s{1 + j % 2}",
                    embedding=[float(x) for x in v.astype(np.float32)],
                )
                assert recorded.outcome == "new"
    catch_up(h.store, h.settings.vectors_path, until_done=True)  # as every writer does after its commit
    return centres


def test_lancedb_index_and_exact_scan_rank_the_same(h, monkeypatch):
    import numpy as np

    from honcho_cli.store import vectors

    monkeypatch.setattr(vectors, "INDEX_MIN_ROWS", 300)
    rng = np.random.default_rng(5)
    centres = _clustered_collection(h, rng, clusters=40, size=10)
    assert vectors.has_ann_index(h.settings.vectors_path, h.workspace, "alice", "bob"), "the index was built"

    queries = {}
    for k in (0, 7, 21, 39):
        q = centres[k] + rng.standard_normal(384) * 0.01
        queries[f"about topic {k}"] = q / np.linalg.norm(q)
    h.engine.use(embedder=_LookupEmbedder(queries))

    calls = {"ann": 0}
    real_search = vectors.VectorIndex.search

    def counting_search(self, *args, **kwargs):
        calls["ann"] += 1
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(vectors.VectorIndex, "search", counting_search)
    cases = [dict(search_top_k=5), dict(search_top_k=10), dict(search_top_k=8, session_id="s2"),
             dict(search_top_k=10, search_max_distance=0.25)]

    def ranking(**kwargs):
        out = {}
        for text in queries:
            for i, case in enumerate(cases):
                view = h.representation("alice", "bob", search_query=text, max_conclusions=10, **case, **kwargs)
                out[(text, i)] = [(c.id, c.distance) for c in view.conclusions if c.distance is not None]
        return out

    ann = ranking()
    assert calls["ann"] == len(queries) * len(cases)
    monkeypatch.setattr(vectors, "has_ann_index", lambda *args: False)
    exact = ranking()
    assert calls["ann"] == len(queries) * len(cases)  # the second pass never touched LanceDB
    for key in exact:
        assert [i for i, _ in ann[key]] == [i for i, _ in exact[key]], key
        assert [d for _, d in ann[key]] == pytest.approx([d for _, d in exact[key]], abs=1e-5), key
        assert exact[key], key
    # the topic's own facts come first, nearest first
    first = ann[("about topic 7", 1)]
    assert len(first) == 10 and all("topic 7" in c.content for c in h.representation(
        "alice", "bob", search_query="about topic 7", search_top_k=10, max_conclusions=10).conclusions)


# -- chat ------------------------------------------------------------------------------------


class _NoModel:
    def __getattr__(self, name):
        raise AssertionError(f"the chat model was used ({name}) although memory holds nothing")


def test_chat_with_empty_memory_says_i_dont_know_without_the_model(h, run_cli, tmp_path, monkeypatch):
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    monkeypatch.setenv("HONCHO_EMBEDDING_MODEL", "test-double")
    from honcho_cli import Honcho

    fresh = Honcho(data_dir=h.settings.data_dir)
    fresh.engine.use(chat=_NoModel())
    assert fresh.chat("alice", "What did Bob say about breakfast?", target="bob") == {
        "answer": "I don't know.", "conclusions": [], "messages": []
    }
    # a process whose chat model is not on disk still answers: it never loads it
    no_models = {"HONCHO_EMBEDDING_MODEL": "test-double", "HONCHO_CACHE_DIR": str(tmp_path / "empty-cache")}
    for extra in (("--json",), ("--json", "--stream"), ()):
        result = run_cli("chat", "alice", "What did Bob say about breakfast?", "--target", "bob", *extra, env=no_models)
        assert result.code == 0, result
        assert "I don't know." in result.stdout


def test_chat_query_length_is_1_to_10000_characters(h, run_cli):
    for peer in ("alice", "bob"):
        h.create_peer(peer)
    env = {"HONCHO_MODEL": "test-double"}
    for bad in ("", " " * 3, "x" * 10_001):
        result = run_cli("chat", "alice", bad, "--target", "bob", "--json", env=env)
        assert result.code == 2 and result.error_code == "INVALID_INPUT", result
    for good in ("?", "x" * 10_000):
        code, out, _ = run_cli("chat", "alice", good, "--target", "bob", "--json", env=env)
        assert code == 0 and out == {"answer": "I don't know.", "conclusions": [], "messages": []}, out


# -- the fills read the table's tail first, and still return exactly what a full sort does ------------


def test_newest_and_most_reinforced_match_a_full_sort(h, monkeypatch):
    import random
    from datetime import datetime, timedelta

    from honcho_cli.core import conclusions

    monkeypatch.setattr(conclusions, "RECENT_WINDOW_ROWS", 8)  # windows of 8, 64, 512 rows
    rng = random.Random(3)
    for peer in ("alice", "bob", "carol"):
        h.create_peer(peer)
    for s in ("s1", "s2", "s3"):
        h.create_session(s, ["alice", "bob", "carol"])
    start = datetime(2024, 1, 1)
    with h.store.write() as conn:
        for i in range(300):
            observer, observed = rng.choice([("alice", "bob"), ("alice", "bob"), ("carol", "bob"), ("bob", "bob")])
            # mostly chronological, with some late arrivals dated in the past and exact ties
            when = start + timedelta(minutes=i if rng.random() < 0.8 else rng.randrange(300))
            content = f"{observed} fact {rng.randrange(120)}"  # repeats reinforce
            conclusions.record_conclusion(
                conn, h.workspace, observer, observed, content, session_id=rng.choice(["s1", "s2", "s3"]),
                source_message_ids=[f"m{i}"], now=when,
            )
    with h.store.read() as conn:
        for order in ("recent", "frequent"):
            for observer, observed in (("alice", "bob"), ("carol", "bob"), ("bob", "bob"), ("carol", "carol")):
                for session_id in (None, "s2"):
                    for limit in (1, 5, 25, 100):
                        scope = dict(observer=observer, observed=observed, session_id=session_id)
                        expected = conclusions.list_conclusions(conn, h.workspace, order=order, limit=limit, **scope)
                        got = conclusions.top_conclusions(conn, h.workspace, order, limit=limit, **scope)
                        assert [c.id for c in got] == [c.id for c in expected], (order, scope, limit)
        assert max(c.times_derived for c in conclusions.list_conclusions(conn, h.workspace)) > 2


def test_small_collection_in_a_big_store_searches_its_own_lancedb_table(h, monkeypatch):
    """Past EXACT_SCAN_MAX_ROWS conclusions in the store, a collection without an index is
    searched flat in its own LanceDB table (DuckDB's scan would read every collection);
    the answer is the exact scan's."""
    import numpy as np

    from honcho_cli.core import conclusions
    from honcho_cli.store import vectors

    rng = np.random.default_rng(8)
    centres = _clustered_collection(h, rng, clusters=6, size=10)
    assert not vectors.has_ann_index(h.settings.vectors_path, h.workspace, "alice", "bob")
    queries = {f"near {k}": centres[k] for k in range(6)}
    h.engine.use(embedder=_LookupEmbedder(queries))
    calls = {"lance": 0}
    real_search = vectors.VectorIndex.search

    def counting_search(self, *args, **kwargs):
        calls["lance"] += 1
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(vectors.VectorIndex, "search", counting_search)

    def ranking():
        return {
            (text, session): [(c.id, c.distance) for c in h.representation(
                "alice", "bob", search_query=text, search_top_k=7, max_conclusions=7, session_id=session).conclusions]
            for text in queries for session in (None, "s1")
        }

    exact = ranking()
    assert calls["lance"] == 0
    monkeypatch.setattr(conclusions, "EXACT_SCAN_MAX_ROWS", 10)
    flat = ranking()
    assert calls["lance"] == len(exact)
    for key in exact:
        assert [i for i, _ in flat[key]] == [i for i, _ in exact[key]], key
        assert [d for _, d in flat[key]] == pytest.approx([d for _, d in exact[key]], abs=1e-5), key


def test_index_upkeep_keeps_every_row_findable_and_the_files_few(h, monkeypatch):
    """Small upserts (the deriver's pattern): files get compacted, the index catches up and is
    rebuilt past INDEX_MAX_DELTAS, and a row is found the moment it is written."""
    import numpy as np

    from honcho_cli.store import vectors

    monkeypatch.setattr(vectors, "INDEX_MIN_ROWS", 300)
    monkeypatch.setattr(vectors, "INDEX_CATCH_UP_MIN", 40)
    monkeypatch.setattr(vectors, "COMPACT_SMALL_FRAGMENTS", 8)
    monkeypatch.setattr(vectors, "COMPACT_SMALL_FRAGMENTS_INDEXED", 1_000)
    rng = np.random.default_rng(2)
    index = vectors.VectorIndex(h.settings.vectors_path, 384)
    name = vectors.collection_table(h.workspace, "alice", "bob")
    written = 0

    def upsert(n: int) -> list[tuple]:
        nonlocal written
        rows = []
        for _ in range(n):
            v = rng.standard_normal(384).astype(np.float32)
            rows.append((f"c_{written:05d}", h.workspace, "alice", "bob", "s1", "explicit", v / np.linalg.norm(v)))
            written += 1
        index.upsert(rows)
        return rows

    for _ in range(30):  # 60 rows in 30 files: compacted along the way
        upsert(2)
    table = index.table(name)
    assert table.stats()["fragment_stats"]["num_fragments"] < 8
    assert not vectors.has_ann_index(h.settings.vectors_path, h.workspace, "alice", "bob")
    upsert(300)
    assert vectors.has_ann_index(h.settings.vectors_path, h.workspace, "alice", "bob")
    for _ in range(12):  # 12 catch-ups of 40 rows: deltas, then a rebuild in one piece
        rows = upsert(40)
        probe = rows[-1]
        hits = index.search(probe[6], workspace_id=h.workspace, observer="alice", observed="bob", limit=1)
        assert hits[0][0] == probe[0] and hits[0][1] == pytest.approx(0.0, abs=1e-5)
        stats = table.index_stats("vector_idx")
        assert stats.num_unindexed_rows < max(40, stats.num_indexed_rows // vectors.INDEX_CATCH_UP_SHARE)
        assert stats.num_indices <= vectors.INDEX_MAX_DELTAS
    assert table.count_rows() == written
    assert index._trained_rows(name) > 300  # rebuilt at least once, on all the rows it had then
