from __future__ import annotations

import io
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class DepthSafeJSONParser(parsers.JSONParser):
    """DRF's JSON parser, with absurdly deep nesting a 400 rather than a RecursionError (a 500)."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


class SizedJSONParser(parsers.BaseParser):
    """DepthSafeJSONParser for a route whose body may be larger than DATA_UPLOAD_MAX_MEMORY_SIZE, up to the
    number of bytes in the setting ``max_body_setting`` names: past it, a 413.

    Not a JSONParser subclass on purpose: DRF reads those through HttpRequest.body, which holds every body to the
    global bound. This one reads the stream itself, and never more than one byte past its own bound.
    """

    media_type = "application/json"
    max_body_setting: str

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = getattr(settings, self.max_body_setting)
        body = stream.read(limit + 1)
        if len(body) > limit:
            # As Django's own bound does: common/errors.py answers it with a 413.
            raise RequestDataTooBig(f"Request body exceeded settings.{self.max_body_setting}.")
        return DepthSafeJSONParser().parse(io.BytesIO(body), media_type, parser_context)
