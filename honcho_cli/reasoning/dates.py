"""Turning relative time words in a fact into absolute dates, from the message's own date.

"Bob went hiking yesterday" stored forever would drift out of truth; "Bob went
hiking on 2023-05-07" does not. Done by rule after extraction, since small models
do this arithmetic badly.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta


def _day(when: datetime, delta: int = 0) -> str:
    return (when + timedelta(days=delta)).strftime("%Y-%m-%d")


def _rules(when: datetime) -> list[tuple[str, str]]:
    return [
        (r"\b(the day before yesterday)\b", "on " + _day(when, -2)),
        (r"\b(yesterday|last night)\b", "on " + _day(when, -1)),
        (r"\b(the day after tomorrow)\b", "on " + _day(when, 2)),
        (r"\b(tomorrow)\b", "on " + _day(when, 1)),
        (r"\b(today|tonight|this morning|this afternoon|this evening)\b", "on " + _day(when)),
        (r"\b(last week)\b", "in the week before " + _day(when)),
        (r"\b(next week)\b", "in the week after " + _day(when)),
        (r"\b(last month)\b", "in " + (when.replace(day=1) - timedelta(days=1)).strftime("%B %Y")),
        (r"\b(this month)\b", "in " + when.strftime("%B %Y")),
        (r"\b(last year)\b", "in " + str(when.year - 1)),
        (r"\b(this year)\b", "in " + str(when.year)),
        (r"\b(next year)\b", "in " + str(when.year + 1)),
    ]


def absolutize(text: str, when: datetime) -> str:
    """Replace relative day words; 'on on' and 'in in' from the model's own phrasing are folded."""
    for pattern, replacement in _rules(when):
        text = re.sub(r"\b(?:on |in )?" + pattern[2:], replacement, text, flags=re.IGNORECASE)
    return text
