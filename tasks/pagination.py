from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# The largest count the database can compare against.
MAX_COUNT = 2**63 - 1
# The second page of 50, as `make run` serves it to the user of tasks/serializers.py's example.
EXAMPLE_PAGE = "http://127.0.0.1:8000/api/alice-3f9c1e7a-5b2d-4c1f-9e8a-7d6b5c4a3f21/tasks/?limit=50"


class TaskPagination(LimitOffsetPagination):
    """``?limit=`` (default 50, at most 200) and ``?offset=``; a value that is not a count is a 400."""

    default_limit = 50
    max_limit = 200

    def get_limit(self, request: Request) -> int:
        if self.limit_query_param not in request.query_params:
            return self.default_limit
        return min(self._count_param(request, self.limit_query_param, minimum=1), self.max_limit)

    def get_offset(self, request: Request) -> int:
        if self.offset_query_param not in request.query_params:
            return 0
        return self._count_param(request, self.offset_query_param, minimum=0)

    @staticmethod
    def _count_param(request: Request, name: str, *, minimum: int) -> int:
        raw = request.query_params[name]
        # Checked as text first: int() would also take " 7", "+7", "٧", "7_0" and choke on 5000 digits.
        if raw.isascii() and raw.isdecimal() and len(raw) <= 19 and minimum <= int(raw) <= MAX_COUNT:
            return int(raw)
        raise ValidationError({name: [f"Must be a whole number from {minimum} to {MAX_COUNT}."]}, code="invalid")

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # DRF's examples are links of another API ("/accounts/?offset=400&limit=100"): these are this one's.
        response = super().get_paginated_response_schema(schema)
        properties = response["properties"]
        properties["count"]["example"] = 120
        properties["next"]["example"] = f"{EXAMPLE_PAGE}&offset=100"
        properties["previous"]["example"] = EXAMPLE_PAGE
        return response
