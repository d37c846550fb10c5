"""The date-times the API takes: ISO 8601 with a year from 0002 to 9998.

The bounds keep any UTC offset's conversion inside Python's years 1 to 9999, so a valid date-time is
never refused later for overflowing; the pattern states them in the OpenAPI schema.
"""

from __future__ import annotations

import re

DATE_TIME_PATTERN = r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])-"
_IN_RANGE = re.compile(DATE_TIME_PATTERN)
_YEAR = re.compile(r"^[0-9]{4}-")
OUT_OF_RANGE = "Give a date-time with a year from 0002 to 9998."


def out_of_range(text: str) -> bool:
    """A date-time's year outside the range; anything that is no date-time at all is left to the parser."""
    return bool(_YEAR.match(text)) and not _IN_RANGE.match(text)
