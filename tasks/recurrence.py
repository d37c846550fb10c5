"""Recurring tasks: an RFC 5545 rule (RRULE) checked, normalised, put in words, and expanded with python-dateutil
in the task's IANA time zone.

A series is expanded in wall-clock time: "every day at 09:00" in Europe/Berlin is 09:00 there on both sides of a
clock change. A time the change skips (02:30 on the morning clocks go forward) is moved on by the change (to
03:30); a time that happens twice (when clocks go back) is the first of the two.

Every expansion is bounded: it may spend at most ``settings.RECURRENCE_MAX_STEPS`` steps (days of the calendar
it examines, each occurrence it produces counting ``OCCURRENCE_STEPS``), counted, never timed, and stops there.
What each caller does when it stops is said where it is called: a series that finds no first occurrence starts
at its start alone, one that finds no next occurrence has none left.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as dateutil_rrule
from django.conf import settings
from django.core.exceptions import ValidationError

from .datetimes import MAX_YEAR, MIN_YEAR

RULE_MAX_LENGTH = 500
# Each period dateutil steps over between two of a rule's costs about as much as INTERVAL days of calendar.
MAX_INTERVAL = 366
MAX_COUNT = 10_000
DEFAULT_ZONE = "UTC"
ZONE_MAX_LENGTH = 64

FREQUENCIES = {
    "DAILY": dateutil_rrule.DAILY,
    "WEEKLY": dateutil_rrule.WEEKLY,
    "MONTHLY": dateutil_rrule.MONTHLY,
    "YEARLY": dateutil_rrule.YEARLY,
}
TOO_FREQUENT = ("HOURLY", "MINUTELY", "SECONDLY")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Numbers as the normalised rule writes them: no sign but "-", no leading zero. Each is checked against every
# number around its range by a test (tasks/tests/test_recurrence.py).
NUMBER_PATTERNS = {
    (0, 23): "[0-9]|1[0-9]|2[0-3]",
    (0, 59): "[0-9]|[1-5][0-9]",
    (1, 5): "[1-5]",
    (1, 12): "[1-9]|1[0-2]",
    (1, 31): "[1-9]|[12][0-9]|3[01]",
    (1, 53): "[1-9]|[1-4][0-9]|5[0-3]",
    (1, 366): "[1-9]|[1-9][0-9]|[12][0-9]{2}|3[0-5][0-9]|36[0-6]",
    (1, MAX_COUNT): "[1-9][0-9]{0,3}|10000",
}
# UNTIL in UTC, with a year from 0002 to 9998 (tasks/datetimes.py) and a day every month has (29 February, which
# only some years have, is taken but left out of the pattern).
UNTIL_PATTERN = (
    "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    "(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)|(?:0[13578]|1[02])31)"
    "T(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]Z"
)
_UNTIL = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")


@dataclass(frozen=True)
class Numbers:
    """A part that takes whole numbers in ``low``…``high`` (and their negatives, counted from the end, when
    ``signed``), comma-separated unless ``single``."""

    low: int
    high: int
    signed: bool = False
    single: bool = False

    def parse(self, name: str, value: str) -> int | tuple[int, ...]:
        items = value.split(",")
        if (self.single and len(items) > 1) or not all(re.fullmatch(r"[+-]?[0-9]{1,5}", item) for item in items):
            raise _invalid(self.rule(name))
        numbers = tuple(sorted({int(item) for item in items}))
        if not all(self.low <= abs(n) <= self.high and (self.signed or n >= 0) for n in numbers):
            raise _invalid(self.rule(name))
        return numbers[0] if self.single else numbers

    def rule(self, name: str) -> str:
        what = f"a whole number from {self.low} to {self.high}"
        if self.signed:
            what += f", or from -{self.high} to -1 to count from the end"
        return f"{name} takes {what}" + ("." if self.single else ", comma-separated.")

    def pattern(self) -> str:
        number = f"{'-?' if self.signed else ''}(?:{NUMBER_PATTERNS[self.low, self.high]})"
        return number if self.single else f"{number}(?:,{number})*"

    @staticmethod
    def write(numbers: int | tuple[int, ...]) -> str:
        return str(numbers) if isinstance(numbers, int) else ",".join(map(str, numbers))


@dataclass(frozen=True)
class Weekdays:
    """BYDAY: weekdays, each with its position in the month or year when ``ordinal`` allows one (``-1FR``)."""

    ordinal: int = 0

    def parse(self, name: str, value: str) -> tuple[tuple[int, int], ...]:
        days = set()
        for item in value.split(","):
            match = re.fullmatch(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)", item)
            n = int(match[1]) if match and match[1] else 0
            if match is None or (match[1] and not 1 <= abs(n) <= self.ordinal):
                raise _invalid(self.rule(name))
            days.add((DAYS.index(match[2]), n))
        return tuple(sorted(days, key=lambda day: (day[0], day[1])))

    def rule(self, name: str) -> str:
        days = f"{name} takes weekdays ({', '.join(DAYS)}), comma-separated"
        if not self.ordinal:
            return days + ", without a position (positions are for FREQ=MONTHLY and YEARLY)."
        return (
            f"{days}, each with its position from 1 to {self.ordinal} or -{self.ordinal} to -1 if you like "
            "(-1FR: the last Friday)."
        )

    def pattern(self) -> str:
        day = "(?:MO|TU|WE|TH|FR|SA|SU)"
        if self.ordinal:
            day = f"(?:-?(?:{NUMBER_PATTERNS[1, self.ordinal]}))?{day}"
        return f"{day}(?:,{day})*"

    @staticmethod
    def write(days: tuple[tuple[int, int], ...]) -> str:
        return ",".join(f"{n or ''}{DAYS[day]}" for day, n in days)


@dataclass(frozen=True)
class Until:
    """UNTIL: the last moment an occurrence may have, in UTC (RFC 5545 requires it so for a start in a zone)."""

    def parse(self, name: str, value: str) -> datetime:
        match = _UNTIL.fullmatch(value)
        try:
            moment = datetime(*map(int, match.groups()), tzinfo=UTC) if match else None
        except ValueError:
            moment = None
        if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise _invalid(self.rule(name))
        return moment

    @staticmethod
    def rule(name: str) -> str:
        return f"{name} is a date-time in UTC, with its Z, e.g. 20261231T235959Z: a year from 0002 to 9998."

    @staticmethod
    def pattern() -> str:
        return UNTIL_PATTERN

    @staticmethod
    def write(moment: datetime) -> str:
        return f"{moment.year:04}{moment:%m%dT%H%M%S}Z"


@dataclass(frozen=True)
class WeekStart:
    def parse(self, name: str, value: str) -> int:
        if value not in DAYS:
            raise _invalid(self.rule(name))
        return DAYS.index(value)

    @staticmethod
    def rule(name: str) -> str:
        return f"{name} is the day weeks start on: one of {', '.join(DAYS)}."

    @staticmethod
    def pattern() -> str:
        return "(?:MO|TU|WE|TH|FR|SA|SU)"

    @staticmethod
    def write(day: int) -> str:
        return DAYS[day]


# The parts of a rule, in the order the normalised rule writes them, each with the values it takes for each FREQ it
# is allowed with (RFC 5545 3.3.10: BYWEEKNO and BYYEARDAY only yearly, no BYMONTHDAY weekly, a BYDAY position
# only monthly or yearly). FREQ itself comes first.
ALL = tuple(FREQUENCIES)
PARTS: dict[str, dict[str, Any]] = {
    "INTERVAL": dict.fromkeys(ALL, Numbers(1, MAX_INTERVAL, single=True)),
    "BYMONTH": dict.fromkeys(ALL, Numbers(1, 12)),
    "BYWEEKNO": {"YEARLY": Numbers(1, 53, signed=True)},
    "BYYEARDAY": {"YEARLY": Numbers(1, 366, signed=True)},
    "BYMONTHDAY": dict.fromkeys(("DAILY", "MONTHLY", "YEARLY"), Numbers(1, 31, signed=True)),
    "BYDAY": {"DAILY": Weekdays(), "WEEKLY": Weekdays(), "MONTHLY": Weekdays(5), "YEARLY": Weekdays(53)},
    "BYHOUR": dict.fromkeys(ALL, Numbers(0, 23)),
    "BYMINUTE": dict.fromkeys(ALL, Numbers(0, 59)),
    # One second at most: each combination of an hour, a minute and a second is a time of day dateutil builds.
    "BYSECOND": dict.fromkeys(ALL, Numbers(0, 59, single=True)),
    "BYSETPOS": dict.fromkeys(ALL, Numbers(1, 366, signed=True)),
    "WKST": dict.fromkeys(ALL, WeekStart()),
    "COUNT": dict.fromkeys(ALL, Numbers(1, MAX_COUNT, single=True)),
    "UNTIL": dict.fromkeys(ALL, Until()),
}
NAMES = ("FREQ", *PARTS)
# dateutil's keyword for each part.
KEYWORDS = {
    "INTERVAL": "interval",
    "BYMONTH": "bymonth",
    "BYWEEKNO": "byweekno",
    "BYYEARDAY": "byyearday",
    "BYMONTHDAY": "bymonthday",
    "BYDAY": "byweekday",
    "BYHOUR": "byhour",
    "BYMINUTE": "byminute",
    "BYSECOND": "bysecond",
    "BYSETPOS": "bysetpos",
    "WKST": "wkst",
    "COUNT": "count",
    "UNTIL": "until",
}


def _rule_pattern() -> str:
    """The normalised rules, as an ECMAScript (and Python) regular expression: the schema's pattern."""
    branches = []
    for freq in FREQUENCIES:
        parts = "".join(
            f"(?:;{name}={values[freq].pattern()})?"
            for name, values in PARTS.items()
            if freq in values and name not in ("COUNT", "UNTIL")
        )
        end = f"(?:;COUNT={PARTS['COUNT'][freq].pattern()}|;UNTIL={PARTS['UNTIL'][freq].pattern()})?"
        branches.append(f"{freq}{parts}{end}")
    return f"^FREQ=(?:{'|'.join(branches)})$"


