"""Choosing the models a process reasons with.

The configured llama.cpp models by default. The name `test-double` (HONCHO_MODEL /
HONCHO_EMBEDDING_MODEL / --model) selects the deterministic test doubles instead;
nothing selects them implicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from honcho_cli.config import Settings
    from honcho_cli.reasoning.interfaces import ChatModel, Embedder

TEST_DOUBLE = "test-double"


def load_chat(settings: Settings) -> ChatModel:
    if settings.model == TEST_DOUBLE:
        from honcho_cli.reasoning.test_double import DeterministicTestModel

        return DeterministicTestModel()
    from honcho_cli.reasoning.llm import load_chat_model

    return load_chat_model(settings)


def _embedding_is_double(settings: Settings) -> bool:
    return settings.embedding_model == TEST_DOUBLE or (settings.model == TEST_DOUBLE and settings.embedding_model is None)


def load_embedder(settings: Settings) -> Embedder:
    if _embedding_is_double(settings):
        from honcho_cli.reasoning.test_double import DeterministicTestEmbedder

        return DeterministicTestEmbedder()
    from honcho_cli.reasoning.embedding import load_embedder as load_llama_embedder

    return load_llama_embedder(settings)


def configured_embedder_identity(settings: Settings) -> str:
    """`embedder_identity` of the model `load_embedder` would load, without loading it."""
    if _embedding_is_double(settings):
        return TEST_DOUBLE
    from honcho_cli.reasoning.model_files import resolve_embedding_model

    return resolve_embedding_model(settings).name


def check_chat_model_present(settings: Settings) -> None:
    """Raise ModelNotFound (naming the pull command) unless the chat model is on disk."""
    from honcho_cli.reasoning.model_files import resolve_chat_model

    if settings.model != TEST_DOUBLE:
        resolve_chat_model(settings)


def check_models_present(settings: Settings) -> None:
    """Raise ModelNotFound (naming the pull command) unless both models are on disk."""
    from honcho_cli.reasoning.model_files import resolve_chat_model, resolve_embedding_model

    if settings.model != TEST_DOUBLE:
        resolve_chat_model(settings)
    if not _embedding_is_double(settings):
        resolve_embedding_model(settings)


def embedder_identity(embedder: Embedder) -> str:
    """A name for the model behind a set of vectors: its file name, or the double's name."""
    path = getattr(embedder, "path", None)
    return path.name if path is not None else TEST_DOUBLE
