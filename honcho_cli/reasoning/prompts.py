"""What the deriver asks the local model, and how its answer is read back.

The model is asked about one line at a time: what its speaker says about themselves,
rewritten as short third-person notes, one per output line. Measured on the default
0.5B model, a whole window of numbered lines made it copy the lines back, labels and
all; a multi-turn transcript made it loop; one line after a few worked examples gave
clean notes. The examples and instructions never change, so llama.cpp keeps their KV
cache and each call prefills little more than its own line.

Only the sentences in which the speaker asserts something (see grounding.statements)
are shown, and a line with none is not sent at all: questions, greetings and reactions
cost nothing and cannot become "facts" about the one who asks. A line that opens with a
bare answer ("Two weeks, hopefully in April.") carries the question it answers, inline:
shown as an earlier turn, the question made the model answer "-" for the next line too.

The worked examples use invented names and places: if the model copies them,
grounding finds no support in the line and drops the note.
"""

from __future__ import annotations

import functools
import re

MAX_NOTE_CHARS = 240
NOTE_TOKENS_PER_SENTENCE = 28
MIN_NOTE_TOKENS = 40
MAX_LINE_CHARS = 1_500  # about 400 tokens: a longer message is read in pieces of this size

EXTRACTION_INSTRUCTIONS = """You keep notes about the people in a conversation. You get one line at a time, as "speaker: text".
Write down every fact the line tells, one short sentence per line, in the third person: put the speaker's name where the line says I, me or my, and keep everyone else as they are.
Keep names, numbers, places and time words as written. Never write "you".
If the line tells no fact, answer with a single dash: -"""

EXAMPLES: list[tuple[str, str]] = [
    ("zed: Hi! I moved to Quorn last spring and I teach the oboe there.",
     "Zed moved to Quorn last spring.\nZed teaches the oboe in Quorn."),
    ("ula: I'm a nurse, so I work nights, but I'm free on Sundays.",
     "Ula is a nurse.\nUla works nights.\nUla is free on Sundays."),
    ("zed: We got a puppy on Friday! He's a beagle called Pip.",
     "Zed got a puppy on Friday.\nZed's puppy is a beagle called Pip."),
    ('zed (answering "How old is he?"): Ten weeks. My sister Mira chose him, and the vet told me he is healthy.',
     "Zed's puppy is ten weeks old.\nZed's sister Mira chose the puppy.\nThe vet told Zed that the puppy is healthy."),
    ("ula: The blue cottage by the pier has a red door. It's two coins a night.",
     "The blue cottage by the pier has a red door.\nThe blue cottage costs two coins a night."),
]


@functools.cache
def example_words() -> frozenset[str]:
    """Words of the worked examples' answers that an ordinary line would not contain: a note that
    has one its line lacks was copied from the examples."""
    from honcho_cli.reasoning.grounding import content_words

    said = " ".join(answer for _, answer in EXAMPLES)
    return frozenset(w for w in content_words(said) if len(w) > 2) - _COMMON_IN_EXAMPLES


_COMMON_IN_EXAMPLES = frozenset(
    "moved last spring teaches nurse works nights free sundays got friday called weeks old sister chose told "
    "healthy door red night two costs".split()
)


def line_prompt(speaker: str, sentences: list[str], answering: str = "") -> str:
    """One line as the model sees it; a line that opens with a bare answer carries its question."""
    asked = f' (answering "{" ".join(answering.split())}")' if answering else ""
    return f"{speaker}{asked}: {' '.join(sentences)}"


def note_budget(sentences: list[str]) -> int:
    return max(MIN_NOTE_TOKENS, NOTE_TOKENS_PER_SENTENCE * len(sentences))


def pieces(text: str, size: int = MAX_LINE_CHARS) -> list[str]:
    """Cut at whitespace into pieces of at most `size` characters."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        out.append(text[start:end].strip())
        start = end
    return [p for p in out if p]


_BULLET = re.compile(r"^\s*(?:[-*•]+|\d{1,3}[.)|:]|\(?\d{1,3}\))\s*")


def parse_notes(text: str) -> list[str]:
    """The notes of an answer: one per non-empty line, bullets and numbering stripped; "-" is none."""
    notes = []
    for raw in text.splitlines():
        note = " ".join(_BULLET.sub("", raw).split()).strip(" |")
        if len(note) >= 3 and re.search(r"[A-Za-z]", note) and not note.startswith(("{", "[", '"')):
            notes.append(note[:MAX_NOTE_CHARS])
    return notes


def says_nothing(answer: str) -> bool:
    """An answer without notes that is no more than a remark ("-", "No notes."), not a format failure.

    A model that answers in JSON or prose instead of notes must fail visibly, not leave a
    silently empty memory (the reference's most reported failure with local models).
    """
    text = answer.strip()
    return len(text) <= 60 and not text.startswith(("{", "["))