RULE_PATTERN = _rule_pattern()


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_rule")


@dataclass(frozen=True)
class Rule:
    """A checked rule: FREQ and its parts' values, by name."""

    freq: str
    parts: tuple[tuple[str, Any], ...]

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.parts)

    def __str__(self) -> str:
        """The normalised text: upper case, no RRULE: prefix, the parts in one order, numbers plain, lists sorted
        without repeats."""
        written = [f"FREQ={self.freq}"]
        written += [f"{name}={PARTS[name][self.freq].write(value)}" for name, value in self.parts]
        return ";".join(written)

    def expansion(self, start: datetime, budget: Budget) -> Iterator[datetime]:
        """The rule's occurrences at or after ``start`` (aware, in the task's zone), without COUNT, which the
        caller counts: dateutil's expansion, charged to ``budget``."""
        keywords = {KEYWORDS[name]: value for name, value in self.parts if name != "COUNT"}
        if "byweekday" in keywords:
            keywords["byweekday"] = [dateutil_rrule.weekday(day, n or None) for day, n in keywords["byweekday"]]
        return iter(_BoundedRule(FREQUENCIES[self.freq], dtstart=start, budget=budget, **keywords))


def parse_rule(text: str) -> Rule:
    """A rule as a client writes it (any letter case and order of parts, an optional ``RRULE:`` prefix), checked;
    a ``ValidationError`` saying what to fix otherwise."""
    if len(text) > RULE_MAX_LENGTH:
        raise ValidationError(f"A rule has at most {RULE_MAX_LENGTH} characters.", code="max_length")
    written = text.strip().upper()
    if "DTSTART" in written:
        raise _invalid(
            "A rule takes no DTSTART: the task's due_date is its first occurrence. Send the RRULE alone, "
            "e.g. FREQ=WEEKLY;BYDAY=MO,WE."
        )
    written = written.removeprefix("RRULE:")
    if not written:
        raise _invalid("Give a rule, e.g. FREQ=DAILY, or null for a task that does not recur.")
    given: dict[str, str] = {}
    for part in written.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not value or not re.fullmatch(r"[A-Z]+", name):
            # The part is shown only when it is short and plain: an answer never carries what it cannot write.
            shown = f': not "{part}"' if len(part) <= 40 and part.isascii() and part.isprintable() else ""
            raise _invalid(f'A rule is NAME=VALUE parts separated by ";", e.g. FREQ=WEEKLY;BYDAY=MO,WE{shown}.')
        if name not in NAMES:
            shown = name if len(name) <= 20 else name[:20] + "…"
            raise _invalid(f'"{shown}" is not a part of a rule: use {", ".join(NAMES)}.')
        if name in given:
            raise _invalid(f"{name} is given twice: give each part once.")
        given[name] = value
    freq = given.pop("FREQ", None)
    if freq in TOO_FREQUENT:
        raise _invalid(
            "A task recurs at most daily: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY. For several times a day, list "
            "the hours: FREQ=DAILY;BYHOUR=9,13,17."
        )
    if freq not in FREQUENCIES:
        raise _invalid("A rule needs FREQ: DAILY, WEEKLY, MONTHLY or YEARLY.")
    if "COUNT" in given and "UNTIL" in given:
        raise _invalid("Give COUNT or UNTIL, not both: the rule ends after that many occurrences, or at that time.")
    parts = []
    for name, values in PARTS.items():
        if name not in given:
            continue
        if freq not in values:
            allowed = " and ".join(values)
            raise _invalid(f"{name} is for FREQ={allowed} only.")
        parts.append((name, values[freq].parse(name, given[name])))
    return Rule(freq, tuple(parts))


