"""Deterministic stand-ins for the chat model and the embedder, for tests only.

They have the same methods as LlamaChatModel and LlamaEmbedder, answer instantly,
need no model files, and give the same output for the same input in every process,
so pipeline tests can assert on exact conclusions. They are never chosen by
configuration; a test passes one in explicitly.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from honcho_cli.errors import ModelError
from honcho_cli.reasoning.interfaces import EMBEDDING_DIMENSIONS, Usage
from honcho_cli.reasoning.json_schema import schema_errors

if TYPE_CHECKING:
    import numpy as np

Responder = Callable[[str, str, "dict[str, Any] | None"], Any]
"""(system, prompt, schema or None) -> answer; return None to fall back to the rules."""

# `name: text`, as the deriver shows a line (`name (answering "...?"): text` when it answers a question)
_SPEAKER_LINE = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?([A-Za-z0-9_.@-]{1,64})(?:\s*\([^)]*\))?\s*:\s+(\S.*)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _first_words(text: str, limit: int) -> str:
    """At most `limit` words (a crude token budget), line breaks kept."""
    out, used = [], 0
    for line in text.splitlines():
        words = line.split()
        if used + len(words) > limit:
            words = words[: limit - used]
        if words:
            out.append(" ".join(words))
        used += len(words)
        if used >= limit:
            break
    return "\n".join(out)
# Property names that hold "who" rather than "what" when filling an object from a message.
_WHO_KEYS = {"peer", "peer_id", "speaker", "name", "author", "who", "observed", "subject", "sender"}


def _statements(prompt: str) -> list[tuple[str | None, str]]:
    """(speaker, sentence) pairs: from `name: text` lines if any, else from every line."""
    speaker_lines = [m for line in prompt.splitlines() if (m := _SPEAKER_LINE.match(line))]
    if speaker_lines:
        pairs = [(m.group(1), m.group(2)) for m in speaker_lines]
    else:
        pairs = [(None, line.strip()) for line in prompt.splitlines() if line.strip()]
    out: list[tuple[str | None, str]] = []
    for speaker, text in pairs:
        out.extend((speaker, s.strip()) for s in _SENTENCE_END.split(text) if s.strip())
    return out


class _Filler:
    """Builds a schema-valid value, drawing strings from the prompt's statements in order."""

    def __init__(self, statements: list[tuple[str | None, str]]) -> None:
        self.statements = statements or [(None, "nothing to report")]
        self.cursor = 0

    def _take(self) -> tuple[str | None, str]:
        item = self.statements[min(self.cursor, len(self.statements) - 1)]
        self.cursor += 1
        return item

    def value(self, schema: dict[str, Any], key: str | None = None, current: tuple[str | None, str] | None = None) -> Any:
        for combo in ("anyOf", "oneOf"):
            if combo in schema and schema[combo]:
                return self.value(schema[combo][0], key, current)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if "enum" in schema:
            return copy.deepcopy(schema["enum"][0])
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            statement = current if current is not None else None
            props: dict[str, Any] = schema.get("properties", {})
            if statement is None and any(p.get("type") == "string" for p in props.values()):
                statement = self._take()
            return {name: self.value(sub, name, statement) for name, sub in props.items()}
        if kind == "array":
            item_schema = schema.get("items", {"type": "string"})
            remaining = max(len(self.statements) - self.cursor, 0)
            count = min(schema.get("maxItems", 5), remaining)
            count = max(count, schema.get("minItems", 0))
            return [self.value(item_schema, None, None) for _ in range(count)]
        if kind == "string":
            speaker, sentence = current if current is not None else self._take()
            text = speaker if (key or "").lower() in _WHO_KEYS and speaker else sentence
            text = text[: schema.get("maxLength", len(text))]
            return text.ljust(schema.get("minLength", 0), ".")
        if kind == "integer":
            return int(schema.get("minimum", 0))
        if kind == "number":
            return float(schema.get("minimum", 0))
        if kind == "boolean":
            return False
        return None


class DeterministicTestModel:
    """A fake chat model for tests: canned answers by substring, a callable, or rules.

    Lookup order for each call: `responder(system, prompt, schema)` if given and it
    returns non-None; then the first `canned` key found in system+prompt (values may
    be callables taking the prompt); then the rules — JSON answers are filled from the
    prompt's `name: text` lines, one statement per array item; a plain completion of a
    single `name: text` line (the deriver asking about one line) gives each of its
    sentences on a line of its own, and other plain completions echo the last statement
    (worked `examples` are ignored). JSON answers are checked against the schema exactly as
    the real backend checks them, so a bad canned answer fails loudly.
    """

    def __init__(self, responder: Responder | None = None, *, canned: Mapping[str, Any] | None = None) -> None:
        self.responder = responder
        self.canned = dict(canned or {})
        self.usage = Usage()
        self.calls: list[dict[str, Any]] = []

    def _lookup(self, system: str, prompt: str, schema: dict[str, Any] | None) -> Any:
        if self.responder is not None:
            answer = self.responder(system, prompt, schema)
            if answer is not None:
                return answer
        haystack = f"{system}\n{prompt}"
        for key, answer in self.canned.items():
            if key in haystack:
                return answer(prompt) if callable(answer) else answer
        return None

    def _record(self, kind: str, system: str, prompt: str, schema: dict[str, Any] | None, output: str, started: float) -> None:
        self.calls.append({"kind": kind, "system": system, "prompt": prompt, "schema": schema})
        self.usage = Usage(len(f"{system} {prompt}".split()), len(output.split()), time.perf_counter() - started)

    def complete_json(self, system: str, prompt: str, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        started = time.perf_counter()
        answer = self._lookup(system, prompt, schema)
        if answer is None:
            answer = _Filler(_statements(prompt)).value(schema)
        problems = schema_errors(answer, schema)
        if problems or not isinstance(answer, dict):
            raise ModelError(f"test double's answer does not fit the schema: {'; '.join(problems[:3]) or 'not an object'}")
        self._record("json", system, prompt, schema, str(answer), started)
        return copy.deepcopy(answer)

    def complete(self, system: str, prompt: str, max_tokens: int, *, examples: Any = ()) -> str:
        started = time.perf_counter()
        answer = self._lookup(system, prompt, None)
        if answer is None:
            statements = _statements(prompt)
            if len(prompt.strip().splitlines()) == 1 and statements and statements[0][0] is not None:
                answer = "\n".join(sentence for _, sentence in statements)  # one speaker's line: note each sentence
            else:
                answer = statements[-1][1] if statements else ""
        text = _first_words(str(answer), max(max_tokens, 0))
        self._record("text", system, prompt, None, text, started)
        return text

    def stream(self, system: str, prompt: str, max_tokens: int, *, examples: Any = ()) -> Iterator[str]:
        words = self.complete(system, prompt, max_tokens, examples=examples).split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word


_STOPWORDS = frozenset(
    "a an the and or but of to in on at for with by from as is are was were be been am i you he she it we they me my "
    "your his her its our their this that these those do does did not no so than then there here have has had".split()
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class DeterministicTestEmbedder:
    """Hashed bag of (lower-cased, crudely stemmed, stop-word-free) words in 384 dims.

    Texts that share content words come out near each other, which is enough for
    retrieval tests to rank the obvious match first without a model.
    """

    dimensions = EMBEDDING_DIMENSIONS

    def __init__(self) -> None:
        self.calls = 0

    def _features(self, text: str) -> list[str]:
        words = [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS]
        return words or ["<empty>"]

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts")
        self.calls += 1
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dimensions
                out[row, index] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
