"""The instructions given to the local model, and the bounded schemas its answers must fit.

Instructions come first and never change between calls, so llama.cpp reuses their
KV cache; the per-call material (the messages) comes last. There are no worked
examples with invented facts: small models copy them into their answers.
"""

from __future__ import annotations

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


def extraction_prompt(target: str, session_id: str, messages: list[Message], context: list[Message]) -> str:
    """The variable part: the target's batch interleaved with the context it was said in."""
    batch_ids = {m.id for m in messages}
    lines = []
    for message in sorted([*messages, *context], key=lambda m: m.seq_in_session):
        marker = ">> " if message.id in batch_ids else "   "
        text = " ".join(message.content.split())
        lines.append(f"{marker}[{_stamp(message.created_at)}] {message.peer_id}: {text}")
    return f"TARGET: {target}\nSession: {session_id}\n\n" + "\n".join(lines) + f"\n\nFacts about {target}:"
