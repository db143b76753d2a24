"""Workspace-wide chat: the same dialectic, asked about everyone in a workspace at once.

Only the framing differs from a peer's chat: the notes come from every peer's own view
(each note names its person), so the prompt says so instead of naming one person.
"""

from __future__ import annotations

from dataclasses import dataclass

from honcho_cli.core.representation import render_conclusion
from honcho_cli.reasoning.dialectic import ChatContext


@dataclass
class WorkspaceChatContext(ChatContext):
    def prompt(self) -> str:
        notes = "\n".join(f"{i}. {render_conclusion(c)}" for i, c in enumerate(self.representation.conclusions, start=1)) or "(none)"
        recent = "\n".join(f"{m.peer_id}: {' '.join(m.content.split())}" for m in self.messages) or "(none)"
        quoted = "\n".join(
            f"[{m.created_at.strftime('%Y-%m-%d')}, {m.session_id}] {m.peer_id}: {' '.join(m.content.split())}"
            for m in sorted(self.evidence, key=lambda m: (m.created_at, m.seq_in_session))
        ) or "(none)"
        return (
            "The notes are about the people of one workspace; each note names its person.\n\n"
            f"NOTES:\n{notes}\n\nRELATED MESSAGES:\n{quoted}\n\nRECENT MESSAGES:\n{recent}\n\n"
            f"QUESTION: {self.question}\nANSWER:"
        )
