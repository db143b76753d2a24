"""The chat prompt: what the question needs, within the reasoning level's budget, in a stable order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from honcho_cli.core.conclusions import Conclusion
from honcho_cli.core.representation import Representation
from honcho_cli.reasoning.dialectic import REASONING_LEVELS, ChatContext, estimate_tokens


def _note(i: int, text: str, day: int) -> Conclusion:
    when = datetime(2023, 5, day, 12, tzinfo=timezone.utc)
    return Conclusion(
        id=f"c{i:03d}", workspace_id="w", observer="caroline", observed="caroline", content=text, level="explicit",
        session_id="s", source_message_ids=[], premise_ids=[], times_derived=1, created_at=when, updated_at=when,
    )


def test_prompt_keeps_the_most_relevant_notes_within_the_budget_shown_in_the_order_said():
    # relevance order (as retrieved): the support group first, though said last
    notes = [_note(0, "Caroline went to an LGBTQ support group on 7 May 2023.", 8)]
    notes += [_note(i, f"Caroline mentioned unrelated detail number {i} about her garden and her week.", 1 + i % 5)
              for i in range(1, 60)]
    for name, level in REASONING_LEVELS.items():
        context = ChatContext("When did Caroline go to the support group?", Representation("caroline", "caroline", notes),
                              note_tokens=level.note_tokens)
        prompt = context.prompt()
        body = prompt.split("\n", 1)[1].rsplit("\n\nQuestion:", 1)[0]
        assert estimate_tokens(body) <= level.note_tokens * 1.1, name
        assert "support group on 7 May 2023" in prompt, name  # the most relevant note always makes it
        shown = [line for line in prompt.splitlines() if line.startswith("- [")]
        days = [int(line[3:line.index(" ", 3)]) for line in shown]
        assert days == sorted(days), name  # in the order said, whatever the relevance order
        assert prompt.endswith("Question: When did Caroline go to the support group?")
    low = ChatContext("q", Representation("caroline", "caroline", notes), note_tokens=REASONING_LEVELS["low"].note_tokens)
    high = ChatContext("q", Representation("caroline", "caroline", notes), note_tokens=REASONING_LEVELS["high"].note_tokens)
    assert len(high.prompt()) > 2 * len(low.prompt())


def test_a_directional_prompt_says_whose_eyes_it_sees_through():
    rep = Representation("alice", "bob", [_note(1, "Bob had pancakes for breakfast.", 3)])
    assert "Notes about Bob (only what alice witnessed):" in ChatContext("q", rep).prompt()
