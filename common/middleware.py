"""The request log: one JSON line per request, and a request id on every log line it causes."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

request_log = logging.getLogger("todo.request")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# A client's id is echoed into logs and headers, so only short, plain ones are accepted.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdFilter(logging.Filter):
    """Stamps each log record with the id of the request being served (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class RequestLogMiddleware:
    """Takes a sane ``X-Request-ID`` or makes one, echoes it, and logs the request once it is answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-ID", "")
        if not _SANE_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        context = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user = getattr(request, "user", None)
            request_log.info(
                "request",
                extra={
                    "method": request.method,
                    # The path only: a query string could carry anything, a token included.
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": user.id if user is not None and user.is_authenticated else None,
                },
            )
            return response
        finally:
            _request_id.reset(context)
