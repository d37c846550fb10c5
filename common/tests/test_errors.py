"""Failures the client cannot cause still answer in the error shape, and leave a traceback in the log."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.views import TaskViewSet


def explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom")


def database_gone(*args: object, **kwargs: object) -> None:
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_is_a_415_that_names_application_json(alice: APIClient, content_type: str) -> None:
    response = alice.generic("POST", f"/api/{ALICE}/tasks/", "title=Buy milk", content_type=content_type)

    assert response.status_code == 415
    error = response.json()["errors"][0]
    assert error["code"] == "unsupported_media_type"
    assert '"Content-Type: application/json"' in error["detail"]


def test_an_unhandled_exception_is_a_json_500_with_its_traceback_logged(
    alice: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(TaskViewSet, "list", explode)
    alice.raise_request_exception = False  # answer as a server would, instead of re-raising in the test

    with caplog.at_level(logging.ERROR):
        response = alice.get(f"/api/{ALICE}/tasks/")

    assert response.status_code == 500
    assert response.json() == {
        "type": "server_error",
        "errors": [{"code": "error", "detail": "Server Error (500)", "attr": None}],
    }
    [record] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert record.name == "django.request"
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)


def test_a_lost_database_connection_is_a_503_to_retry(alice: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TaskViewSet, "get_queryset", database_gone)
    alice.raise_request_exception = False

    response = alice.get(f"/api/{ALICE}/tasks/")

    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "service_unavailable"


def test_too_many_query_parameters_is_a_json_400(alice: APIClient) -> None:
    # Past DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000), yet within API_MAX_QUERY_STRING.
    query = "&".join(["p"] * 1001)

    response = alice.get(f"/api/{ALICE}/tasks/?{query}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"
