"""Turning relative time words into dates, counted from the message's own date.

"Bob went hiking yesterday", stored as is, drifts out of truth the day after; it is
rewritten against the date of the message that said it. Dates are written as people
write them ("7 May 2023", "the Sunday before 25 May 2023", "June 2023"): that is how
a person reads a notebook, and how LoCoMo's gold answers are worded. Done by rule after
extraction: small models do this arithmetic badly.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3,
}
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}


def day_text(day: date | datetime) -> str:
    """7 May 2023 (no leading zero, month in full)."""
    return f"{day.day} {day.strftime('%B %Y')}"


def month_text(year: int, month: int) -> str:
    return date(year, month, 1).strftime("%B %Y")


def _shift_month(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _season_year(day: date, season: str, step: int) -> int:
    """The year of the last (-1), current (0) or next (+1) `season` seen from `day`."""
    start = _SEASONS[season]
    # a season is named by the year it starts in (winter 2023 runs December 2023 - February 2024)
    current_start = day.year if day.month >= start else day.year - 1
    in_it = (day.year * 12 + day.month) - (current_start * 12 + start) < 3
    if step == 0:
        return current_start if in_it else current_start + 1
    if step < 0:
        return current_start - 1 if in_it else current_start
    return current_start + 1


def _count(word: str) -> int | None:
    word = word.lower()
    if word.isdigit():
        return int(word)
    return _NUMBERS.get(word)


_COUNT = r"(\d+|a couple of|a few|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_UNIT = r"(day|week|weekend|month|year)s?"
_WEEKDAY = "(" + "|".join(WEEKDAYS) + ")"
_SEASON = "(spring|summer|autumn|fall|winter)"


def _rules(when: date) -> list[tuple[str, object]]:
    """(pattern, replacement) pairs, the longest phrases first."""

    def ago(m: re.Match) -> str:
        n, unit = _count(m.group(1)), m.group(2).lower()
        if n is not None and unit == "day":
            return "on " + day_text(when - timedelta(days=n))
        return f"{m.group(1)} {m.group(2)}{'s' if n != 1 else ''} before {day_text(when)}"

    def ahead(m: re.Match) -> str:
        n, unit = _count(m.group(1)), m.group(2).lower()
        if n is not None and unit == "day":
            return "on " + day_text(when + timedelta(days=n))
        return f"{m.group(1)} {m.group(2)}{'s' if n != 1 else ''} after {day_text(when)}"

    def weekday(direction: str):
        return lambda m: f"the {m.group(m.lastindex).capitalize()} {direction} {day_text(when)}"

    def season(step: int):
        def replace(m: re.Match) -> str:
            name = m.group(1).lower()
            return f"{name} {_season_year(when, name, step)}"

        return replace

    last_month, next_month = _shift_month(when, -1), _shift_month(when, 1)
    return [
        (r"the day before yesterday", "on " + day_text(when - timedelta(days=2))),
        (r"the day after tomorrow", "on " + day_text(when + timedelta(days=2))),
        (r"yesterday|last night", "on " + day_text(when - timedelta(days=1))),
        (r"tomorrow", "on " + day_text(when + timedelta(days=1))),
        (r"today|tonight|this morning|this afternoon|this evening", "on " + day_text(when)),
        (_COUNT + r" " + _UNIT + r" ago", ago),
        (r"in " + _COUNT + r" " + _UNIT + r"(?= |$|[.,;!?])", ahead),
        (r"next " + _WEEKDAY, weekday("after")),
        (r"this coming " + _WEEKDAY, weekday("after")),
        (r"(?:this past|last) " + _WEEKDAY, weekday("before")),
        (r"last week", "the week before " + day_text(when)),
        (r"next week", "the week after " + day_text(when)),
        (r"this week", "the week of " + day_text(when)),
        (r"last weekend", "the weekend before " + day_text(when)),
        (r"next weekend", "the weekend after " + day_text(when)),
        (r"this weekend", "the weekend of " + day_text(when)),
        (r"last month", month_text(*last_month)),
        (r"next month", month_text(*next_month)),
        (r"this month", month_text(when.year, when.month)),
        (r"last year", str(when.year - 1)),
        (r"next year", str(when.year + 1)),
        (r"this year", str(when.year)),
        (r"last " + _SEASON, season(-1)),
        (r"next " + _SEASON, season(1)),
        (r"this " + _SEASON, season(0)),
    ]


# a preposition the writer put before the phrase ("on yesterday", "in last month")
_PREPOSITION = r"(?P<prep>(?:on|in|during|over|since|by|from) )?"


def absolutize(text: str, when: datetime | date) -> str:
    """Replace relative time phrases in `text` with dates counted from `when`."""
    day = when.date() if isinstance(when, datetime) else when
    for pattern, replacement in _rules(day):
        inner = re.compile(pattern, re.IGNORECASE)
        outer = re.compile(r"\b" + _PREPOSITION + "(?P<phrase>" + pattern + r")\b", re.IGNORECASE)

        def substitute(m: re.Match, replacement=replacement, inner=inner) -> str:
            phrase = inner.fullmatch(m.group("phrase"))
            dated = replacement(phrase) if callable(replacement) else replacement
            return _with_preposition((m.group("prep") or "").strip(), dated)

        text = outer.sub(substitute, text)
    return text


def _with_preposition(preposition: str, dated: str) -> str:
    """Keep the writer's preposition unless the date brings its own ("on 7 May 2023")."""
    if not preposition:
        if re.match(r"the (" + "|".join(WEEKDAYS) + ")", dated, re.IGNORECASE):
            return "on " + dated
        if re.match(r"(\d{4}|[A-Z][a-z]+ \d{4}|(spring|summer|autumn|fall|winter) \d{4})$", dated):
            return "in " + dated
        return dated
    own = re.match(r"(on|in) ", dated)
    if own:
        return dated if preposition.lower() in ("on", "in") else f"{preposition} {dated[own.end():]}"
    if preposition.lower() in ("on", "in") and dated.startswith("the "):
        return ("in " if "week" in dated else "on ") + dated
    return f"{preposition} {dated}"
