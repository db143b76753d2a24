"""The instructions given to the local model, and the bounded schemas its answers must fit.

Instructions come first and never change between calls, so llama.cpp reuses their
KV cache; the per-call material (the messages) comes last. There are no worked
examples with invented facts: small models copy them into their answers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from honcho_cli.core.entities import Message

MAX_FACTS = 8
MAX_FACT_CHARS = 200

EXTRACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "maxItems": MAX_FACTS,
            "items": {"type": "string", "minLength": 3, "maxLength": MAX_FACT_CHARS},
        }
    },
    "required": ["facts"],
}

EXTRACTION_INSTRUCTIONS = """You record what a conversation reveals about one participant, called the TARGET.

Rules:
1. Read only the lines marked with >>. They are the TARGET's own messages. Other lines are context.
2. Write each fact as one short, complete sentence in the third person that begins with the TARGET's name. Never write "I" or "my".
3. Keep only what those lines state or plainly imply: plans, preferences, events, feelings, relationships, claims about others.
4. Copy names, numbers and dates exactly as written. Add nothing that the lines do not say.
5. If the TARGET's lines reveal nothing, answer with an empty list.

Answer in JSON: {"facts": [sentences]}"""


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


WINDOW_CHARS = 6_000  # about 1,500 tokens: instructions, context and answer still fit a 4,096-token context


def _pieces(text: str, size: int) -> list[str]:
    """Cut at whitespace into pieces of at most `size` characters."""
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        pieces.append(text[start:end].strip())
        start = end
    return [p for p in pieces if p]


def prompt_windows(messages: list[Message], context: list[Message]) -> list[tuple[list[Message], list[Message]]]:
    """The unit as one prompt, or, for a message too long for the model, one prompt per piece.

    A unit over the token budget is always a single message (the queue never batches
    past it), so only that case needs cutting; context goes with the first piece.
    """
    if len(messages) != 1 or len(messages[0].content) <= WINDOW_CHARS:
        return [(messages, context)]
    pieces = _pieces(messages[0].content, WINDOW_CHARS)
    return [([replace(messages[0], content=piece)], context if i == 0 else []) for i, piece in enumerate(pieces)]


def extraction_prompt(target: str, session_id: str, messages: list[Message], context: list[Message]) -> str:
    """The variable part: the target's batch interleaved with the context it was said in."""
    batch_ids = {m.id for m in messages}
    lines = []
    for message in sorted([*messages, *context], key=lambda m: m.seq_in_session):
        marker = ">> " if message.id in batch_ids else "   "
        text = " ".join(message.content.split())
        lines.append(f"{marker}[{_stamp(message.created_at)}] {message.peer_id}: {text}")
    return f"TARGET: {target}\nSession: {session_id}\n\n" + "\n".join(lines) + f"\n\nFacts about {target}:"
