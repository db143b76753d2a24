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
    (r"\bI don't\b|\bI do not\b", "{name} does not"),
    (r"\bI didn't\b", "{name} did not"),
    (r"\bI\b", "{name}"),
    (r"\bmyself\b", "themself"),
    (r"\bmine\b", "{name}'s"),
    (r"\bmy\b", "{name}'s"),
    (r"\bme\b", "{name}"),
]


# words after "I" that stay as they are when "I" becomes a name
_UNCHANGED = frozenset(
    """can could should might must may shall will would did was had also really just always never often still usually
    sometimes recently actually once only even already ever then now soon""".split()
)
_IRREGULAR = {"do": "does", "go": "goes", "have": "has", "be": "is", "am": "is"}


def _conjugate(verb: str) -> str:
    """Present tense, third person singular, for a verb that followed "I"."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb in _UNCHANGED or verb.endswith("ed") or not verb.isalpha() or not verb.islower():
        return verb
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def third_person(fact: str, name: str) -> str:
    text = fact.strip()
    text = re.sub(r"\bI ([a-z]+)\b(?!')", lambda m: f"I {_conjugate(m.group(1))}", text)
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement.format(name=name), text, flags=0 if pattern.startswith(r"\bI") else re.IGNORECASE)
    if not re.search(rf"\b{re.escape(name)}\b", text, flags=re.IGNORECASE):
        text = f"{name}: {text}"
    return text
