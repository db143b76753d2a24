"""Writing a session summary with the local model: the previous summary plus the newer messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from honcho_cli.errors import ModelError

if TYPE_CHECKING:
    from honcho_cli.core.summaries import SummaryJob
    from honcho_cli.reasoning.interfaces import ChatModel

INSTRUCTIONS = """You keep a running summary of a conversation.
- Write plain prose in the third person, naming who said what.
- Keep names, dates, numbers, plans and decisions. Leave out greetings and filler.
- Do not invent anything that is not in the summary so far or the new messages."""

ANSWER_TOKENS = {"short": 160, "long": 400}
LENGTH = {"short": "in at most four sentences", "long": "in at most three short paragraphs"}


def summary_prompt(job: SummaryJob) -> str:
    previous = job.previous.content if job.previous else "(nothing yet)"
    lines = "\n".join(
        f"[{m.created_at.strftime('%Y-%m-%d %H:%M')}] {m.peer_id}: {' '.join(m.content.split())}" for m in job.messages
    )
    return (
        f"Session: {job.session_id}\n\nSUMMARY SO FAR:\n{previous}\n\nNEW MESSAGES:\n{lines}\n\n"
        f"Write the updated summary {LENGTH[job.kind]}:"
    )


def summarize(chat: ChatModel, job: SummaryJob) -> str:
    text = chat.complete(INSTRUCTIONS, summary_prompt(job), max_tokens=ANSWER_TOKENS[job.kind]).strip()
    if not text:
        raise ModelError("the model returned an empty summary", session_id=job.session_id)
    return text
