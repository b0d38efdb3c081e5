"""Pure named transforms from TalkNotes values to HighLevel values.

Each raises TransformError naming the field and the problem; none does I/O or reads a clock.
"""

from __future__ import annotations

import email.utils
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

import phonenumbers
from dateutil import parser as dateutil_parser

from ._errors import TransformError
from ._followups import natural_date

__all__ = [
    "NameParts",
    "Priority",
    "default_due",
    "format_due",
    "normalise_completed",
    "normalise_email",
    "normalise_priority",
    "parse_due_date",
    "split_name",
    "to_e164",
]

Priority = Literal["low", "normal", "high", "urgent"]


@dataclass(frozen=True)
class NameParts:
    """A full name split for HighLevel: `name` is the whole name, whitespace collapsed."""

    name: str
    first: str | None
    last: str | None
    prefix: str | None = None


def _fold(word: str) -> str:
    return word.casefold().rstrip(".")


def split_name(
    full_name: str,
    *,
    rule: Literal["last_word", "first_word"] = "last_word",
    prefixes: Iterable[str] = (),
    suffixes: Iterable[str] = (),
    particles: Iterable[str] = (),
) -> NameParts | None:
    """Split `full_name` into first/last; None for a blank name.

    Prefixes ("Dr.") stay in `name` but not in first/last; suffixes ("Jr.") stay with the
    last name; particles ("van") join the surname that follows them under the last_word rule.
    No word is lost: prefix + first + last words are exactly the words of `name`.
    """
    words = unicodedata.normalize("NFC", full_name).split()
    if not words:
        return None
    name = " ".join(words)
    pre = {_fold(p) for p in prefixes}
    suf = {_fold(s) for s in suffixes}
    par = {_fold(p) for p in particles}
    lead = 0
    # Keep at least one word for first/last, so "Dr." alone is a first name.
    while lead < len(words) - 1 and _fold(words[lead]) in pre:
        lead += 1
    prefix = " ".join(words[:lead]) or None
    rest = words[lead:]
    if len(rest) == 1:
        return NameParts(name, rest[0], None, prefix)
    tail = len(rest)
    while tail > 2 and _fold(rest[tail - 1].rstrip(",")) in suf:
        tail -= 1
    if rule == "first_word":
        cut = 1
    else:
        cut = tail - 1
        while cut > 1 and _fold(rest[cut - 1]) in par:
            cut -= 1
    return NameParts(name, " ".join(rest[:cut]), " ".join(rest[cut:]), prefix)


