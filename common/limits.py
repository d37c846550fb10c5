"""The bound on what any /api/ request may send in its query string (the README's "Limits")."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import ValidationError

from .errors import error_response


class QueryStringLimitMiddleware:
    """A 400 for an /api/ request whose query string is longer than ``API_MAX_QUERY_STRING`` bytes.

    A middleware rather than a DRF hook: it covers every /api/ route (the schema, the docs and unknown
    paths too), and reads the raw string before Django parses it into parameters or anything else runs,
    so refusing a query string a thousand times too long costs no more than refusing one byte too many.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.API_MAX_QUERY_STRING
        # WSGI gives the query string as it came, one character per byte.
        if request.path.startswith("/api/") and len(request.META.get("QUERY_STRING", "")) > limit:
            detail = f"The query string is longer than {limit} bytes; send fewer or shorter parameters."
            return error_response(ValidationError(detail, code="query_string_too_long"))
        return self.get_response(request)
