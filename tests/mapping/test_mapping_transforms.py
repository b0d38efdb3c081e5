"""Pure transforms: names, phones, emails, due dates and priorities, with properties."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tnhl.mapping import (
    Priority,
    TransformError,
    default_due,
    default_mapping,
    normalise_email,
    normalise_priority,
    parse_due_date,
    split_name,
    to_e164,
)

NY = ZoneInfo("America/New_York")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NAMES = default_mapping().contact.name


def _split(text: str, rule: str = "last_word") -> tuple[str | None, str | None, str | None]:
    parts = split_name(
        text,
        rule=rule,  # type: ignore[arg-type]
        prefixes=NAMES.prefixes,
        suffixes=NAMES.suffixes,
        particles=NAMES.particles,
    )
    assert parts is not None
    return parts.prefix, parts.first, parts.last


@pytest.mark.parametrize(
    ("text", "rule", "expected"),
    [
        ("Jane Smith", "last_word", (None, "Jane", "Smith")),
        ("Mary Ann Smith", "last_word", (None, "Mary Ann", "Smith")),
        ("Mary Ann Smith", "first_word", (None, "Mary", "Ann Smith")),
        ("Ludwig van Beethoven", "last_word", (None, "Ludwig", "van Beethoven")),
        ("Maria de la Cruz", "last_word", (None, "Maria", "de la Cruz")),
        ("Dr. Jane Smith", "last_word", ("Dr.", "Jane", "Smith")),
        ("Prof Dr Ada Lovelace", "last_word", ("Prof Dr", "Ada", "Lovelace")),
        ("Martin Luther King Jr.", "last_word", (None, "Martin Luther", "King Jr.")),
        ("Cher", "last_word", (None, "Cher", None)),
        ("Dr.", "last_word", (None, "Dr.", None)),
        ("  José \t Ñúñez  ", "last_word", (None, "José", "Ñúñez")),
        ("李 小龍", "last_word", (None, "李", "小龍")),
    ],
)
def test_split_name_cases(text: str, rule: str, expected: tuple[str | None, ...]) -> None:
    """Multi-word surnames, particles, prefixes, suffixes, single names and unicode split well."""
    assert _split(text, rule) == expected


def test_split_name_blank_is_none() -> None:
    """A blank name gives no parts at all (nothing to send)."""
    assert split_name(" \t\n") is None


@given(st.text(max_size=60), st.sampled_from(["last_word", "first_word"]))
def test_split_name_never_loses_a_word(text: str, rule: str) -> None:
    """prefix + first + last words are exactly the words of `name`, which keeps every character."""
    parts = split_name(
        text,
        rule=rule,  # type: ignore[arg-type]
        prefixes=NAMES.prefixes,
        suffixes=NAMES.suffixes,
        particles=NAMES.particles,
    )
    words = unicodedata.normalize("NFC", text).split()
    if not words:
        assert parts is None
        return
    assert parts is not None
    assert parts.name.split() == words
    pieces = [p for p in (parts.prefix, parts.first, parts.last) if p]
    assert " ".join(pieces).split() == words
    assert parts.first


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0143", "US", "+12025550143"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("030 1234567", "DE", "+49301234567"),
        ("  +1-202-555-0143 ", "GB", "+12025550143"),
    ],
)
def test_phone_to_e164(raw: str, region: str, expected: str) -> None:
    """Local and international numbers become E.164 using the default region."""
    assert to_e164(raw, region=region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "12", "+1 555"])
def test_bad_phone_names_the_field(raw: str) -> None:
    """An unusable phone raises TransformError whose field is phone."""
    with pytest.raises(TransformError) as info:
        to_e164(raw, region="US")
    assert info.value.field == "phone"


def test_phone_valid_is_the_default_and_stricter_than_possible() -> None:
    """By default a possible-length number outside assigned ranges is refused; possible keeps it."""
    with pytest.raises(TransformError, match="valid number"):
        to_e164("+1 999 555 0143", region="US")
    assert to_e164("+1 999 555 0143", region="US", validation="possible") == "+19995550143"


def test_short_local_number_is_not_a_valid_phone() -> None:
    """555-0104 in the US is refused naming phone and the value, not sent as +15550104."""
    with pytest.raises(TransformError) as info:
        to_e164("555-0104", region="US")
    assert str(info.value) == "phone: not a valid number for region US: '555-0104'"
    assert to_e164("555-0104", region="US", validation="possible") == "+15550104"


def test_valid_number_passes_the_default_check() -> None:
    """A number in an assigned range (New York 212) maps to E.164 under the valid default."""
    assert to_e164("+1 212 555 0123", region="US") == "+12125550123"


def test_email_normalised() -> None:
    """Emails are trimmed and lowercased (or not, per config)."""
    assert normalise_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert normalise_email("Jane@Example.com", lowercase=False) == "Jane@Example.com"


@pytest.mark.parametrize("raw", ["jane", "jane@", "jane@example", "ja ne@example.com", "a@b@c.d"])
def test_bad_email_names_the_field(raw: str) -> None:
    """Malformed addresses raise TransformError whose field is email."""
    with pytest.raises(TransformError) as info:
        normalise_email(raw)
    assert info.value.field == "email"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T17:00:00+02:00", "2026-12-01T15:00:00Z"),
        ("2026-12-01T17:00:00Z", "2026-12-01T17:00:00Z"),
        ("2026-12-01T17:00:00.987Z", "2026-12-01T17:00:00Z"),
        ("2026-12-01T17:00:00", "2026-12-01T22:00:00Z"),
        ("2026-12-01 17:00", "2026-12-01T22:00:00Z"),
        ("2026-12-01", "2026-12-01T14:00:00Z"),
        ("20261201", "2026-12-01T14:00:00Z"),
        ("12/01/2026", "2026-12-01T14:00:00Z"),
        ("12/01/2026 5:30 PM", "2026-12-01T22:30:00Z"),
        ("Tue, 01 Dec 2026 17:00:00 +0000", "2026-12-01T17:00:00Z"),
        ("December 1, 2026 3pm", "2026-12-01T20:00:00Z"),
        (1796144400, "2026-12-01T17:00:00Z"),
        (1796144400000, "2026-12-01T17:00:00Z"),
        ("1796144400", "2026-12-01T17:00:00Z"),
        (date(2026, 12, 1), "2026-12-01T14:00:00Z"),
        (datetime(2026, 12, 1, 17, tzinfo=UTC), "2026-12-01T17:00:00Z"),
        ("2026-07-01 09:00", "2026-07-01T13:00:00Z"),
    ],
)
def test_due_date_formats(value: object, expected: str) -> None:
    """Common formats parse; naive values take the zone (New York here), dates get 09:00."""
    assert parse_due_date(value, zone=NY, date_only_time=time(9, 0)) == expected


def test_day_first_reads_european_dates() -> None:
    """With day_first, 12/01/2026 is 12 January."""
    assert parse_due_date("12/01/2026", zone=UTC, day_first=True) == "2026-01-12T09:00:00Z"


@pytest.mark.parametrize(
    "value", ["Friday", "5", "tomorrow", "", "13/45/2026", True, [], "3026-01-01"]
)
def test_bad_due_date_names_the_field(value: object) -> None:
    """Relative, incomplete, impossible or absurd dates raise TransformError on dueDate."""
    with pytest.raises(TransformError) as info:
        parse_due_date(value, zone=UTC)
    assert info.value.field == "dueDate"


aware = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2199, 1, 1),
    timezones=st.sampled_from(
        [UTC, NY, ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-3, minutes=-30))]
    ),
)


@given(aware)
def test_aware_iso_round_trips_to_utc(moment: datetime) -> None:
    """Every zoned ISO timestamp becomes the same instant, in UTC, in HighLevel's form."""
    out = parse_due_date(moment.isoformat(), zone=NY)
    assert ISO_Z.match(out)
    parsed = datetime.strptime(out, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert parsed == moment.astimezone(UTC).replace(microsecond=0)


@given(aware, st.sampled_from(["iso", "epoch_s", "epoch_ms", "rfc2822", "naive"]))
def test_every_parseable_form_gives_utc_iso(moment: datetime, form: str) -> None:
    """Whatever the input form, the output is a UTC ISO string for the same whole second."""
    whole = moment.replace(microsecond=0)
    if form == "iso":
        value: object = whole.isoformat()
    elif form == "epoch_s":
        value = int(whole.timestamp())
    elif form == "epoch_ms":
        value = int(whole.timestamp()) * 1000
    elif form == "rfc2822":
        value = email.utils.format_datetime(whole.astimezone(UTC))
    else:
        value = whole.astimezone(NY).replace(tzinfo=None).isoformat(sep=" ")
    out = parse_due_date(value, zone=NY)
    assert ISO_Z.match(out)
    back = datetime.strptime(out, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if form == "naive":
        # A naive wall time in a DST fold can legitimately mean either instant.
        assert abs(back - whole) <= timedelta(hours=1)
    else:
        assert back == whole.astimezone(UTC)


def test_default_due_is_next_day_at_configured_time() -> None:
    """A missing due date defaults to the event's local day + N at the configured time."""
    ref = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # still Nov 30 in New York
    assert default_due(ref, zone=NY, days=1, at=time(9, 0)) == "2026-12-01T14:00:00Z"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("High", "high"),
        (" urgent ", "urgent"),
        ("medium", "normal"),
        ("low", "low"),
        ("P1", "urgent"),
        ("p2", "high"),
        ("P3", "normal"),
        ("P4", "low"),
        (1, "urgent"),
        (2, "high"),
        (3, "normal"),
        (5, "low"),
        ("2", "high"),
        (None, None),
        ("", None),
        ("   ", None),
        ("MEDIUM", "normal"),
        ("Med", "normal"),
        (" Normal ", "normal"),
        ("standard", "normal"),
        ("Important", "high"),
        ("ASAP", "urgent"),
        ("\tCritical\n", "urgent"),
        ("Minor", "low"),
    ],
)
def test_priority_normalisation(raw: object, expected: str | None) -> None:
    """Words, P-levels and numbers (1 most urgent) normalise to four levels."""
    assert normalise_priority(raw) == expected


