"""The two model shapes the deriver and dialectic program against.

Kept free of llama.cpp and numpy so that code which only needs the types (and the
test doubles) imports nothing heavy. The llama.cpp backends and the deterministic
test doubles both satisfy these protocols.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

EMBEDDING_DIMENSIONS = 384


@dataclass
class Usage:
    """Token counts and wall time of a model's most recent call, for logs and benchmarks."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class ChatModel(Protocol):
    usage: Usage

    def complete_json(self, system: str, prompt: str, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]: ...

    def complete(
        self, system: str, prompt: str, max_tokens: int, *, examples: Sequence[tuple[str, str]] = ()
    ) -> str: ...

    def stream(self, system: str, prompt: str, max_tokens: int) -> Iterator[str]: ...


@runtime_checkable
class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: list[str]) -> np.ndarray: ...
