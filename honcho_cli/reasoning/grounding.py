"""Tying each note of the model to the line that states it, and keeping only supported notes.

Small models copy examples, invent details ("bob is 25 years old" from nothing), cite
the wrong line and mix up speakers. A note survives only if most of its content words
appear in the statements of one line of the window (names and filler words do not
count; a question asserts nothing) and its embedding is not far from that line. The
line it is tied to decides whom it is about: its speaker. Both checks are cheap and
need no second model call; a dropped note is counted, never stored.
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


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|we'd|we'll|us|our|ours)\b", re.IGNORECASE)
_SECOND_PERSON = re.compile(r"\b(you|your|yours|you're|you've|you'll|you'd|yourself)\b", re.IGNORECASE)


_CLAUSE_BEFORE_QUESTION = re.compile(r"(?<=[a-z0-9]), (?=(?:so|but|and) \w+ [^,]*\?$)")


def sentences(text: str) -> list[str]:
    """Sentences, with a statement cut off the question it leads into ("I'm vegetarian now, so can we ...?")."""
    out = []
    for sentence in (p.strip() for p in _SENTENCE_END.split(" ".join(text.split()))):
        if sentence.endswith("?"):
            out.extend(part.strip() for part in _CLAUSE_BEFORE_QUESTION.split(sentence, maxsplit=1))
        elif sentence:
            out.append(sentence)
    return [s for s in out if s]


def speaks_for_self(sentence: str) -> bool:
    return _FIRST_PERSON.search(sentence) is not None


def is_question(sentence: str) -> bool:
    return sentence.rstrip(" \"')").endswith("?")


_REACTION_OPENERS = re.compile(
    r"^(that's|that is|that was|this is|sounds|what a|how|wow|whoa|congrats|congratulations|oh|aw+|ah|ha(ha)*|lol|"
    r"thanks|thank|nice|great|cool|awesome|amazing|lovely|good|glad|sure|ok|okay|yes|yeah|yep|no|nope|respect|well|"
    r"hey|hi|hello|evening|morning|good morning|bye|see you|cheers|same|totally|exactly|absolutely|indeed|ouch|"
    r"sorry|poor|fair|right|true|wonderful|fantastic|brilliant|perfect|fun|cute|beautiful)\b",
    re.IGNORECASE,
)


# social moves that state nothing even inside an answer ("Thanks, John!", "Hey Nate!", "Sounds great!"):
# skipped without ending what the line carries on ("Sounds great, Jon! Next Friday works.")
_SOCIAL_OPENERS = re.compile(
    r"^(thanks|thank you|thx|hey|hi|hello|congrats|congratulations|wow|whoa|haha|lol|cheers|bye|see you|good luck|"
    r"nice|awesome|that's awesome|that's great|that's amazing|sounds|glad|long time|aw+|omg)\b",
    re.IGNORECASE,
)


def statements(text: str, *, answers_a_question: bool = False) -> list[str]:
    """The sentences of a line in which its speaker tells something.

    A question asserts nothing, and neither does a reaction to the one spoken to ("That's
    a great time!", "You should!", "Night shifts sound exhausting."): taken as facts they
    would land in the view of the one who reacted. Kept: what is said in the first
    person, what carries on from it ("We adopted a cat. She's a tabby."), the start of
    an answer to a question just asked ("Two weeks, hopefully in April."), and other
    plain statements that are neither addressed to anyone nor short exclamations
    ("The corner room has the oak table.").
    """
    out: list[str] = []
    carrying = answers_a_question
    for sentence in sentences(text):
        if is_question(sentence):
            carrying = False
            continue
        words = sentence.split()
        first = speaks_for_self(sentence)
        if not first and _SOCIAL_OPENERS.match(sentence.lstrip("\"'(*")):
            continue
        second = _SECOND_PERSON.search(sentence) is not None
        reaction = len(words) <= 4 or _REACTION_OPENERS.match(sentence.lstrip("\"'(*")) is not None
        if first or (carrying and not second) or not (second or reaction):
            out.append(sentence)
            carrying = True
        else:
            carrying = False
    return out


@dataclass
class Line:
    """One line of the window as grounding sees it."""

    speaker: str
    said: list[str]  # its statements (see `statements`)
    asked: str = ""  # the question it answers, said just before by someone else

    def support_text(self) -> str:
        return f"{' '.join(self.said)} {self.asked}"


@dataclass
class Grounded:
    """A note tied to the line it comes from (index into the window's lines)."""

    note: str
    line: int
    lexical: float
    similarity: float | None
    supporting: list[int] = field(default_factory=list)  # every line of the same speaker that states it
    retold: bool = False  # about another peer of the session, whom the line names
    sentence: str = ""  # the line's statement it rests on most


@dataclass
class GroundingReport:
    kept: list[Grounded] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # "note (reason)"


def subject_peer(note: str, peers: frozenset[str]) -> str | None:
    """The session peer a note starts with ("Sam ...", "Sam's ..."), if any."""
    found = re.match(r"\s*([A-Za-z0-9_.@-]+?)(?='s\b|\b)", note)
    if found and found.group(1).lower() in peers:
        return found.group(1).lower()
    return None


def ground(
    notes: list[tuple[int, str]],
    lines: list[Line],
    *,
    peers: frozenset[str],
    similarities: list[list[float]] | None = None,
    copied_words: frozenset[str] = frozenset(),
) -> GroundingReport:
    """Keep each (line index, note) that its line supports; drop the rest with the reason.

    `similarities[i][j]` is the cosine similarity of note i and line j when an embedder
    is at hand; without it only the lexical test applies. A note with one of
    `copied_words` (the worked examples' own) that its line lacks is dropped. A note is also credited to
    every other line of the same speaker that states it at least as well (a statement
    repeated within the window reinforces the conclusion once per message).
    """
    report = GroundingReport()
    for i, (index, note) in enumerate(notes):
        line = lines[index]
        copied = (set(content_words(note)) & copied_words) - set(content_words(line.support_text()))
        if copied:
            report.dropped.append(f"{note} (copied from the worked examples: {', '.join(sorted(copied))})")
            continue
        lexical = lexical_support(note, line.support_text(), peers) if line.said else 0.0
        similarity = None if similarities is None else similarities[i][index]
        if lexical < MIN_LEXICAL_SUPPORT:
            report.dropped.append(f"{note} (only {lexical:.0%} of its content words are in what {line.speaker} said)")
            continue
        if similarity is not None and similarity < MIN_SIMILARITY:
            report.dropped.append(f"{note} (too far in meaning from the line, similarity {similarity:.2f})")
            continue
        supporting = [
            j for j, other in enumerate(lines)
            if j == index or (
                other.speaker == line.speaker and other.said
                and lexical_support(note, " ".join(other.said), peers) >= lexical
                and (similarities is None or similarities[i][j] >= similarity - SAME_SOURCE_MARGIN)
            )
        ]
        named = subject_peer(note, peers)
        retold = named is not None and named != line.speaker.lower() and re.search(
            rf"\b{re.escape(named)}\b", " ".join(line.said), re.IGNORECASE
        ) is not None
        sentence = max(line.said, key=lambda said: lexical_support(note, said, peers))
        report.kept.append(Grounded(note, index, lexical, similarity, supporting, retold, sentence))
    return report


def uncovered(said: list[str], notes: list[str], names: frozenset[str] = frozenset()) -> list[str]:
    """The statements of a line that none of the model's notes carries (most of their words missing).

    Small models drop sentences, negations first ("I didn't have breakfast. I lied to Bob."
    gave only "Charlie lied to Bob.").
    """
    written = " ".join(notes)
    return [s for s in said if content_words(s, names) and lexical_support(s, written, names) < MIN_LEXICAL_SUPPORT]
