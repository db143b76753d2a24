"""Making every stored fact a sentence about its subject, in the third person.

Small models often echo the speaker ("I had pancakes for breakfast.") or keep the
dialogue's label ("sam: No worries"). Stored as is, such a line says nothing about
whom it concerns once it sits in another peer's view. First-person forms are rewritten
to the speaker's name by rule; a fact that still does not name its subject is put as
something the subject said.
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
    (r"\bI can't\b|\bI cannot\b", "{name} cannot"),
    (r"\bI\b", "{name}"),
    (r"\bmyself\b", "themself"),
    # "mine" the pronoun, not "the mine" / "an old mine" / "a gold mine"
    (r"(?<!\bthe )(?<!\ba )(?<!\ban )(?<!old )(?<!gold )(?<!coal )(?<!silver )\bmine\b", "{name}'s"),
    (r"\bmy\b", "{name}'s"),
    (r"\bme\b", "{name}"),
]

# words after "I" that stay as they are when "I" becomes a name
_UNCHANGED = frozenset(
    """can could should might must may shall will would did was had also really just always never often still usually
    sometimes recently actually once only even already ever then now soon finally too both either neither""".split()
)
# past forms without -ed: "I went" must not become "I wents"
_IRREGULAR_PAST = frozenset(
    """ate began bent bet bit bled blew broke brought built burnt bought caught chose came cost crept cut dealt dug
    drew dreamt drank drove fell fed felt fought found fled flew forgot forgave froze got gave went ground grew hung
    heard hid hit held hurt kept knelt knew laid led leapt learnt left lent let lay lit lost made meant met paid put
    quit ran rang rode rose said saw sought sold sent set shook shone shot showed shut sang sank sat slept slid spoke
    spent spun split spread sprang stood stole stuck stung struck swore swept swam swung took taught tore told thought
    threw understood woke wore won wrote""".split()
)
_IRREGULAR = {"do": "does", "go": "goes", "have": "has", "be": "is", "am": "is"}


def _conjugate(verb: str) -> str:
    """Present tense, third person singular, for a verb that followed "I"."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if (
        verb in _UNCHANGED or verb in _IRREGULAR_PAST or verb.endswith(("ed", "ly", "s"))
        or not verb.isalpha() or not verb.islower()
    ):
        return verb
    if verb.endswith(("sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _conjugate_after_i(text: str) -> str:
    """Conjugate the verb after "I", looking past adverbs ("I finally finished", "I really love")."""

    def fix(m: re.Match) -> str:
        words = m.group(1).split(" ")
        for i, word in enumerate(words):
            if word.endswith("ly") or word in _UNCHANGED - {"did", "was", "had", "can", "could", "should", "might",
                                                              "must", "may", "shall", "will", "would"}:
                continue
            words[i] = _conjugate(word)
            break
        return "I " + " ".join(words)

    return re.sub(r"\bI ((?:[a-z]+ ){0,2}[a-z]+)\b(?!')", fix, text)


_LEAD_IN = re.compile(r"^(?:(?:yes|yeah|no|nope|well|oh|so|and|but|also|actually|honestly|anyway|ok|okay)[,!.]?\s+)+",
                      re.IGNORECASE)


def plain_first_person(sentence: str) -> str | None:
    """A sentence whose subject is the speaker ("I ...", "My ..."), without a lead-in word; else None.

    Only such sentences are safe to put in the third person by rule when the model left
    them out; anything else needs the model.
    """
    text = _LEAD_IN.sub("", sentence.strip())
    if len(text.split()) >= 3 and re.match(r"(I|I'm|I've|I'd|I'll|My)\b", text):
        return text[:1].upper() + text[1:]
    return None


# what makes a first-person sentence need the model: a second clause, or a word that points elsewhere
_NEEDS_READING = re.compile(
    r"[,;:(]|\b(?:and|but|or|so|because|which|who|whom|whose|when|where|while|if|unless|though|although|"
    r"it|its|it's|that|this|these|those|them|they|their|theirs|they're|he|she|him|her|his|hers|there|one|ones|"
    r"you|your|yours|we|us|our|ours)\b",
    re.IGNORECASE,
)


def phrased_by_rule(sentence: str) -> str | None:
    """A short, single-clause first-person sentence with nothing to resolve, ready for `third_person`;
    else None. The model would only copy such a sentence with its person changed, so the
    deriver spares the call ("I have lessons every Saturday morning." is kept as it is)."""
    text = _LEAD_IN.sub("", sentence.strip())
    plain = plain_first_person(text[:1].upper() + text[1:])  # "Yes, my sister came." is plain too
    if plain is None or len(plain.split()) > 14 or _NEEDS_READING.search(plain.rstrip(".!")):
        return None
    return plain


def strip_speaker_label(text: str, names: frozenset[str]) -> str:
    """Drop a leading "name:" that a model copied from the dialogue."""
    found = re.match(r"\s*([A-Za-z0-9_.@-]{1,64})\s*:\s+", text)
    if found and found.group(1).lower() in names:
        return text[found.end():]
    return text


def mentions(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text, flags=re.IGNORECASE) is not None


def capitalize_name(name: str) -> str:
    """How a peer id reads at the start of a sentence: sam -> Sam, mr_x stays mr_x."""
    return name[:1].upper() + name[1:] if name.isalpha() else name


def third_person(fact: str, name: str) -> str:
    """`fact` with the first person rewritten to `name`, and `name` present in it."""
    text = _conjugate_after_i(fact.strip())
    shown = capitalize_name(name)
    for pattern, replacement in _REWRITES:
        flags = 0 if pattern.startswith(r"\bI") else re.IGNORECASE
        text = re.sub(pattern, replacement.format(name=shown), text, flags=flags)
    if not mentions(text, name):  # a sentence that does not name its subject is reported as the subject's statement
        text = f"{shown} said that {_lower_first(text)}"
    return text[:1].upper() + text[1:]


_THIRD_PARTY_START = re.compile(
    r"^(he|he's|she|she's|they|they're|it|it's|there|this|that|these|those|the|his|her|their|its|nobody|everyone|"
    r"someone|somebody)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|us|our|ours)\b", re.IGNORECASE)


def phrase_note(
    note: str, speaker: str, peers: frozenset[str], retold: bool, addressee: str | None = None, source: str = ""
) -> str | None:
    """A model's note as a stored fact about `speaker`, the speaker of the line it came from; None to drop it.

    A note that starts with another peer of the session is the model mixing up
    speakers, unless the line names that peer (`retold`): then it is what the speaker
    said about them, and is kept as such. A small model also puts the speaker in as the
    subject of a sentence that was about someone else ("She grew up on the ridge" ->
    "Tobin grew up on the ridge"): when the `source` sentence speaks of a third party,
    the note becomes what the speaker said. "you" is the one spoken to (`addressee`).
    """
    text = strip_speaker_label(note, peers)
    shown = capitalize_name(speaker)
    found = re.match(r"\s*([A-Za-z0-9_.@-]+?)(?='s\b|\b)", text)
    named = found.group(1).lower() if found and found.group(1).lower() in peers else None
    if named is not None and named != speaker.lower():
        # the line names that peer, and the sentence the note rests on is about them, not the speaker's own
        if retold and not (source and _FIRST_PERSON.search(source) and not mentions(source, named)):
            return f"{shown} said that {second_person(text, addressee)}"
        text = shown + text[found.end():]
    elif named == speaker.lower() and not text[found.end():].startswith("'s") and _about_someone_else(source, speaker, peers):
        return _reported(shown, second_person(_lower_first(source), addressee))
    subject = re.match(r"\s*([A-Za-z0-9_.@-]+)", source)
    other = subject.group(1).lower() if subject else ""
    if (named == speaker.lower() and other in peers and other != speaker.lower() and mentions(text, other)
            and _FIRST_PERSON.search(source)):
        # "Mabel at the inn sent me." noted as "Rowan sent Mabel.": the two swapped; the sentence says it right
        return third_person(second_person(source.strip(), addressee), speaker)
    verb = re.match(rf"{re.escape(shown)} ([a-z]+)\b", text)
    if verb and re.search(rf"\bI {verb.group(1)}\b", source):  # "Tobin forge them" from "I forge them": conjugate
        text = "I " + text[len(shown) + 1:]
    text = third_person(second_person(text, addressee), speaker)
    if text.startswith(f"{shown} said that ") and _reported(shown, text[len(shown) + 11:]) is None:
        return None
    if re.search(rf"^{re.escape(shown)} \w+ {re.escape(shown)}\b(?!')|\b(?:from|by) {re.escape(shown)}\b", text):
        # "Tobin bought a lantern from Tobin": the speaker put in where someone else was; the
        # sentence itself, when someone else is its subject, says it right in the third person
        if _THIRD_PARTY_START.match(source.strip()) or re.match(r"\s*(?:A|An)\b", source):
            return third_person(second_person(source.strip(), addressee), speaker)
        return None
    return text


def _reported(speaker: str, clause: str) -> str | None:
    """"X said that <clause>", or None when the clause is a fragment ("Two silver.") that says nothing alone."""
    if len(re.findall(r"[A-Za-z0-9']+", clause)) < 3:
        return None
    return f"{speaker} said that {clause}"


def _about_someone_else(sentence: str, speaker: str, peers: frozenset[str]) -> bool:
    """A statement with no first person whose subject is a third party (a pronoun, "the ...", another peer)."""
    if not sentence or _FIRST_PERSON.search(sentence):
        return False
    first = re.match(r"\s*([A-Za-z0-9_.@'-]+)", sentence)
    word = first.group(1).lower() if first else ""
    return _THIRD_PARTY_START.match(sentence.strip()) is not None or (word in peers and word != speaker.lower())


def _lower_first(sentence: str) -> str:
    first, _, rest = sentence.strip().partition(" ")
    if first.lower() in ("a", "an", "he", "he's", "she", "she's", "they", "they're", "we", "we're", "we'll", "we've",
                         "it", "it's", "there", "this", "that",
                         "these", "those", "the", "his", "her", "their", "its", "nobody", "everyone", "someone",
                         "somebody"):
        first = first.lower()
    return f"{first} {rest}".strip()


_YOU = [
    (r"\byou're\b|\byou are\b", "{name} is"),
    (r"\byou've\b|\byou have\b", "{name} has"),
    (r"\byou'll\b", "{name} will"),
    (r"\byou'd\b", "{name} would"),
    (r"\byourself\b", "{name}"),
    (r"\byours\b|\byour\b", "{name}'s"),
    (r"\byou\b", "{name}"),
]


def second_person(text: str, addressee: str | None) -> str:
    """"you" as the name of the one spoken to, when it is known."""
    if addressee is None:
        return text
    shown = capitalize_name(addressee)
    for pattern, replacement in _YOU:
        text = re.sub(pattern, replacement.format(name=shown), text, flags=re.IGNORECASE)
    return text
