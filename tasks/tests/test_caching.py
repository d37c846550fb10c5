"""Every answer of the task routes is kept out of shared caches, and revalidated before the browser reuses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import ALICE, BOB, client_for
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks"
ORIGIN = "https://app.example.com"


def directives(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(",")}


@pytest.fixture
def task(make_task: Callable[..., Task]) -> Task:
    return make_task()


@pytest.mark.parametrize(
    ("who", "method", "route", "body", "headers", "status"),
    [
        (ALICE, "get", "/", None, {}, 200),
        (ALICE, "post", "/", {"title": "New"}, {}, 201),
        (ALICE, "post", "/", {"title": ""}, {}, 400),
        (ALICE, "get", "/{id}/", None, {}, 200),
        (ALICE, "get", "/{id}/", None, {"HTTP_IF_NONE_MATCH": "*"}, 304),
        (ALICE, "patch", "/{id}/", {"title": "Changed"}, {}, 200),
        (ALICE, "patch", "/{id}/", {"title": "Changed"}, {"HTTP_IF_MATCH": '"stale"'}, 412),
        (ALICE, "patch", "/{id}/complete/", {}, {}, 200),
        (ALICE, "delete", "/{id}/", None, {}, 204),
        (ALICE, "get", "/999999/", None, {}, 404),
        (ALICE, "post", "/{id}/", None, {}, 405),
        (ALICE, "options", "/{id}/", None, {}, 200),
        (BOB, "get", "/", None, {}, 403),
        (None, "get", "/", None, {}, 401),
    ],
)
def test_every_answer_of_the_task_routes_is_private_and_revalidated(
    db: None, task: Task, settings: Any, who: str | None, method: str, route: str, body: Any, headers: dict, status: int
) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    client = client_for(who) if who else APIClient()

    response = getattr(client, method)(f"{BASE}{route.format(id=task.id)}", body, HTTP_ORIGIN=ORIGIN, **headers)

    assert response.status_code == status
    assert directives(response["Cache-Control"]) == {"private", "no-cache"}
    assert {"authorization", "origin"} <= directives(response["Vary"])