def normalise(text: str) -> str:
    return str(parse_rule(text))


def validate_rule(text: str) -> None:
    """A stored rule is normalised already: a model save that skipped normalise() is refused."""
    if normalise(text) != text:
        raise _invalid(f"Store the rule normalised: {normalise(text)}.")


@cache
def zone_names() -> frozenset[str]:
    """The IANA zone names the API takes: those of the tzdata package the requirements pin, so that every host
    takes the same ones whatever its own zone files hold."""
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(name for name in listed.splitlines() if name)


def check_zone(name: str) -> str:
    """An IANA zone name as written (``Europe/Berlin``), or a ``ValidationError`` that may suggest the spelling."""
    if name in zone_names():
        return name
    detail = 'Give an IANA time zone name, e.g. "Europe/Berlin", "America/New_York" or "UTC".'
    if len(name) <= ZONE_MAX_LENGTH:
        spelt = {zone.casefold(): zone for zone in zone_names()}.get(name.casefold())
        if spelt is not None:
            detail = f'Time zone names are written with their capitals: "{spelt}".'
    raise ValidationError(detail, code="invalid_time_zone")


def validate_zone(name: str) -> None:
    check_zone(name)


class StepsExhausted(Exception):
    """An expansion used all its steps."""


class Budget:
    """The steps one expansion may take: ``settings.RECURRENCE_MAX_STEPS``."""

    def __init__(self) -> None:
        self.left = settings.RECURRENCE_MAX_STEPS

    def charge(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise StepsExhausted()


# What a step is. dateutil examines the calendar one period at a time (a day, a week, a month or a year, every
# INTERVAL of them), and checks each day of the period against the rule, once more for each BYSETPOS position; it
# sets up masks for each new year. Each of those, and each occurrence produced, is charged about as many steps as
# it costs time: bench/NOTES.md has the figures.
PERIOD_STEPS = 20
YEAR_STEPS = 366
OCCURRENCE_STEPS = 12


class _ChargedIterinfo(dateutil_rrule._iterinfo):
    """dateutil's state of one expansion, charging its work to the rule's budget as it goes."""

    def rebuild(self, year: int, month: int) -> None:
        rule = self.rrule
        if year != self.lastyear or (rule._bynweekday and month != self.lastmonth):
            rule.budget.charge(YEAR_STEPS + 7 * len(rule._byweekno or ()))
        super().rebuild(year, month)

    def _charged(self, period: tuple[list, int, int]) -> tuple[list, int, int]:
        _, start, end = period
        self.rrule.budget.charge(PERIOD_STEPS + (end - start) * (1 + len(self.rrule._bysetpos or ())))
        return period

    def ydayset(self, *args: int) -> tuple[list, int, int]:
        return self._charged(super().ydayset(*args))

    def mdayset(self, *args: int) -> tuple[list, int, int]:
        return self._charged(super().mdayset(*args))

    def wdayset(self, *args: int) -> tuple[list, int, int]:
        return self._charged(super().wdayset(*args))

    def ddayset(self, *args: int) -> tuple[list, int, int]:
        return self._charged(super().ddayset(*args))


class _BoundedRule(dateutil_rrule.rrule):
    """dateutil's rrule, its expansion charged to a budget. dateutil has no hook for counting its work: a rule
    that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) walks the calendar to the year 9999 before it says
    so, producing nothing on the way. Its own expansion (rrule._iter) is run here unchanged, with the state class it
    builds replaced by one that counts: the function is dateutil's, rebound to a copy of its module's names."""

    _iter: Callable[[dateutil_rrule.rrule], Iterator[datetime]] = types.FunctionType(
        dateutil_rrule.rrule._iter.__code__,
        {**vars(dateutil_rrule), "_iterinfo": _ChargedIterinfo},
        "_iter",
    )

    def __init__(self, *args: Any, budget: Budget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget


@dataclass(frozen=True)
class Occurrence:
    """Where a series stands: its current occurrence, as a moment (the due date) and as wall-clock time in its zone
    (where the next expansion starts, since a time moved on by a clock change is no longer the rule's), and how
    many occurrences COUNT leaves after it (None: no COUNT)."""

    due: datetime
    wall: str
    left: int | None


def _moment(wall: datetime) -> datetime | None:
    """An occurrence's moment, in UTC; None past the years the API keeps (tasks/datetimes.py)."""
    try:
        moment = wall.astimezone(UTC)
    except OverflowError:
        return None
    return moment if MIN_YEAR <= moment.year <= MAX_YEAR else None


def _walk(rule: Rule, zone: str, wall: datetime, budget: Budget) -> Iterator[tuple[datetime, datetime]]:
    """(wall-clock time, moment) of each occurrence from ``wall`` on, until the series or the calendar ends.
    ``StepsExhausted`` when the budget runs out first."""
    try:
        for occurrence in rule.expansion(wall.replace(tzinfo=ZoneInfo(zone)), budget):
            budget.charge(OCCURRENCE_STEPS)
            moment = _moment(occurrence)
            if moment is None:
                return
            yield occurrence, moment
    # The calendar's first and last years, where dateutil reaches outside the years Python has; and dateutil's own
    # IndexError on a weekday's position past what a month-limited year holds (BYMONTH=9;BYDAY=-33SU): no occurrence.
    except (ValueError, OverflowError, IndexError):
        return


def start(text: str, zone: str, at: datetime) -> Occurrence:
    """A series of the rule ``text`` in ``zone`` starting at the moment ``at`` (to the second): its first occurrence
    at or after ``at``, the rule's unset parts (the time of day, the weekday, the day of the month) taken from
    ``at`` as wall-clock time there.

    A rule with no occurrence there (its UNTIL is earlier, or none is found within the steps: a rule that never
    matches, like FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30) leaves ``at`` as the series' only occurrence.
    """
    rule = parse_rule(text)
    at = at.replace(microsecond=0)
    wall = at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    count = rule.values.get("COUNT")
    try:
        for occurrence, moment in _walk(rule, zone, wall, Budget()):
            # A wall-clock time that clocks going back repeat is its first pass, which may be before ``at``.
            if moment >= at:
                return Occurrence(moment, _wall_text(occurrence), None if count is None else count - 1)
    except StepsExhausted:
        pass
    return Occurrence(at, _wall_text(wall), 0)


def following(text: str, zone: str, current: Occurrence, after: datetime) -> Occurrence | None:
    """The series' first occurrence after both its current one and ``after``, those between skipped; None when it
    has none left (COUNT or UNTIL reached, the calendar's end, or no occurrence at all within the steps).

    When the steps run out among occurrences that are all before ``after``, the last of them: the series moved
    as far as the steps allow.
    """
    rule = parse_rule(text)
    wall = datetime.fromisoformat(current.wall)
    passed, reached = 0, None
    try:
        for occurrence, moment in _walk(rule, zone, wall, Budget()):
            if not passed and occurrence.replace(tzinfo=None) == wall:
                continue  # the current occurrence, where the expansion starts
            passed += 1
            if current.left is not None and passed > current.left:
                return None
            reached = occurrence, moment, passed
            if moment > after and moment > current.due:
                break
        else:
            return None
    except StepsExhausted:
        if reached is None:
            return None
    occurrence, moment, passed = reached
    return Occurrence(moment, _wall_text(occurrence), None if current.left is None else current.left - passed)


def _wall_text(wall: datetime) -> str:
    return wall.replace(tzinfo=None).isoformat(timespec="seconds")


ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
WEEKDAYS = {(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)}


def describe(text: str) -> str:
    """A rule in English, for support staff: the common ones in words (``Every weekday at 09:00``), any other
    as it is written."""
    try:
        rule = parse_rule(text)
    except ValidationError:
        return text
    values = rule.values
    words = [_every(rule.freq, values.pop("INTERVAL", 1), values)]
    if words[0] is None:
        return str(rule)
    if "BYHOUR" in values or "BYMINUTE" in values:
        hours, minute = values.pop("BYHOUR", None), values.pop("BYMINUTE", None)
        if hours is None or minute is None or len(minute) != 1 or values.pop("BYSECOND", 0) != 0:
            return str(rule)
        words.append("at " + _and([f"{hour:02}:{minute[0]:02}" for hour in hours]))
    if "COUNT" in values:
        count = values.pop("COUNT")
        words[-1] += f", {count} time{'s' if count != 1 else ''}"
    if "UNTIL" in values:
        words[-1] += f", until {values.pop('UNTIL'):%Y-%m-%d %H:%M} UTC"
    return str(rule) if values else " ".join(words)


def _every(freq: str, interval: int, values: dict[str, Any]) -> str | None:
    """ "Every …" for FREQ, INTERVAL and the day parts it understands (taken out of ``values``); None for others."""
    unit = UNITS[freq]
    every = (
        f"Every {unit}" if interval == 1 else f"Every other {unit}" if interval == 2 else f"Every {interval} {unit}s"
    )
    days = values.pop("BYDAY", None)
    if freq in ("DAILY", "WEEKLY") and days is not None:
        if set(days) == WEEKDAYS and interval == 1:
            return "Every weekday"
        return f"{every} on " + _and([DAY_NAMES[day] for day, _ in days])
    if freq == "MONTHLY" and days is not None and "BYMONTHDAY" not in values:
        if not all(n in ORDINALS for _, n in days):
            return None
        return f"{every} on " + _and(
            [f"the {ORDINALS[n]} {DAY_NAMES[day]}" if n else DAY_NAMES[day] for day, n in days]
        )
    if freq == "MONTHLY" and days is None and "BYMONTHDAY" in values:
        return f"{every} on " + _and([_month_day(n) for n in values.pop("BYMONTHDAY")])
    if (
        freq == "YEARLY"
        and days is None
        and len(values.get("BYMONTH", ())) == 1
        and len(values.get("BYMONTHDAY", ())) == 1
    ):
        (month,), (day,) = values.pop("BYMONTH"), values.pop("BYMONTHDAY")
        return f"{every} on {_month_day(day)} of {MONTH_NAMES[month - 1]}"
    if days is not None:
        values["BYDAY"] = days
    return every


def _month_day(n: int) -> str:
    if n == -1:
        return "the last day"
    if n < 0:
        return f"the {-n}{_suffix(-n)} day from the end"
    return f"the {n}{_suffix(n)}"


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
