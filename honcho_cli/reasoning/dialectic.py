"""The dialectic: answering a question about a peer from one collection's conclusions.

The prompt holds only what the asked-for view contains (plus, with a session, the
recent messages the observer was present for), so a directional question can never
be answered from what the observer did not witness. With nothing relevant in
memory the answer is "I don't know" without a model call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honcho_cli.core.representation import Representation

if TYPE_CHECKING:
    from honcho_cli.core.entities import Message
    from honcho_cli.reasoning.interfaces import ChatModel

MAX_QUERY_CHARS = 10_000
DONT_KNOW = "I don't know."


@dataclass(frozen=True)
class ReasoningLevel:
    max_conclusions: int  # candidates retrieved by meaning
    note_tokens: int  # prompt budget for the notes and the quoted messages together
    message_tokens: int  # recent messages of the session, when one is given
    answer_tokens: int
    evidence_messages: int  # witnessed messages retrieved by meaning, quoted beside the notes


# The prompt is what a question costs on a CPU (~100-250 tokens a second of prefill here):
# each level buys a bigger one. The default, low, stays near 400 tokens.
REASONING_LEVELS = {
    "minimal": ReasoningLevel(8, 160, 128, 48, 2),
    "low": ReasoningLevel(15, 320, 256, 64, 4),
    "medium": ReasoningLevel(25, 640, 512, 128, 6),
    "high": ReasoningLevel(40, 1280, 1024, 192, 10),
    "max": ReasoningLevel(60, 2560, 2048, 256, 16),
}

INSTRUCTIONS = """You answer questions about a person from your notes, which are all you know about them.
- Answer in one short sentence, with the words of the notes where you can.
- The date in brackets is when a note was said; use it for questions about when.
- If the notes do not answer the question, reply exactly: I don't know."""

NOTES_SHARE = 0.7  # of the budget, for notes first; what they leave goes to quoted messages


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about four characters a token in English), for budgeting."""
    return len(text) // 4 + 1


def _day(when) -> str:
    return f"{when.day} {when.strftime('%B %Y')}"


def _fill(items: list[tuple[Any, str, str]], budget: int) -> tuple[list[str], int]:
    """The (when, id, line) items that fit the budget, taken in the given order, shown by (when, id)."""
    kept, used = [], 0
    for item in items:
        cost = estimate_tokens(item[2])
        if used + cost > budget:
            continue
        kept.append(item)
        used += cost
    return [line for _, _, line in sorted(kept, key=lambda item: (item[0], item[1]))], used


@dataclass
class ChatContext:
    question: str
    representation: Representation
    messages: list[Message] = field(default_factory=list)
    evidence: list[Message] = field(default_factory=list)
    note_tokens: int = REASONING_LEVELS["low"].note_tokens

    @property
    def is_empty(self) -> bool:
        return not self.representation.conclusions and not self.messages and not self.evidence

    def prompt(self) -> str:
        """The view's most relevant notes, then its own words, within the level's budget, each in the
        order they were said (two questions to one view then share a long prompt prefix, which
        llama.cpp does not read twice); the question last."""
        rep = self.representation
        name = rep.observed[:1].upper() + rep.observed[1:]
        notes = [(c.created_at, c.id, f"- [{_day(c.created_at)}] {c.content}") for c in rep.conclusions]
        quotes = [(m.created_at, m.id, f'- [{_day(m.created_at)}] "{" ".join(m.content.split())}"') for m in self.evidence]
        kept_notes, used = _fill(notes, int(self.note_tokens * NOTES_SHARE))
        kept_quotes, _ = _fill(quotes, self.note_tokens - used)
        whose = "" if rep.is_self_view else f" (only what {rep.observer} witnessed)"
        parts = [f"Notes about {name}{whose}:", *(kept_notes or ["(none)"])]
        if kept_quotes:
            parts += ["", f"{name}'s own words:", *kept_quotes]
        if self.messages:
            parts += ["", "Recent conversation:", *(f"{m.peer_id}: {' '.join(m.content.split())}" for m in self.messages)]
        parts += ["", f"Question: {self.question}"]
        return "\n".join(parts)


def fit_messages(messages: list[Message], token_budget: int) -> list[Message]:
    """The newest messages that fit the budget, oldest first."""
    kept: list[Message] = []
    used = 0
    for message in reversed(messages):
        if used + message.token_count > token_budget:
            break
        kept.append(message)
        used += message.token_count
    return list(reversed(kept))


def answer(chat: ChatModel, context: ChatContext, level: ReasoningLevel, instructions: str = INSTRUCTIONS) -> str:
    """The model's answer from the context alone (`instructions` may ask for another form, e.g. a short phrase)."""
    if context.is_empty:
        return DONT_KNOW
    text = chat.complete(instructions, context.prompt(), max_tokens=level.answer_tokens).strip()
    return text or DONT_KNOW


def stream_answer(chat: ChatModel, context: ChatContext, level: ReasoningLevel) -> Iterator[str]:
    if context.is_empty:
        yield DONT_KNOW
        return
    produced = False
    for piece in chat.stream(INSTRUCTIONS, context.prompt(), max_tokens=level.answer_tokens):
        produced = produced or bool(piece.strip())
        yield piece
    if not produced:
        yield DONT_KNOW


def chat_result(answer_text: str, context: ChatContext) -> dict[str, Any]:
    return {
        "answer": answer_text.strip(),
        "conclusions": [c.id for c in context.representation.conclusions],
        "messages": [m.id for m in context.evidence],
    }
