"""Keeping only facts that their source messages actually support.

Small models copy examples and invent details ("bob is 25 years old" from nothing).
A fact survives only if most of its content words appear in the target's own
messages of the unit (names and filler words do not count) and its embedding is
not far from the closest of those messages. Both checks are cheap and need no
second model call; a dropped fact is counted, never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves also says said say told tells tell mentions
    mentioned mention states stated state likes really much many thing things someone something person people one
    user target peer talks talked talk speaks spoke message messages conversation session""".split()
)

MIN_LEXICAL_SUPPORT = 0.5
MIN_SIMILARITY = 0.25
SAME_SOURCE_MARGIN = 0.05  # a source this close to the best one says the same thing again
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def content_words(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    words = []
    for word in _WORD.findall(text.lower()):
        word = word.split("'")[0]
        if word and word not in STOPWORDS and word not in ignore and len(word) > 1 or word.isdigit():
            words.append(word)
    return words


def _same_word(a: str, b: str) -> bool:
    """Equal, or sharing a stem-length prefix (pancake/pancakes, hike/hiking, lied/lie)."""
    if a == b:
        return True
    if a.isdigit() or b.isdigit():
        return False
    n = min(len(a), len(b))
    if n < 3:
        return False
    stem = max(3, min(5, n - 1)) if n <= 5 else 5
    return a[:stem] == b[:stem]


def lexical_support(fact: str, source: str, ignore: frozenset[str] = frozenset()) -> float:
    """Share of the fact's content words found in the source (0.0 when it has none)."""
    fact_words = content_words(fact, ignore)
    if not fact_words:
        return 0.0
    source_words = set(content_words(source, ignore))
    found = sum(1 for w in fact_words if any(_same_word(w, s) for s in source_words))
    return found / len(fact_words)


@dataclass
class Judgement:
    fact: str
    supported: bool
    lexical: float
    similarity: float | None
    best_source: int  # index of the closest source message
    reason: str = ""
    supporting: list[int] = field(default_factory=list)  # every source that states it as well as the best one


@dataclass
class GroundingReport:
    kept: list[Judgement] = field(default_factory=list)
    dropped: list[Judgement] = field(default_factory=list)


def judge(
    facts: list[str],
    sources: list[str],
    *,
    names: frozenset[str] = frozenset(),
    similarities: list[list[float]] | None = None,
) -> GroundingReport:
    """Split facts into supported and unsupported.

    `similarities[i][j]` is the cosine similarity of fact i and source j when an
    embedder is at hand; without it only the lexical test applies.
    """
    joined = "\n".join(sources)
    report = GroundingReport()
    for i, fact in enumerate(facts):
        lexical = lexical_support(fact, joined, names)
        per_source = [lexical_support(fact, s, names) for s in sources]
        best = max(range(len(sources)), key=lambda j: per_source[j]) if sources else 0
        similarity = None
        if similarities is not None and sources:
            best = max(range(len(sources)), key=lambda j: similarities[i][j])
            similarity = similarities[i][best]
        reason = ""
        if lexical < MIN_LEXICAL_SUPPORT:
            reason = f"only {lexical:.0%} of its content words appear in the source"
        elif similarity is not None and similarity < MIN_SIMILARITY:
            reason = f"too far from the source (similarity {similarity:.2f})"
        supporting = [
            j for j in range(len(sources))
            if j == best or (
                per_source[j] >= max(per_source[best], MIN_LEXICAL_SUPPORT)
                and (similarities is None or similarities[i][j] >= similarities[i][best] - SAME_SOURCE_MARGIN)
            )
        ]
        judgement = Judgement(fact, not reason, lexical, similarity, best, reason, supporting)
        (report.kept if judgement.supported else report.dropped).append(judgement)
    return report
