"""Bad input gets a 4xx JSON error that names the problem, and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.datetimes import DATE_TIME_PATTERN
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"


def errors(response: Any) -> dict[str, str]:
    return {error["attr"]: error["code"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "title", "required"),
        ({"title": ""}, "title", "blank"),
        ({"title": "   "}, "title", "blank"),
        ({"title": None}, "title", "null"),
        ({"title": "x" * 201}, "title", "max_length"),
        ({"title": 42}, "title", "invalid"),
        ({"title": True}, "title", "invalid"),
        ({"title": {"text": "x"}}, "title", "invalid"),
        ({"title": ["x"]}, "title", "invalid"),
        ({"title": "nul\x00byte"}, "title", "null_characters_not_allowed"),
        ({"title": "ok", "description": "x" * 1001}, "description", "max_length"),
        ({"title": "ok", "description": None}, "description", "null"),
        ({"title": "ok", "description": "a\x00b"}, "description", "null_characters_not_allowed"),
        ({"title": "ok", "completed": "true"}, "completed", "invalid"),
        ({"title": "ok", "completed": 1}, "completed", "invalid"),
        ({"title": "ok", "completed": None}, "completed", "null"),
        ({"title": "ok", "priority": "urgent"}, "priority", "invalid_choice"),
        ({"title": "ok", "priority": "HIGH"}, "priority", "invalid_choice"),
        ({"title": "ok", "priority": 3}, "priority", "invalid_choice"),
        ({"title": "ok", "priority": ["high"]}, "priority", "invalid_choice"),
        ({"title": "ok", "due_date": "tomorrow"}, "due_date", "invalid"),
        ({"title": "ok", "due_date": "2026-02-30T10:00:00Z"}, "due_date", "invalid"),
        ({"title": "ok", "due_date": 1767225600}, "due_date", "invalid"),
        ({"title": "ok", "due_date": "9999-12-31T23:59:59-23:00"}, "due_date", "out_of_range"),
        ({"title": "ok", "due_date": "0001-01-01T00:03:28+01:00"}, "due_date", "out_of_range"),
        ({"title": "ok", "due_date": "0001-06-01T00:00:00Z"}, "due_date", "out_of_range"),
        ({"title": "ok", "due_date": "0002-01-01T00:00:00+23:59"}, "due_date", "out_of_range"),
        ({"title": "ok", "due_date": "9998-12-31T23:59:59-01:00"}, "due_date", "out_of_range"),
        ({"title": "ok", "due_date": "9999-01-01T00:00:00Z"}, "due_date", "out_of_range"),
    ],
)
def test_an_invalid_field_is_a_400_naming_it(alice: APIClient, body: dict, field: str, code: str) -> None:
    response = alice.post(BASE, body)

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert errors(response).get(field) == code
    assert not Task.objects.exists()


def test_an_invalid_priority_lists_the_valid_ones(alice: APIClient) -> None:
    response = alice.post(BASE, {"title": "ok", "priority": "urgent"})

    assert response.json()["errors"][0]["detail"] == '"urgent" is not one of low, medium, high.'


def test_title_and_description_may_be_as_long_as_the_limits(alice: APIClient) -> None:
    response = alice.post(BASE, {"title": "t" * 200, "description": "d" * 1000})

    assert response.status_code == 201
    assert len(response.json()["title"]) == 200
    assert len(response.json()["description"]) == 1000


@pytest.mark.parametrize(
    ("due_date", "stored"),
    [
        ("0002-01-01T00:00:00Z", "0002-01-01T00:00:00Z"),
        ("0002-01-01T00:00:00-23:59", "0002-01-01T23:59:00Z"),
        ("9990-06-15T12:00:00Z", "9990-06-15T12:00:00Z"),
        ("9998-12-31T23:59:59+05:00", "9998-12-31T18:59:59Z"),
        ("9998-12-31T23:59:59.999999Z", "9998-12-31T23:59:59.999999Z"),
    ],
)
def test_due_dates_across_the_whole_documented_range_are_taken(alice: APIClient, due_date: str, stored: str) -> None:
    response = alice.post(BASE, {"title": "ok", "due_date": due_date})

    assert response.status_code == 201, response.json()
    assert response.json()["due_date"] == stored


def test_the_schema_pattern_takes_exactly_the_years_0002_to_9998() -> None:
    taken = [year for year in range(10000) if re.match(DATE_TIME_PATTERN, f"{year:04d}-01-01T00:00:00Z")]

    assert taken == list(range(2, 9999))


def test_a_naive_due_date_is_taken_as_utc(alice: APIClient) -> None:
    response = alice.post(BASE, {"title": "ok", "due_date": "2026-12-01T09:30:00"})

    assert response.json()["due_date"] == "2026-12-01T09:30:00Z"


def test_an_invalid_update_changes_nothing(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task(title="Before")

    response = alice.patch(f"{BASE}{task.id}/", {"title": "After", "priority": "extreme"})

    assert response.status_code == 400
    task.refresh_from_db()
    assert task.title == "Before"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"title": "unterminated', "application/json", 400, "parse_error"),
        (b'{"title": "lone \\ud800 surrogate"}', "application/json", 400, "unpaired_surrogate"),
        (b'{"title": NaN}', "application/json", 400, "parse_error"),
        (b"\xff\xfe\xfa", "application/json", 400, "parse_error"),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", 413, "request_too_large"),
        (b"[" * 20_000 + b"]" * 20_000, "application/json", 400, "parse_error"),
        (b'[{"title": "in an array"}]', "application/json", 400, "invalid"),
        (b'"just a string"', "application/json", 400, "invalid"),
        (b"title=form", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"<task/>", "application/xml", 415, "unsupported_media_type"),
        (b'{"title": "x"}', "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    alice: APIClient, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = alice.generic("POST", BASE, body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code
    assert not Task.objects.exists()


def test_a_3_mb_body_is_refused_with_413(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task(title="Before")
    body = b'{"title": "' + b"x" * 3_000_000 + b'"}'

    for method, url in (("POST", BASE), ("PUT", f"{BASE}{task.id}/"), ("PATCH", f"{BASE}{task.id}/")):
        response = alice.generic(method, url, body, content_type="application/json")
        assert response.status_code == 413
        assert response.json()["errors"][0]["code"] == "request_too_large"

    task.refresh_from_db()
    assert task.title == "Before"
    assert Task.objects.count() == 1


@pytest.mark.parametrize("field", ["title", "description"])
def test_a_long_run_of_blanks_is_too_long_not_quietly_emptied(alice: APIClient, field: str) -> None:
    response = alice.post(BASE, {"title": "ok", field: "\r" * 1001})

    assert response.status_code == 400
    assert errors(response) == {field: "max_length"}
    assert not Task.objects.exists()
