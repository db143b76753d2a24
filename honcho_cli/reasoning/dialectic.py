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

from honcho_cli.core.representation import Representation, render_conclusion

if TYPE_CHECKING:
    from honcho_cli.core.entities import Message
    from honcho_cli.reasoning.interfaces import ChatModel

MAX_QUERY_CHARS = 10_000
DONT_KNOW = "I don't know."


@dataclass(frozen=True)
class ReasoningLevel:
    max_conclusions: int
    message_tokens: int
    answer_tokens: int
    evidence_messages: int  # witnessed messages retrieved by meaning, quoted beside the notes


REASONING_LEVELS = {
    "minimal": ReasoningLevel(8, 256, 64, 2),
    "low": ReasoningLevel(15, 512, 128, 4),
    "medium": ReasoningLevel(25, 1024, 192, 6),
    "high": ReasoningLevel(40, 2048, 256, 10),
    "max": ReasoningLevel(60, 4096, 384, 16),
}

INSTRUCTIONS = """You answer a question about a person using only the NOTES and RECENT MESSAGES given below.
- Answer in one or two short sentences.
- Use only facts written in the notes or messages. Do not guess and do not add details.
- If they do not contain the answer, reply exactly: I don't know."""


@dataclass
class ChatContext:
    question: str
    representation: Representation
    messages: list[Message] = field(default_factory=list)
    evidence: list[Message] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.representation.conclusions and not self.messages and not self.evidence

    def prompt(self) -> str:
        rep = self.representation
        if rep.is_self_view:
            about = f"The person is {rep.observed}."
        else:
            about = (
                f"The person is {rep.observed}. The notes are what {rep.observer} has witnessed of {rep.observed}; "
                f"answer from {rep.observer}'s point of view."
            )
        notes = "\n".join(f"{i}. {render_conclusion(c)}" for i, c in enumerate(rep.conclusions, start=1)) or "(none)"
        recent = "\n".join(f"{m.peer_id}: {' '.join(m.content.split())}" for m in self.messages) or "(none)"
        quoted = "\n".join(
            f"[{m.created_at.strftime('%Y-%m-%d')}, {m.session_id}] {m.peer_id}: {' '.join(m.content.split())}"
            for m in sorted(self.evidence, key=lambda m: (m.created_at, m.seq_in_session))
        ) or "(none)"
        return (
            f"{about}\n\nNOTES:\n{notes}\n\nRELATED MESSAGES:\n{quoted}\n\nRECENT MESSAGES:\n{recent}\n\n"
            f"QUESTION: {self.question}\nANSWER:"
        )


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


def answer(chat: ChatModel, context: ChatContext, level: ReasoningLevel) -> str:
    if context.is_empty:
        return DONT_KNOW
    text = chat.complete(INSTRUCTIONS, context.prompt(), max_tokens=level.answer_tokens).strip()
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
