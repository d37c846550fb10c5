"""What reaches the logs: no query string, whichever logger quotes a URL, and no line past a bound."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.test import RequestFactory

from common.logsafe import CUT, RedactFilter, redact

SECRET = "s3cr3t-d0-n0t-l0g"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/api/u/tasks/?token=abc", "/api/u/tasks/?…"),
        ("Error handling request GET /p?token=abc&x=1", "Error handling request GET /p?…"),
        ('request: "GET /p?token=abc HTTP/1.1", host: "x"', 'request: "GET /p?… HTTP/1.1", host: "x"'),
        ("<WSGIRequest: GET '/p?token=abc'>", "<WSGIRequest: GET '/p?…'>"),
        ('referrer: "https://example.com/a/b?token=abc"', 'referrer: "https://example.com/a/b?…"'),
        ("https://example.com?token=abc", "https://example.com?…"),
        ("Are you sure? Yes.", "Are you sure? Yes."),
    ],
)
def test_redact_removes_query_strings(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_cuts_long_text_with_a_marker() -> None:
    cut = redact("/" + "a" * 10_000, limit=300)

    assert len(cut) == 300
    assert cut.endswith(CUT)
    assert redact("short", limit=300) == "short"


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    """What the project's stderr handler (settings.LOGGING) writes, instead of writing it."""
    (handler,) = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactFilter) for f in handler.filters) and isinstance(handler, logging.StreamHandler)
    ]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_django_error_record_logs_no_query_string(stderr: io.StringIO) -> None:
    request = RequestFactory().get(f"/api/u/tasks/?token={SECRET}")
    try:
        raise ValueError(f"failed on {request.get_full_path()}")
    except ValueError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.get_full_path(),
            extra={"status_code": 500, "request": request},
            exc_info=True,
        )

    output = stderr.getvalue()
    record = json.loads(output)
    assert SECRET not in output
    assert record["request"] == "GET /api/u/tasks/"
    assert record["message"] == "Internal Server Error: /api/u/tasks/?…"
    assert "ValueError: failed on /api/u/tasks/?…" in record["exc_info"]


def test_no_log_line_is_longer_than_its_bound(stderr: io.StringIO) -> None:
    path = "/" + "a" * 1_000_000
    logging.getLogger("todo.request").info("request", extra={"method": "GET", "path": path, "status": 404})
    logging.getLogger("gunicorn.error").error("Error handling request %s", path)

    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2
    assert all(len(line) < 2000 for line in lines), [len(line) for line in lines]
    assert json.loads(lines[0])["path"].endswith(CUT)


def test_a_log_call_whose_arguments_do_not_fit_still_logs(stderr: io.StringIO) -> None:
    logging.getLogger("todo.test").warning("two: %s %s", f"/p?token={SECRET}")

    record = json.loads(stderr.getvalue())
    assert record["message"].startswith("two: %s %s")
    assert SECRET not in stderr.getvalue()
