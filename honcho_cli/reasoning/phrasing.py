"""Making every stored fact name its subject, in the third person.

Small models often echo the speaker ("I had pancakes for breakfast."): stored as is,
such a line says nothing about who it concerns once it sits in another peer's view.
First-person forms are rewritten to the target's name by rule, and a fact that still
does not name the target is prefixed with it.
"""

from __future__ import annotations

import re

_REWRITES = [
    (r"\bI am\b|\bI'm\b", "{name} is"),
    (r"\bI was\b", "{name} was"),
    (r"\bI have\b|\bI've\b", "{name} has"),
    (r"\bI will\b|\bI'll\b", "{name} will"),
    (r"\bI would\b|\bI'd\b", "{name} would"),
    (r"\bI\b", "{name}"),
    (r"\bmyself\b", "themself"),
    (r"\bmine\b", "{name}'s"),
    (r"\bmy\b", "{name}'s"),
    (r"\bme\b", "{name}"),
]


def third_person(fact: str, name: str) -> str:
    text = fact.strip()
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement.format(name=name), text, flags=0 if pattern.startswith(r"\bI") else re.IGNORECASE)
    if not re.search(rf"\b{re.escape(name)}\b", text, flags=re.IGNORECASE):
        text = f"{name}: {text}"
    return text
