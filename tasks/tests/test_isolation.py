"""Bob must have no access to Alice's tasks, whatever route, method or id he tries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from conftest import ALICE, BOB, client_for
from tasks.models import Task

ROUTES = [
    ("get", "/api/{user}/tasks/"),
    ("post", "/api/{user}/tasks/"),
    ("get", "/api/{user}/tasks/{id}/"),
    ("put", "/api/{user}/tasks/{id}/"),
    ("patch", "/api/{user}/tasks/{id}/"),
    ("delete", "/api/{user}/tasks/{id}/"),
    ("patch", "/api/{user}/tasks/{id}/complete/"),
    ("post", "/api/{user}/tasks/{id}/move/"),
]
BODY = {"title": "Bob was here", "completed": True}
# What each action takes: another body would be refused before the task is looked for.
ACTION_BODIES = {"complete/": {"completed": True}, "move/": {"before": 1}}


@pytest.fixture
def alices_task(make_task: Callable[..., Task]) -> Task:
    return make_task(user_id=ALICE, title="Alice's secret plan", description="for Alice's eyes only")


def snapshot() -> list[dict]:
    return [model_to_dict(task) | {"updated_at": task.updated_at} for task in Task.objects.order_by("pk")]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_a_path_user_other_than_the_tokens_is_forbidden(
    bob: APIClient, alices_task: Task, method: str, route: str
) -> None:
    before = snapshot()

    response = getattr(bob, method)(route.format(user=ALICE, id=alices_task.id), BODY)

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert "secret plan" not in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(("method", "route"), [route for route in ROUTES if "{id}" in route[1]])
def test_another_users_task_id_is_not_found_under_your_own_path(
    bob: APIClient, alices_task: Task, method: str, route: str
) -> None:
    before = snapshot()

    body = next((taken for action, taken in ACTION_BODIES.items() if route.endswith(action)), BODY)

    response = getattr(bob, method)(route.format(user=BOB, id=alices_task.id), body)

    assert response.status_code == 404
    assert "secret plan" not in response.content.decode()
    assert snapshot() == before


def test_lists_never_show_another_users_tasks(
    alice: APIClient, bob: APIClient, alices_task: Task, make_task: Callable[..., Task]
) -> None:
    bobs_task = make_task(user_id=BOB, title="Bob's list")

    body = bob.get(f"/api/{BOB}/tasks/?search=secret").json()
    assert body["count"] == 0
    body = bob.get(f"/api/{BOB}/tasks/").json()
    assert [task["id"] for task in body["results"]] == [bobs_task.id]
    assert [task["id"] for task in alice.get(f"/api/{ALICE}/tasks/").json()["results"]] == [alices_task.id]


def test_a_user_id_that_only_differs_in_case_is_another_user(db: None, alices_task: Task) -> None:
    shouting = client_for(ALICE.upper())

    assert shouting.get(f"/api/{ALICE}/tasks/").status_code == 403
    assert shouting.get(f"/api/{ALICE.upper()}/tasks/").json()["count"] == 0


def test_the_one_task_read_finds_only_the_owners_live_task(db: None, alices_task: Task) -> None:
    # Task.objects.one_of runs SQL the ORM wrote once, for other users and ids than this test's: it must still say
    # of() exactly, with this call's values in their places.
    assert Task.objects.one_of(ALICE, alices_task.pk) == alices_task
    assert Task.objects.one_of(ALICE, str(alices_task.pk)).title == "Alice's secret plan"
    assert Task.objects.one_of(BOB, alices_task.pk) is None
    assert Task.objects.one_of(ALICE, alices_task.pk + 1) is None

    Task.objects.filter(pk=alices_task.pk).update(deleted_at=alices_task.created_at)

    assert Task.objects.one_of(ALICE, alices_task.pk) is None
