"""Follow-ups in note text (issue 10): "call Sam back Friday at 3pm" -> a task due then.

Pure: the text, the note's time and the connection's zone in, follow-ups out; no clock, no I/O.

A sentence is a follow-up when it asks for an action (a verb of the `ACTIONS` list in its base
form, not negated: "no need to call" is none) and names a time at or after the note's (the
calendar is dateparser's: weekdays, dates, "tomorrow", "next week", "in 3 days", parts of
day). A past time ("we called last Friday") makes none. A time of day not said becomes
`default_time`; one said only as a time already past that day moves to the next day.

The title is the sentence without its time and without the fillers around the ask ("remind me
to", "I need to", ...). The key (what makes it the same follow-up across note edits) is the
title, normalised: an edited date keeps the key (the task's due date is updated), an edited
action is another follow-up.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["ACTIONS", "FollowUp", "find_follow_ups", "natural_date"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The asks a follow-up starts from, in their base form ("call", not "called").
ACTIONS = _words(
    """
    call ring phone email e-mail text message send forward follow check remind schedule book
    meet visit reach ping review prepare submit deliver draft confirm finalize finalise
    share invoice pay chase contact update demo present quote arrange set get circle touch
    sign renew discuss ask tell show order collect return drop pick
    """
)
# Negations before the ask: no follow-up.
_NOT = re.compile(
    r"\b(no need to|doesn't need to|not going to|won't|will not|never|cancel(?:led|ed)?|"
    r"already)\b|\b(?:don't|do not)\s+(?!forget\b)",
    re.IGNORECASE,
)
# Fillers before the ask, dropped from the title.
_FILLER = re.compile(
    r"^(?:(?:please|pls|ok|okay|so|and|also|then|note to self:?)\s+)*"
    r"(?:(?:i|we|you)\s+(?:need|needs|have|has|want|wants|got|must|should|will|'ll|"
    r"am going|are going|is going|plan|plans)\s+(?:to\s+)?|(?:i|we|you)'ll\s+|"
    r"(?:need|have|got|want) to\s+|remind me to\s+|reminder:?\s*(?:to\s+)?|"
    r"(?:don't|do not) forget to\s+|remember to\s+|let's\s+|must\s+|should\s+|"
    r"(?:todo|to do|action item|next step)s?:?\s*)*",
    re.IGNORECASE,
)
# A said time of day (dateparser resolves it; this only tells it was said).
_TIME_SAID = re.compile(
    r"\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d{2}\b|"
    r"\b(?:noon|midday|midnight|lunch(?:time)?)\b",
    re.IGNORECASE,
)
# Words a time expression is made of; a span without any of them ("we") is not one.
_DATE_WORDS = _words(
    """
    today tonight tomorrow tmrw tomorow monday tuesday wednesday thursday friday saturday
    sunday mon tue tues wed thu thur thurs fri sat sun january february march april may june
    july august september october november december jan feb mar apr jun jul aug sep sept oct
    nov dec week weeks weekend day days month months year years morning afternoon evening
    noon midnight hour hours minute minutes am pm eod
    """
)
_PAST = re.compile(r"\b(?:last|ago|yesterday|earlier|past|previous)\b", re.IGNORECASE)
# Parts of the day as the times they stand for, written so dateparser reads them (it resolves
# the calendar; these only name the hours: morning 9, afternoon 3 pm, evening 6 pm, ...).
_PARTS = {"morning": "9am", "afternoon": "3pm", "evening": "6pm", "night": "8pm"}
_REWRITES = (
    (
        re.compile(r"\bthis (morning|afternoon|evening)\b", re.I),
        lambda m: f"today at {_PARTS[m[1].lower()]}",
    ),
    (re.compile(r"\btonight\b", re.I), lambda m: "today at 8pm"),
    (
        re.compile(r"\b(?:end of (?:the )?day|eod|close of business|cob)\b", re.I),
        lambda m: "at 5pm",
    ),
    (
        re.compile(r"\b(morning|afternoon|evening|night)\b", re.I),
        lambda m: f"at {_PARTS[m[1].lower()]}",
    ),
    (re.compile(r"\bfirst thing\b", re.I), lambda m: ""),
    # "at 10" is a time of day, not October.
    (
        re.compile(r"\bat (\d{1,2})\b(?![:.]\d|\s*(?:am|pm|a\.m\.|p\.m\.))", re.I),
        lambda m: f"at {m[1]}:00",
    ),
)
_RELATIVE_TIME = re.compile(r"\b(?:hours?|minutes?|mins?|hrs?)\b", re.IGNORECASE)
_NUMBERS = _words(
    """
    a an one two three four five six seven eight nine ten eleven twelve couple few
    """
)
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[a-z][a-z'\-]*", re.IGNORECASE)


@dataclass(frozen=True)
class FollowUp:
    """One follow-up a note asks for: its key, the task's title, when it is due (aware, in the
    connection's zone) and the sentence it came from."""

    key: str
    title: str
    due: datetime
    sentence: str


