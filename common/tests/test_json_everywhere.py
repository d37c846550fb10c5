"""Every route outside the admin's HTML pages answers in JSON: OPTIONS, wrong methods, CSRF failures, the docs'
own errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.models import Task

DOCS = ["/api/schema/", "/api/docs/", "/api/redoc/"]
PROBES = ["/health", "/ready"]


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == code


def allowed(response: Any) -> set[str]:
    return {method.strip() for method in response["Allow"].split(",")}


@pytest.mark.parametrize(
    ("route", "methods"),
    [
        ("", {"GET", "POST", "HEAD", "OPTIONS"}),
        ("/{id}/", {"GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}),
        ("/{id}/complete/", {"PATCH", "OPTIONS"}),
        ("/{id}/restore/", {"POST", "OPTIONS"}),
        ("/{id}/move/", {"POST", "OPTIONS"}),
    ],
)
def test_options_on_a_task_route_lists_its_methods_without_touching_the_database(
    alice: APIClient,
    make_task: Callable[..., Task],
    django_assert_num_queries: Any,
    route: str,
    methods: set[str],
) -> None:
    path = f"/api/{ALICE}/tasks" + route.format(id=make_task().id)

    with django_assert_num_queries(0):
        response = alice.options(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert allowed(response) == methods
    assert "actions" not in response.json()


@pytest.mark.parametrize("path", DOCS)
def test_options_on_the_docs_lists_their_methods_in_json(db: None, client: Client, path: str) -> None:
    response = client.options(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert allowed(response) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete", "trace"])
@pytest.mark.parametrize("path", PROBES)
def test_the_probes_refuse_other_methods_with_a_json_405(
    db: None, client: Client, django_assert_num_queries: Any, path: str, method: str
) -> None:
    # The test client skips the CSRF check, as a request carrying a valid CSRF token would pass it.
    with django_assert_num_queries(0):
        response = getattr(client, method)(path)

    assert_error(response, 405, "method_not_allowed")
    assert allowed(response) == {"GET", "HEAD"}


@pytest.mark.parametrize("path", PROBES)
def test_a_csrf_failure_outside_the_admin_is_a_json_403(db: None, path: str) -> None:
    response = Client(enforce_csrf_checks=True).post(path)

    assert_error(response, 403, "permission_denied")
    assert "CSRF" in response.json()["errors"][0]["detail"]


def test_a_csrf_failure_in_the_admin_keeps_djangos_page(db: None) -> None:
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a", "password": "b"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"CSRF verification failed" in response.content


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"method": "get", "data": {"format": "xml"}}, 404, "not_found"),
        ({"method": "get", "HTTP_ACCEPT": "application/xml"}, 406, "not_acceptable"),
        ({"method": "post"}, 405, "method_not_allowed"),
        ({"method": "delete"}, 405, "method_not_allowed"),
    ],
    ids=["unknown-format", "unacceptable-accept", "post", "delete"],
)
def test_errors_of_the_docs_are_json(
    db: None, client: Client, path: str, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    kwargs = dict(request_kwargs)
    response = getattr(client, kwargs.pop("method"))(path, **kwargs)

    assert_error(response, status, code)