@pytest.mark.parametrize(
    "raw", ["whenever", True, -1, 1.5, float("inf"), float("nan"), {"level": 1}, ["high"]]
)
def test_unknown_priority_names_the_field(raw: object) -> None:
    """Unrecognised priorities raise TransformError on priority."""
    with pytest.raises(TransformError) as info:
        normalise_priority(raw)
    assert info.value.field == "priority"


def test_priority_aliases_add_and_override_words() -> None:
    """Aliases map new words, match case-insensitively and win over the built-in words."""
    aliases: dict[str, Priority] = {"Someday": "low", "high": "urgent", "to  do": "normal"}
    assert normalise_priority(" SOMEDAY ", aliases=aliases) == "low"
    assert normalise_priority("High", aliases=aliases) == "urgent"
    assert normalise_priority("To Do", aliases=aliases) == "normal"
    assert normalise_priority("important", aliases=aliases) == "high"


def test_unknown_priority_message_names_the_word() -> None:
    """The error for an unknown word quotes it trimmed and points at the aliases setting."""
    with pytest.raises(TransformError) as info:
        normalise_priority("  Someday ")
    assert str(info.value) == (
        "priority: unknown priority 'Someday'"
        " (use low, normal, high, urgent, 1-5, P1-P5 or a tasks.priority.aliases word)"
    )