def _settings(base: datetime) -> dict[str, Any]:
    return {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False}


@lru_cache(maxsize=1)
def _search() -> Any:
    from dateparser.search import search_dates  # a heavy import, only where notes are read

    return search_dates


def _parse(text: str, base: datetime) -> datetime | None:
    import dateparser

    parsed = dateparser.parse(text, languages=["en"], settings=_settings(base))
    return parsed if isinstance(parsed, datetime) else None


def _is_date(span: str) -> bool:
    words = {w.lower().strip(".,") for w in span.split()}
    return any(ch.isdigit() for ch in span) or bool(words & _DATE_WORDS)


def _datey(word: str) -> bool:
    w = word.lower().strip(".,")
    return any(ch.isdigit() for ch in w) or w in _DATE_WORDS or w in ("at", "of", "next", "this")


def _tight(span: str) -> str:
    """`span` without the words at its ends that are no part of a time (dateparser's spans
    run over: "Friday at 3pm about the"). No parse again: each costs about half a millisecond,
    and a word that names no time cannot change the moment."""
    words = span.split()
    while len(words) > 1 and not _datey(words[-1]):
        words = words[:-1]
    while len(words) > 1 and not _datey(words[0]):
        words = words[1:]
    return " ".join(words)


def _rewritten(text: str) -> str:
    """`text` with its parts of the day as the hours they stand for (`_REWRITES`)."""
    for rewrite, to in _REWRITES:
        text = rewrite.sub(to, text)
    return " ".join(text.split())


def natural_date(text: str, reference: datetime, default_time: time) -> datetime | None:
    """`text` as a moment, resolved against `reference` (aware: its zone is the connection's)
    preferring the future; a time of day not said is `default_time`. None when not a date."""
    base = reference.replace(tzinfo=None)
    text = _rewritten(text)
    moment = _parse(text, base)
    if moment is None:
        return None
    return _finish(moment, text, reference, default_time)


def _finish(moment: datetime, span: str, reference: datetime, default_time: time) -> datetime:
    zone = reference.tzinfo
    if not _TIME_SAID.search(span) and not _RELATIVE_TIME.search(span):
        moment = datetime.combine(moment.date(), default_time)
    local = moment.replace(tzinfo=zone)
    if local < reference and not _has_day(span):
        local += timedelta(days=1)  # "call at 10am", said at 11: tomorrow's
    return local


def _has_day(span: str) -> bool:
    words = {w.lower().strip(".,") for w in span.split()}
    return any(ch.isdigit() for ch in _TIME_SAID.sub("", span)) or bool(
        words & (_DATE_WORDS - {"am", "pm", "morning", "afternoon", "evening", "noon", "midnight"})
    )


