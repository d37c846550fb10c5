"""The date-times the API takes: ISO 8601 with a year from 0002 to 9998, as written and in UTC.

The bounds as written keep any UTC offset's conversion inside Python's years 1 to 9999, so a date-time is
never refused later for overflowing; the pattern states them in the OpenAPI schema. The bounds in UTC keep
what is stored inside them too: ``0002-01-01T00:00:00+23:59`` is a moment of the year 0001.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MIN_YEAR, MAX_YEAR = 2, 9998
DATE_TIME_PATTERN = r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
_IN_RANGE = re.compile(DATE_TIME_PATTERN)
_YEAR = re.compile(r"^[0-9]{4}-")
OUT_OF_RANGE = "Give a date-time with a year from 0002 to 9998, in UTC as well as written."


def out_of_range(text: str) -> bool:
    """A date-time's year outside the range; anything that is no date-time at all is left to the parser."""
    return bool(_YEAR.match(text)) and not _IN_RANGE.match(text)


def out_of_range_in_utc(moment: datetime) -> bool:
    """A parsed date-time (its text within the range) whose UTC equivalent falls outside it."""
    return not MIN_YEAR <= moment.astimezone(UTC).year <= MAX_YEAR