def to_e164(raw: str, *, region: str, validation: Literal["possible", "valid"] = "valid") -> str:
    """A phone number in E.164 (+12125550123); numbers without +code are read in `region`.

    `valid` (the default) also requires a number range libphonenumber knows is assigned, so a
    short local number such as 555-0104 is refused instead of becoming +15550104.
    """
    text = str(raw).strip()
    if not text:
        raise TransformError("phone", "is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise TransformError("phone", f"not a phone number ({exc._msg}): {text!r}") from None
    ok = (
        phonenumbers.is_valid_number(number)
        if validation == "valid"
        else phonenumbers.is_possible_number(number)
    )
    if not ok:
        raise TransformError("phone", f"not a {validation} number for region {region}: {text!r}")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


_TRUE = frozenset({"true", "yes", "1", "done", "completed"})
_FALSE = frozenset({"false", "no", "0", "open", ""})


def normalise_completed(raw: object) -> bool:
    """A task's completed flag: booleans, 0/1 and true/false words; anything else is an error."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().casefold() in _TRUE | _FALSE:
        return raw.strip().casefold() in _TRUE
    raise TransformError("completed", f"not true or false: {raw!r}")


# Deliberately simple: one @, no spaces, a dotted domain. HighLevel validates too; the goal is
# to catch typing errors ("jane@", "jane at x.com") with a clear message before a 422.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def normalise_email(raw: str, *, lowercase: bool = True) -> str:
    """A trimmed (and optionally lowercased) email address, or TransformError."""
    text = unicodedata.normalize("NFC", str(raw)).strip()
    if not _EMAIL.match(text):
        raise TransformError("email", f"not an email address: {text!r}")
    return text.lower() if lowercase else text


_PRIORITY_WORDS: dict[str, Priority] = {
    "low": "low",
    "lo": "low",
    "minor": "low",
    "trivial": "low",
    "l": "low",
    "normal": "normal",
    "medium": "normal",
    "med": "normal",
    "standard": "normal",
    "default": "normal",
    "none": "normal",
    "m": "normal",
    "n": "normal",
    "high": "high",
    "hi": "high",
    "important": "high",
    "major": "high",
    "h": "high",
    "urgent": "urgent",
    "critical": "urgent",
    "highest": "urgent",
    "asap": "urgent",
    "blocker": "urgent",
    "u": "urgent",
}
# P-levels and bare numbers follow the common "P1 is the most urgent" convention.
_LEVELS: dict[int, Priority] = {0: "urgent", 1: "urgent", 2: "high", 3: "normal"}


def priority_key(word: str) -> str:
    """The form priority words are compared in: trimmed, inner spaces collapsed, casefolded."""
    return " ".join(word.split()).casefold()


def normalise_priority(
    raw: object, *, aliases: Mapping[str, Priority] | None = None
) -> Priority | None:
    """low/normal/high/urgent from words, numbers or P-levels (1 = urgent, 4+ = low).

    Words are matched case-insensitively after trimming; `aliases` (word: level) are checked
    before the built-in words and P-levels, so a mapping file can add or override any word.
    None for a blank value; TransformError for anything else unrecognised.
    """
    if isinstance(raw, bool):
        raise TransformError("priority", f"not a priority: {raw!r}")
    if raw is None:
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw != int(raw) or raw < 0:
            raise TransformError("priority", f"not a priority level: {raw!r}")
        return _LEVELS.get(int(raw), "low")
    if not isinstance(raw, str):
        raise TransformError("priority", f"not a priority: {raw!r}")
    text = priority_key(raw)
    if not text:
        return None
    if aliases:
        # Keys are folded here too, so a caller passing raw mapping-file keys still matches.
        folded = {priority_key(k): v for k, v in aliases.items()}
        if text in folded:
            return folded[text]
    if text in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[text]
    m = re.fullmatch(r"p?(\d)", text)
    if m:
        return _LEVELS.get(int(m.group(1)), "low")
    hint = "use low, normal, high, urgent, 1-5, P1-P5 or a tasks.priority.aliases word"
    raise TransformError("priority", f"unknown priority {raw.strip()!r} ({hint})")


# Epoch values at or above this are milliseconds: as seconds it is the year 2286, beyond the
# accepted range, and as milliseconds it is April 1970.
_MS_THRESHOLD = 10_000_000_000
_MIN_YEAR, _MAX_YEAR = 1970, 2200
_US = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p")
_EU = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %I:%M %p")
_SENTINEL_A = datetime(2001, 2, 3)
_SENTINEL_B = datetime(2002, 3, 4)
_SENTINEL_C = datetime(2001, 2, 3, 1)


def format_due(moment: datetime) -> str:
    """HighLevel's due date form: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_epoch(value: float) -> datetime:
    seconds = value / 1000 if abs(value) >= _MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise TransformError("dueDate", f"epoch value out of range: {value!r}") from None


def _parse_text(text: str, day_first: bool) -> tuple[datetime, bool]:
    """(moment, date_only) from text, trying strict forms before dateutil."""
    if re.fullmatch(r"-?\d{9,14}(\.\d+)?", text):
        return _from_epoch(float(text)), False
    try:
        if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time()), True
        return datetime.fromisoformat(text.replace("z", "Z")), False
    except ValueError:
        pass
    for fmt in _EU if day_first else _US:
        try:
            return datetime.strptime(text, fmt), "%H" not in fmt and "%I" not in fmt
        except ValueError:
            continue
    if re.match(r"^[A-Za-z]{3},", text) or re.search(r"[+-]\d{4}$|GMT$", text):
        try:
            return email.utils.parsedate_to_datetime(text), False
        except (TypeError, ValueError):
            pass
    # dateutil fills missing parts from a default; parsing with defaults on different days and
    # accepting only equal dates keeps "Friday" or "5" (relative to today) out, and a third
    # default with another hour tells whether the text gave a time at all.
    try:
        a = dateutil_parser.parse(text, default=_SENTINEL_A, dayfirst=day_first)
        b = dateutil_parser.parse(text, default=_SENTINEL_B, dayfirst=day_first)
        c = dateutil_parser.parse(text, default=_SENTINEL_C, dayfirst=day_first)
    except (ValueError, OverflowError):
        raise TransformError("dueDate", f"not a date: {text!r}") from None
    if a.date() != b.date():
        raise TransformError("dueDate", f"incomplete date (needs day, month and year): {text!r}")
    return a, a.hour != c.hour


def parse_due_date(
    value: Any,
    *,
    zone: tzinfo,
    date_only_time: time = time(9, 0),
    day_first: bool = False,
    reference: datetime | None = None,
) -> str:
    """A due date in HighLevel's UTC form from ISO 8601, dates, US/EU dates, epoch or RFC 2822,
    or, given `reference` (the event's time), words: "Friday 3pm", "tomorrow", "next Tuesday",
    "in 2 weeks", read from then on in `zone`.

    Values without a zone are read in `zone`; a date without a time gets `date_only_time`.
    """
    try:
        return _parse_due(value, zone=zone, date_only_time=date_only_time, day_first=day_first)
    except TransformError:
        if reference is None or not isinstance(value, str):
            raise
        ref = reference if reference.tzinfo is not None else reference.replace(tzinfo=UTC)
        moment = natural_date(value, ref.astimezone(zone), date_only_time)
        if moment is None:
            raise
        return format_due(moment)


def _parse_due(value: Any, *, zone: tzinfo, date_only_time: time, day_first: bool) -> str:
    date_only = False
    if isinstance(value, bool):
        raise TransformError("dueDate", f"not a date: {value!r}")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment, date_only = datetime.combine(value, time()), True
    elif isinstance(value, int | float):
        moment = _from_epoch(float(value))
    elif isinstance(value, str):
        text = " ".join(value.split())
        if not text:
            raise TransformError("dueDate", "is empty")
        moment, date_only = _parse_text(text, day_first)
    else:
        raise TransformError("dueDate", f"not a date: {value!r}")
    if date_only:
        moment = datetime.combine(moment.date(), date_only_time)
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    if not (_MIN_YEAR <= moment.astimezone(UTC).year <= _MAX_YEAR):
        raise TransformError("dueDate", f"year out of range {_MIN_YEAR}-{_MAX_YEAR}: {value!r}")
    return format_due(moment)


def default_due(reference: datetime, *, zone: tzinfo, days: int, at: time) -> str:
    """The due date for a task without one: `days` after `reference`'s day in `zone`, at `at`."""
    ref = reference if reference.tzinfo is not None else reference.replace(tzinfo=UTC)
    day = ref.astimezone(zone).date() + timedelta(days=days)
    return format_due(datetime.combine(day, at, zone))