# Little words that lead to a time ("by Friday", "for the 15th"); "in" only before a number
# ("in 3 days": "check in on Monday" keeps its "in").
_LEADS = _words(
    """
    on by at for before until till the this next coming of from around
    """
)


def _rolled_over(span: str, due: datetime, reference: datetime) -> bool:
    """A date named without its year that only the preference for the future put next year
    ("paid on November 30", said in December): it was a past one."""
    has_year = re.search(r"\b\d{4}\b", span) is not None
    return not has_year and due - reference > timedelta(days=300)


def _title(sentence: str, span: str) -> str:
    """The sentence without its time (and the little words that led to it) and fillers."""
    head, _, tail = sentence.partition(span)
    words = head.split()
    first = span.split()[0].lower() if span.split() else ""
    counted = first[:1].isdigit() or first in _NUMBERS
    while words and (words[-1].lower() in _LEADS or (words[-1].lower() == "in" and counted)):
        words.pop()
    text = " ".join([*words, *tail.split()])
    text = _FILLER.sub("", text).strip(" .,;:!-")
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    return text[:1].upper() + text[1:]


def _mentions_ask(sentence: str) -> bool:
    return not _NOT.search(sentence) and any(w.lower() in ACTIONS for w in _WORD.findall(sentence))


_OTHERS = _words(
    """
    he she they it he'll she'll they'll it'll he'd she'd they'd
    """
)
# Words that may come before the ask ("maybe call Sam", "Sam: call him").
_BEFORE_ASK = _words(
    """
    maybe also then quickly definitely just please pls plz ok okay so and
    """
)


def _asks(text: str) -> bool:
    """The ask leads the sentence once its time and the fillers are gone ("Call Sam ...",
    "Maybe email Dana ..."); what someone else will do ("he'll call us", "Sam will send it")
    is not one."""
    text = re.sub(r"^[\w'-]+:\s+", "", _FILLER.sub("", text.strip()))  # "Sam: call him"
    words = [w.lower() for w in _WORD.findall(_FILLER.sub("", text))]
    if not words or words[0] in _OTHERS:
        return False
    return words[0] in ACTIONS or (
        len(words) > 1 and words[0] in _BEFORE_ASK and words[1] in ACTIONS
    )


def find_follow_ups(
    text: str, reference: datetime, *, default_time: time = time(9, 0)
) -> list[FollowUp]:
    """The follow-ups `text` asks for; `reference` is the note's time (aware, in the
    connection's zone). One per sentence at most; the first future time in it counts."""
    if reference.tzinfo is None:
        raise ValueError("reference must be aware (the connection's zone)")
    out: list[FollowUp] = []
    for sentence in (s.strip() for s in _SENTENCES.split(text or "")):
        if not sentence or not _mentions_ask(sentence):
            continue
        sentence = _rewritten(sentence)
        # The sentence, else each of its clauses ("the board meets Friday, call him Monday").
        for part in (sentence, *(c.strip() for c in sentence.split(",")[1:])):
            found = _follow_up(part, reference, default_time)
            if found is not None:
                out.append(found)
                break
    return out


def _follow_up(sentence: str, reference: datetime, default_time: time) -> FollowUp | None:
    if not _is_date(sentence):
        return None  # no digit and no time word: dateparser (about a millisecond) can find none
    base = reference.replace(tzinfo=None)
    for span, moment in _search()(sentence, languages=["en"], settings=_settings(base)) or []:
        if not _is_date(span) or _PAST.search(span):
            continue
        span = _tight(span)
        due = _finish(moment, span, reference, default_time)
        if due.date() < reference.date() or _rolled_over(span, due, reference):
            return None  # a past day: something done, not to do
        title = _title(sentence, span)
        if not title or not _asks(title):
            return None
        key = hashlib.sha256(" ".join(title.casefold().split()).encode()).hexdigest()[:16]
        return FollowUp(key, title, due, sentence)
    return None
