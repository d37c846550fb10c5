"""The rules themselves (tasks/recurrence.py): what is taken and how it is written back, the schema's pattern, the
words support staff read, the zones, and each expansion's bounded cost."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks import recurrence
from tasks.recurrence import Occurrence, following, normalise, parse_rule, start

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def refused(text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_rule(text)
    return caught.value.messages[0]


# What a rule may be, and its normal form


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("FREQ=DAILY", "FREQ=DAILY"),
        ("freq=weekly;byday=we,mo", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("rrule:FREQ=WEEKLY;INTERVAL=02", "FREQ=WEEKLY;INTERVAL=2"),
        ("COUNT=10;FREQ=DAILY;BYHOUR=17,9,9", "FREQ=DAILY;BYHOUR=9,17;COUNT=10"),
        ("FREQ=MONTHLY;BYDAY=+1MO,-1FR", "FREQ=MONTHLY;BYDAY=1MO,-1FR"),
        (
            "FREQ=YEARLY;UNTIL=00021231T000000Z;BYMONTH=3;BYMONTHDAY=1",
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1;UNTIL=00021231T000000Z",
        ),
        (
            "FREQ=YEARLY;BYWEEKNO=-1;BYYEARDAY=1,-1;WKST=SU;BYSETPOS=1",
            "FREQ=YEARLY;BYWEEKNO=-1;BYYEARDAY=-1,1;BYSETPOS=1;WKST=SU",
        ),
        ("FREQ=DAILY;BYSECOND=0;BYMINUTE=30;BYHOUR=2", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0"),
    ],
)
def test_a_rule_is_stored_in_one_normal_form(sent: str, stored: str) -> None:
    assert normalise(sent) == stored
    assert normalise(stored) == stored
    assert re.fullmatch(recurrence.RULE_PATTERN, stored)


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("FREQ=SECONDLY", "at most daily"),
        ("FREQ=HOURLY;INTERVAL=2", "FREQ=DAILY;BYHOUR=9,13,17"),
        ("DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "no DTSTART"),
        ("FREQ=DAILY;DTSTART=20260101T090000Z", "no DTSTART"),
        ("", "Give a rule"),
        ("RRULE:", "Give a rule"),
        ("BYDAY=MO", "needs FREQ"),
        ("FREQ=FORTNIGHTLY", "needs FREQ"),
        ("FREQ=DAILY;;", 'NAME=VALUE parts separated by ";", e.g. FREQ=WEEKLY;BYDAY=MO,WE: not "".'),
        ("FREQ=DAILY;\x00", 'NAME=VALUE parts separated by ";", e.g. FREQ=WEEKLY;BYDAY=MO,WE.'),
        ("FREQ=DAILY;" + "Y" * 41, 'NAME=VALUE parts separated by ";", e.g. FREQ=WEEKLY;BYDAY=MO,WE.'),
        ("FREQ=DAILY;COUNT", 'NAME=VALUE parts separated by ";"'),
        ("FREQ=DAILY;X-NAME=1", 'NAME=VALUE parts separated by ";"'),
        ("FREQ=DAILY;BYEASTER=0", '"BYEASTER" is not a part of a rule'),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
        ("FREQ=DAILY;COUNT=5;UNTIL=20261231T000000Z", "COUNT or UNTIL, not both"),
        ("FREQ=DAILY;COUNT=0", "COUNT takes a whole number from 1 to 10000"),
        ("FREQ=DAILY;COUNT=5000000", "COUNT takes a whole number from 1 to 10000"),
        ("FREQ=DAILY;INTERVAL=367", "INTERVAL takes a whole number from 1 to 366"),
        ("FREQ=DAILY;INTERVAL=1,2", "INTERVAL takes a whole number from 1 to 366"),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL takes a whole number from 1 to 366"),
        ("FREQ=DAILY;UNTIL=20261231", "UNTIL is a date-time in UTC, with its Z"),
        ("FREQ=DAILY;UNTIL=20261231T235959", "UNTIL is a date-time in UTC, with its Z"),
        ("FREQ=DAILY;UNTIL=20260230T000000Z", "UNTIL is a date-time in UTC, with its Z"),
        ("FREQ=DAILY;UNTIL=99991231T000000Z", "a year from 0002 to 9998"),
        ("FREQ=DAILY;UNTIL=00010101T000000Z", "a year from 0002 to 9998"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is for FREQ=DAILY and MONTHLY and YEARLY only"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO is for FREQ=YEARLY only"),
        ("FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY is for FREQ=YEARLY only"),
        ("FREQ=WEEKLY;BYDAY=1MO", "without a position"),
        ("FREQ=MONTHLY;BYDAY=6MO", "from 1 to 5 or -5 to -1"),
        ("FREQ=MONTHLY;BYDAY=0MO", "from 1 to 5 or -5 to -1"),
        ("FREQ=YEARLY;BYDAY=54MO", "from 1 to 53 or -53 to -1"),
        ("FREQ=WEEKLY;BYDAY=MON", "BYDAY takes weekdays"),
        ("FREQ=WEEKLY;BYDAY=MO,", "BYDAY takes weekdays"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY takes a whole number from 1 to 31"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY takes a whole number from 1 to 31"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH takes a whole number from 1 to 12"),
        ("FREQ=YEARLY;BYMONTH=-1", "BYMONTH takes a whole number from 1 to 12"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR takes a whole number from 0 to 23"),
        ("FREQ=DAILY;BYMINUTE=60", "BYMINUTE takes a whole number from 0 to 59"),
        ("FREQ=DAILY;BYSECOND=0,30", "BYSECOND takes a whole number from 0 to 59."),
        ("FREQ=DAILY;BYSECOND=60", "BYSECOND takes a whole number from 0 to 59."),
        ("FREQ=MONTHLY;BYSETPOS=0", "BYSETPOS takes a whole number from 1 to 366"),
        ("FREQ=MONTHLY;BYSETPOS=1000000", "BYSETPOS takes a whole number from 1 to 366"),
        ("FREQ=DAILY;WKST=XX", "the day weeks start on"),
        ("FREQ=DAILY;BYHOUR=1 ,2", "BYHOUR takes"),
        ("FREQ=DAILY;BYHOUR=٣", "BYHOUR takes"),
    ],
)
def test_a_rule_that_is_not_one_is_refused_saying_what_to_fix(rule: str, says: str) -> None:
    assert says in refused(rule)


def test_a_rule_has_a_bounded_length_checked_first() -> None:
    longest = "FREQ=YEARLY;BYYEARDAY=" + "1," * 238 + "11"

    assert len(longest) == recurrence.RULE_MAX_LENGTH and normalise(longest) == "FREQ=YEARLY;BYYEARDAY=1,11"
    assert refused(longest + "0") == "A rule has at most 500 characters."
    assert refused("FREQ=DAILY;" + "X" * 1_000_000) == "A rule has at most 500 characters."


def test_an_unknown_part_is_named_briefly() -> None:
    assert refused("FREQ=DAILY;" + "A" * 400 + "=1").startswith(f'"{"A" * 20}…" is not a part of a rule')


@pytest.mark.parametrize(
    ("bounds", "pattern"), [(bounds, pattern) for bounds, pattern in recurrence.NUMBER_PATTERNS.items()]
)
def test_each_number_pattern_takes_exactly_its_range_as_written(bounds: tuple[int, int], pattern: str) -> None:
    low, high = bounds
    taken = {n for n in range(-2, high + 100) if re.fullmatch(f"(?:{pattern})", str(n))}

    assert taken == set(range(low, high + 1))
    assert not re.fullmatch(f"(?:{pattern})", f"0{low}")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rule=st.from_regex(recurrence.RULE_PATTERN, fullmatch=True).filter(lambda rule: len(rule) <= 500))
def test_every_rule_the_schema_pattern_allows_is_taken(rule: str) -> None:
    # Schemathesis sends rules made from the pattern and counts any 400 as a failure: the pattern never promises
    # more than the API takes. Each is a normal form too, but for lists (sorted, without repeats, when stored).
    stored = normalise(rule)

    assert re.fullmatch(recurrence.RULE_PATTERN, stored)
    assert start(stored, BERLIN, moment("2026-06-01T12:00:00+00:00")).due is not None


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYMONTHDAY=1",
        "FREQ=MONTHLY;BYDAY=6MO",
        "freq=daily",
        "FREQ=DAILY;INTERVAL=01",
        "FREQ=DAILY;COUNT=1;UNTIL=20260101T000000Z",
    ],
)
def test_what_the_pattern_refuses_the_api_refuses_or_writes_otherwise(rule: str) -> None:
    assert not re.fullmatch(recurrence.RULE_PATTERN, rule)
    try:
        assert normalise(rule) != rule
    except ValidationError:
        pass


def test_a_stored_rule_must_be_normalised() -> None:
    recurrence.validate_rule("FREQ=WEEKLY;BYDAY=MO,WE")
    with pytest.raises(ValidationError, match="Store the rule normalised: FREQ=WEEKLY;BYDAY=MO,WE"):
        recurrence.validate_rule("FREQ=WEEKLY;BYDAY=WE,MO")


# The rule in words


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=DAILY", "Every day"),
        ("FREQ=DAILY;INTERVAL=3", "Every 3 days"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR",
            "Every other week on Monday, Tuesday, Wednesday, Thursday and Friday",
        ),
        ("FREQ=WEEKLY;INTERVAL=2", "Every other week"),
        ("FREQ=WEEKLY;BYDAY=MO,WE", "Every week on Monday and Wednesday"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Every month on the last Friday"),
        ("FREQ=MONTHLY;BYDAY=1MO,-2SU", "Every month on the first Monday and the second to last Sunday"),
        ("FREQ=MONTHLY;BYDAY=3MO", "Every month on the third Monday"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15,-1", "Every month on the last day, the 1st and the 15th"),
        (
            "FREQ=MONTHLY;BYMONTHDAY=-3,2,3,11,22",
            "Every month on the 3rd day from the end, the 2nd, the 3rd, the 11th and the 22nd",
        ),
        ("FREQ=YEARLY", "Every year"),
        ("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "Every 4 years on the 29th of February"),
        ("FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0;BYSECOND=0;COUNT=10", "Every day at 09:00 and 17:00, 10 times"),
        ("FREQ=WEEKLY;BYDAY=SU;BYHOUR=8;BYMINUTE=30;COUNT=1", "Every week on Sunday at 08:30, 1 time"),
        ("FREQ=DAILY;UNTIL=20261231T235959Z", "Every day, until 2026-12-31 23:59 UTC"),
    ],
)
def test_common_rules_are_put_in_words(rule: str, words: str) -> None:
    assert recurrence.describe(rule) == words


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=2",
        "FREQ=MONTHLY;BYDAY=SA",
        "FREQ=MONTHLY;BYDAY=4MO,SA",
        "FREQ=MONTHLY;BYMONTHDAY=15;BYDAY=3MO",
        "FREQ=MONTHLY;BYDAY=-3FR",
        "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR",
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=30",
        "FREQ=DAILY;BYHOUR=9",
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30",
        "FREQ=YEARLY;BYWEEKNO=20",
        "FREQ=YEARLY;BYMONTH=1,7",
        "FREQ=DAILY;BYMONTHDAY=1",
    ],
)
def test_other_rules_are_shown_as_they_are_written(rule: str) -> None:
    assert recurrence.describe(rule) == rule


def test_a_rule_that_is_no_rule_is_shown_as_it_is() -> None:
    assert recurrence.describe("FREQ=SECONDLY") == "FREQ=SECONDLY"


# Zones


def test_zones_are_the_pinned_tz_databases_names_as_written() -> None:
    names = recurrence.zone_names()

    assert {"UTC", BERLIN, NEW_YORK, "Asia/Kolkata", "America/Argentina/ComodRivadavia"} <= names
    assert max(map(len, names)) <= recurrence.ZONE_MAX_LENGTH
    assert recurrence.check_zone(BERLIN) == BERLIN


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("europe/berlin", 'Time zone names are written with their capitals: "Europe/Berlin".'),
        ("utc", 'Time zone names are written with their capitals: "UTC".'),
        ("Mars/Olympus_Mons", 'Give an IANA time zone name, e.g. "Europe/Berlin", "America/New_York" or "UTC".'),
        ("../../../etc/passwd", 'Give an IANA time zone name, e.g. "Europe/Berlin", "America/New_York" or "UTC".'),
        ("+02:00", 'Give an IANA time zone name, e.g. "Europe/Berlin", "America/New_York" or "UTC".'),
        ("x" * 10_000, 'Give an IANA time zone name, e.g. "Europe/Berlin", "America/New_York" or "UTC".'),
        ("", 'Give an IANA time zone name, e.g. "Europe/Berlin", "America/New_York" or "UTC".'),
    ],
)
def test_a_zone_that_is_not_an_iana_name_is_refused(name: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        recurrence.check_zone(name)

    assert caught.value.messages == [says]


# Expansion: wall-clock time in the zone


def walk(rule: str, zone: str, first: str, completions: int, *, every: timedelta | None = None) -> list[str]:
    """The due dates a task starting at ``first`` goes through, each completed right when it is due (or ``every``
    after the previous completion), in UTC."""
    series = start(rule, zone, moment(first))
    dues, now = [series.due], series.due
    for _ in range(completions):
        series = following(rule, zone, series, now)
        if series is None:
            break
        dues.append(series.due)
        now = series.due if every is None else now + every
    return [f"{due:%Y-%m-%dT%H:%M}Z" for due in dues]


def test_every_day_at_0900_in_berlin_stays_0900_there_when_clocks_go_forward() -> None:
    assert walk("FREQ=DAILY", BERLIN, "2026-03-27T09:00:00+01:00", 3) == [
        "2026-03-27T08:00Z",
        "2026-03-28T08:00Z",
        "2026-03-29T07:00Z",  # 09:00 CEST
        "2026-03-30T07:00Z",
    ]


def test_every_day_at_0900_in_berlin_stays_0900_there_when_clocks_go_back() -> None:
    assert walk("FREQ=DAILY", BERLIN, "2026-10-24T09:00:00+02:00", 2) == [
        "2026-10-24T07:00Z",
        "2026-10-25T08:00Z",  # 09:00 CET
        "2026-10-26T08:00Z",
    ]


def test_every_day_at_0900_in_new_york_stays_0900_there_across_both_changes() -> None:
    assert walk("FREQ=DAILY", NEW_YORK, "2026-03-07T09:00:00-05:00", 1) == ["2026-03-07T14:00Z", "2026-03-08T13:00Z"]
    assert walk("FREQ=DAILY", NEW_YORK, "2026-10-31T09:00:00-04:00", 1) == ["2026-10-31T13:00Z", "2026-11-01T14:00Z"]


def test_a_time_the_clocks_skip_moves_on_by_the_change_and_the_series_keeps_its_time() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: that day's occurrence is 03:30 CEST; the next is 02:30 again.
    assert walk("FREQ=DAILY", BERLIN, "2026-03-28T02:30:00+01:00", 2) == [
        "2026-03-28T01:30Z",
        "2026-03-29T01:30Z",
        "2026-03-30T00:30Z",
    ]


def test_a_time_the_clocks_repeat_is_its_first_pass() -> None:
    assert walk("FREQ=DAILY", BERLIN, "2026-10-24T02:30:00+02:00", 2) == [
        "2026-10-24T00:30Z",
        "2026-10-25T00:30Z",  # 02:30 CEST, not CET
        "2026-10-26T01:30Z",
    ]


def test_every_month_on_its_last_friday() -> None:
    assert walk("FREQ=MONTHLY;BYDAY=-1FR", BERLIN, "2026-01-30T16:00:00+01:00", 4) == [
        "2026-01-30T15:00Z",
        "2026-02-27T15:00Z",
        "2026-03-27T15:00Z",
        "2026-04-24T14:00Z",
        "2026-05-29T14:00Z",
    ]


def test_the_due_date_becomes_the_rules_first_occurrence_at_or_after_it() -> None:
    # A Friday due date of a Monday rule: the Monday after, at the due date's time of day.
    assert start("FREQ=WEEKLY;BYDAY=MO", BERLIN, moment("2026-01-09T09:30:15.5+01:00")) == Occurrence(
        moment("2026-01-12T09:30:15+01:00"), "2026-01-12T09:30:15", None
    )


def test_every_other_week_keeps_its_weeks() -> None:
    assert walk("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", "UTC", "2026-01-05T09:00:00+00:00", 4) == [
        "2026-01-05T09:00Z",
        "2026-01-09T09:00Z",
        "2026-01-19T09:00Z",
        "2026-01-23T09:00Z",
        "2026-02-02T09:00Z",
    ]


def test_count_counts_from_the_first_occurrence_and_then_there_are_none() -> None:
    assert walk("FREQ=DAILY;COUNT=3", "UTC", "2026-01-01T09:00:00+00:00", 5) == [
        "2026-01-01T09:00Z",
        "2026-01-02T09:00Z",
        "2026-01-03T09:00Z",
    ]


def test_occurrences_already_past_are_skipped_and_count_against_count() -> None:
    series = start("FREQ=DAILY;COUNT=10", "UTC", moment("2026-01-01T09:00:00+00:00"))

    after = following("FREQ=DAILY;COUNT=10", "UTC", series, moment("2026-01-05T12:00:00+00:00"))

    assert after == Occurrence(moment("2026-01-06T09:00:00+00:00"), "2026-01-06T09:00:00", 4)
    assert following("FREQ=DAILY;COUNT=10", "UTC", series, moment("2026-01-10T12:00:00+00:00")) is None


def test_completing_early_moves_past_the_current_occurrence() -> None:
    series = start("FREQ=DAILY", "UTC", moment("2026-01-02T09:00:00+00:00"))

    assert following("FREQ=DAILY", "UTC", series, moment("2026-01-01T08:00:00+00:00")).due == moment(
        "2026-01-03T09:00:00+00:00"
    )


def test_until_ends_the_series() -> None:
    rule = "FREQ=DAILY;UNTIL=20260103T090000Z"

    assert walk(rule, "UTC", "2026-01-01T09:00:00+00:00", 5) == [
        "2026-01-01T09:00Z",
        "2026-01-02T09:00Z",
        "2026-01-03T09:00Z",
    ]
    assert (
        following(
            rule, "UTC", start(rule, "UTC", moment("2026-01-01T09:00:00+00:00")), moment("2026-02-01T00:00:00+00:00")
        )
        is None
    )


def test_a_rule_without_occurrence_from_its_start_leaves_the_start_alone() -> None:
    rule = "FREQ=DAILY;UNTIL=20200101T000000Z"
    series = start(rule, "UTC", moment("2026-01-01T09:00:00.25+00:00"))

    assert series == Occurrence(moment("2026-01-01T09:00:00+00:00"), "2026-01-01T09:00:00", 0)
    assert following(rule, "UTC", series, series.due) is None


def test_the_series_ends_with_the_years_the_api_keeps() -> None:
    series = start("FREQ=YEARLY", NEW_YORK, moment("9998-06-01T12:00:00+00:00"))

    assert following("FREQ=YEARLY", NEW_YORK, series, series.due) is None
    # Late on 31 December 9998 in New York is already 9999 in UTC.
    assert start("FREQ=DAILY;BYHOUR=23", NEW_YORK, moment("9998-12-31T12:00:00+00:00")).left == 0


def test_the_calendars_first_year_ends_a_series_rather_than_failing() -> None:
    # New York's wall-clock time of 0002-01-01T00:00Z is in the year 0001; weeks starting on Tuesdays make dateutil
    # look at the year 0, which Python does not have.
    series = start("FREQ=YEARLY;BYWEEKNO=1;WKST=TU", NEW_YORK, moment("0002-01-01T00:00:00+00:00"))

    assert series == Occurrence(moment("0002-01-01T00:00:00+00:00"), "0001-12-31T19:03:58", 0)


def test_the_calendars_last_moment_ends_a_series_rather_than_failing() -> None:
    # Two years after 23:00 on 31 December 9997 in New York is 23:00 on 31 December 9999 there: the year 10000 in
    # UTC, which Python does not have.
    rule = "FREQ=YEARLY;INTERVAL=2;BYMONTH=12;BYMONTHDAY=31;BYHOUR=23"
    current = Occurrence(moment("9998-01-01T04:00:00+00:00"), "9997-12-31T23:00:00", None)

    assert following(rule, NEW_YORK, current, current.due) is None


def test_a_series_starting_in_the_second_pass_of_a_repeated_hour_starts_the_day_after() -> None:
    # 01:30Z on 25 October 2026 is 02:30 CET, the second 02:30 in Berlin; that day's occurrence is the first.
    assert start("FREQ=DAILY", BERLIN, moment("2026-10-25T01:30:00+00:00")).due == moment("2026-10-26T01:30:00+00:00")


# Every expansion's cost is bounded: counted in steps, never timed


NEVER = [
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "FREQ=MONTHLY;BYDAY=5MO,5TU;BYMONTHDAY=1",
    "FREQ=DAILY;INTERVAL=366;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=WEEKLY;INTERVAL=366;BYDAY=MO;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=" + ",".join(map(str, range(6, 100))),
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYWEEKNO=" + ",".join(map(str, range(1, 54))),
]


@pytest.mark.parametrize("rule", NEVER)
def test_a_rule_that_never_matches_stops_at_the_step_limit(rule: str) -> None:
    series = start(rule, BERLIN, moment("2026-01-01T09:00:00+00:00"))
    assert series.left == 0  # no occurrence found: the start alone

    spent = []
    charge = recurrence.Budget.charge

    def counted(budget: recurrence.Budget, steps: int) -> None:
        spent.append(steps)
        charge(budget, steps)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recurrence.Budget, "charge", counted)
        began = time.process_time()
        assert following(rule, BERLIN, Occurrence(series.due, series.wall, None), series.due) is None
        cpu = time.process_time() - began

    assert sum(spent) > recurrence.settings.RECURRENCE_MAX_STEPS  # stopped by the count, not by the calendar's end
    assert cpu < 0.5  # a generous ceiling for a slow machine: bench/NOTES.md has the figures


def test_the_limit_is_the_setting(settings: object) -> None:
    series = start("FREQ=DAILY", "UTC", moment("2023-01-01T09:00:00+00:00"))
    now = moment("2026-01-01T00:00:00+00:00")

    assert following("FREQ=DAILY", "UTC", series, now).due == moment("2026-01-01T09:00:00+00:00")
    settings.RECURRENCE_MAX_STEPS = 1000
    # Steps run out among past occurrences: the series moves as far as they reach, still before now.
    moved = following("FREQ=DAILY", "UTC", series, now)
    assert series.due < moved.due < now
    assert moved.wall == f"{moved.due:%Y-%m-%dT%H:%M:%S}"


def test_occurrences_count_against_the_limit_as_well(settings: object) -> None:
    rule = "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=" + ",".join(map(str, range(60)))
    settings.RECURRENCE_MAX_STEPS = 10_000
    series = start(rule, "UTC", moment("2026-01-01T00:00:00+00:00"))

    moved = following(rule, "UTC", series, moment("2026-02-01T00:00:00+00:00"))

    # 1,440 occurrences a day: the steps run out within the first day.
    assert moved.due < moment("2026-01-02T00:00:00+00:00")


def test_a_weekday_position_a_month_limited_year_cannot_hold_is_a_series_without_occurrences() -> None:
    # dateutil itself raised IndexError here, a 500 the schema fuzzer found; the series starts at its due date alone.
    rule = normalise("FREQ=YEARLY;BYMONTH=9;BYDAY=-33SU,53MO;BYSETPOS=-9,2,-347,-207,9;UNTIL=07021029T073726Z")
    due = datetime(1390, 2, 11, 13, 20, 36, tzinfo=UTC)

    assert start(rule, "America/Grenada", due).due == due
