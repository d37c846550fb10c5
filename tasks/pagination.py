from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# The largest count the database can compare against: a larger offset is taken as this one (an empty page).
MAX_COUNT = 2**63 - 1
# The second page of 50, as `make run` serves it to the user of tasks/serializers.py's example.
EXAMPLE_PAGE = "http://127.0.0.1:8000/api/alice-3f9c1e7a-5b2d-4c1f-9e8a-7d6b5c4a3f21/tasks/?limit=50"


def parse_count(raw: str) -> int | None:
    """``raw`` as a count when written in plain ASCII digits, at most ``MAX_COUNT``; otherwise None."""
    # Checked as text first: int() would also take " 7", "+7", "٧", "7_0" and choke on 5000 digits.
    if not (raw.isascii() and raw.isdecimal()):
        return None
    digits = raw.lstrip("0") or "0"
    return MAX_COUNT if len(digits) > len(str(MAX_COUNT)) else min(int(digits), MAX_COUNT)


class TaskPagination(LimitOffsetPagination):
    """``?limit=`` (default 50, at most 200: larger values are capped) and ``?offset=``; a value that is not a
    count is a 400 stating the bounds."""

    default_limit = 50
    max_limit = 200

    def get_limit(self, request: Request) -> int:
        if self.limit_query_param not in request.query_params:
            return self.default_limit
        limit = parse_count(request.query_params[self.limit_query_param])
        if limit is None or limit < 1:
            most = self.max_limit
            detail = f"Give a whole number from 1; a page holds at most {most} tasks, so a larger limit gives {most}."
            raise ValidationError({self.limit_query_param: [detail]}, code="invalid")
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        if self.offset_query_param not in request.query_params:
            return 0
        offset = parse_count(request.query_params[self.offset_query_param])
        if offset is None:
            detail = "Give a whole number from 0: how many tasks to skip."
            raise ValidationError({self.offset_query_param: [detail]}, code="invalid")
        return offset

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # DRF's examples are links of another API ("/accounts/?offset=400&limit=100"): these are this one's.
        response = super().get_paginated_response_schema(schema)
        properties = response["properties"]
        properties["count"]["example"] = 120
        properties["next"]["example"] = f"{EXAMPLE_PAGE}&offset=100"
        properties["previous"]["example"] = EXAMPLE_PAGE
        return response
