"""What reaches the logs: never a query string (it may carry a token), never an unbounded line.

A client controls the request line, so anything that quotes it (Django's error records, gunicorn's
"Error handling request /path?query", nginx's error log) could write a token or a megabyte into the
logs. ``RedactFilter``, on the one stderr handler (settings.LOGGING, also gunicorn's error log), passes
every record's text through ``redact``; ``RedactingJsonFormatter`` does the same for its traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger import json as jsonlogger

# A path (or URL) followed by a query: the path is kept, the query replaced. Stops at whitespace and
# quotes, so a request line ("GET /p?x HTTP/1.1") or a repr ("<WSGIRequest: GET '/p?x'>") keeps its end.
_QUERY = re.compile(r"""(/[^\s?#"'<>]*)\?[^\s"'<>]*""")
CUT = "…[cut]"
# A traceback is code, plus whatever its exception's message quoted: worth more room than a message.
TRACEBACK_LIMIT = 8000
# A LogRecord's own attributes: everything else on a record is an ``extra`` a caller passed.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})))


def redact(text: str, limit: int = 500) -> str:
    """``text`` without query strings (``/p?x=1`` becomes ``/p?…``), cut to ``limit`` characters with a marker."""
    if "?" not in text and len(text) <= limit:  # most lines: a third of the request log line's cost
        return text
    text = _QUERY.sub(r"\1?…", text)
    if len(text) > limit:
        text = text[: max(limit - len(CUT), 0)] + CUT
    return text


class RedactFilter(logging.Filter):
    """Redacts a record's message and string extras; its ``request`` becomes ``method path``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A filter's exception reaches the code that logged, unlike a formatter's: never fail a request.
            message = f"{record.msg} (arguments did not fit the format)"
        record.msg, record.args = redact(message), None
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            # Django's error records carry the request itself, whose repr holds the full URL.
            record.request = f"{getattr(request, 'method', '?')} {getattr(request, 'path', '?')}"
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class RedactingJsonFormatter(jsonlogger.JsonFormatter):
    """The JSON log line, with its traceback redacted: left to the formatter because a filter that dropped
    the record's exc_info would take it from every other handler too."""

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei), TRACEBACK_LIMIT)
