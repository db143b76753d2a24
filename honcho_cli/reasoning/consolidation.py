"""Consolidation ("dreaming"): deductive conclusions and contradictions drawn within one view.

The model sees numbered premises and may return a few derived statements, each citing
premise numbers. A derived statement is kept only if it cites at least one primary
premise (one about the target), cites only premises that exist, and is worded from
what those premises say; otherwise it is dropped and counted like any unsupported fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from honcho_cli.reasoning.grounding import lexical_support

if TYPE_CHECKING:
    from honcho_cli.core.consolidation import ConsolidationJob
    from honcho_cli.reasoning.interfaces import ChatModel

DERIVED_LEVELS = ("deductive", "contradiction")
MAX_DERIVED = 4

SCHEMA = {
    "type": "object",
    "properties": {
        "conclusions": {
            "type": "array",
            "maxItems": MAX_DERIVED,
            "items": {
                "type": "object",
                "properties": {
                    "level": {"type": "string", "enum": list(DERIVED_LEVELS)},
                    "content": {"type": "string", "minLength": 8, "maxLength": 220},
                    "premises": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "integer", "minimum": 1, "maximum": 99}},
                },
                "required": ["level", "content", "premises"],
            },
        }
    },
    "required": ["conclusions"],
}

INSTRUCTIONS = """You review numbered notes that one person (the OBSERVER) holds about people they met.
Write new conclusions about the TARGET that follow from the notes:
- "deductive": something that must be true if the cited notes are true.
- "contradiction": two cited notes cannot both be true (for example, one person's account conflicts with another's).
Rules:
1. Cite the numbers of the notes each conclusion rests on. Cite at least one note about the TARGET.
2. Use only the notes. Do not repeat a note as it is; do not add outside knowledge.
3. If nothing new follows, answer with an empty list.
Answer in JSON: {"conclusions": [{"level": ..., "content": ..., "premises": [numbers]}]}"""


@dataclass
class Derived:
    level: str
    content: str
    premise_ids: list[str]
    source_message_ids: list[str]
    session_id: str | None


@dataclass
class ConsolidationOutcome:
    kept: list[Derived] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def consolidation_prompt(job: ConsolidationJob) -> str:
    lines = []
    for number, premise in enumerate(job.premises, start=1):
        where = f"{premise.session_id}" if premise.session_id else "several sessions"
        lines.append(f"{number}. [about {premise.observed}; heard in {where}] {premise.content}")
    return f"OBSERVER: {job.observer}\nTARGET: {job.observed}\n\nNOTES:\n" + "\n".join(lines) + "\n\nNew conclusions:"


def consolidate(chat: ChatModel, job: ConsolidationJob) -> ConsolidationOutcome:
    outcome = ConsolidationOutcome()
    if not job.primary or len(job.premises) < 2:
        return outcome
    answer = chat.complete_json(INSTRUCTIONS, consolidation_prompt(job), SCHEMA, max_tokens=MAX_DERIVED * 90)
    premises = job.premises
    known = {" ".join(p.content.lower().split()) for p in premises}
    for item in answer.get("conclusions") or []:
        content = " ".join(str(item.get("content", "")).split())
        cited = sorted({n for n in item.get("premises", []) if isinstance(n, int)})
        level = item.get("level")
        reason = ""
        if level not in DERIVED_LEVELS:
            reason = "unknown level"
        elif not cited or any(n < 1 or n > len(premises) for n in cited):
            reason = "cites notes that do not exist"
        elif not any(n <= len(job.primary) for n in cited):
            reason = "rests on no note about the target"
        elif content.lower() in known:
            reason = "repeats a note"
        else:
            support = lexical_support(content, " ".join(premises[n - 1].content for n in cited))
            if support < 0.5:
                reason = f"only {support:.0%} of its words come from the cited notes"
        if reason:
            outcome.dropped.append(f"{content} ({reason})")
            continue
        used = [premises[n - 1] for n in cited]
        sessions = {p.session_id for p in used}
        outcome.kept.append(
            Derived(
                level=level,
                content=content,
                premise_ids=[p.id for p in used],
                source_message_ids=list(dict.fromkeys(s for p in used for s in p.source_message_ids)),
                session_id=sessions.pop() if len(sessions) == 1 else None,
            )
        )
    return outcome
