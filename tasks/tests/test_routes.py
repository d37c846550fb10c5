"""Every route of the task API, as the owner uses it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import ALICE, client_for
from tasks import services
from tasks.models import Priority, Task

BASE = f"/api/{ALICE}/tasks"


@pytest.fixture(params=["/", ""], ids=["slash", "no-slash"])
def slash(request: pytest.FixtureRequest) -> str:
    return request.param


def test_list_returns_the_users_live_tasks_newest_first(
    alice: APIClient, make_task: Callable[..., Task], slash: str
) -> None:
    older = make_task(title="older")
    newer = make_task(title="newer")
    services.tasks_soft_delete(tasks=Task.objects.filter(pk=make_task(title="deleted").pk))

    response = alice.get(f"{BASE}{slash}")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None and body["previous"] is None
    assert [task["id"] for task in body["results"]] == [newer.id, older.id]


def test_create_returns_the_task_with_its_location(alice: APIClient, slash: str) -> None:
    response = alice.post(
        f"{BASE}{slash}",
        {
            "title": "  Buy milk  ",
            "description": "2 litres",
            "priority": "high",
            "due_date": "2026-12-01T09:30:00+02:00",
        },
    )

    assert response.status_code == 201
    task = response.json()
    assert task["title"] == "Buy milk"
    assert task["description"] == "2 litres"
    assert task["priority"] == "high"
    assert task["completed"] is False
    assert task["due_date"] == "2026-12-01T07:30:00Z"
    assert task["user_id"] == ALICE
    assert task["created_at"].endswith("Z") and task["updated_at"].endswith("Z")
    assert set(task) == {
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "priority",
        "due_date",
        "tags",
        "created_at",
        "updated_at",
        "completed_at",
        "deleted_at",
        "parent_id",
        "subtasks_open",
        "subtasks_total",
        "recurrence",
        "timezone",
        "completions",
        "position",
        "version",
    }
    assert task["completed_at"] is None and task["deleted_at"] is None and task["version"] == 1
    assert task["parent_id"] is None and task["subtasks_open"] == task["subtasks_total"] == 0
    # With its trailing slash, as every URL the API documents and gives, whichever form the request used.
    assert response["Location"] == f"http://testserver{BASE}/{task['id']}/"
    assert alice.get(response["Location"]).json() == task


def test_create_applies_the_defaults(alice: APIClient) -> None:
    task = alice.post(f"{BASE}/", {"title": "Only a title"}).json()

    assert (task["description"], task["completed"], task["priority"], task["due_date"], task["tags"]) == (
        "",
        False,
        "medium",
        None,
        [],
    )


def test_create_ignores_the_client_sent_id_owner_and_timestamps(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    existing = make_task()
    response = alice.post(
        f"{BASE}/",
        {
            "title": "Mine",
            "id": existing.id,
            "user_id": "mallory",
            "created_at": "2000-01-01T00:00:00Z",
            "updated_at": "2000-01-01T00:00:00Z",
            "deleted_at": "2000-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 201
    task = Task.objects.get(pk=response.json()["id"])
    assert task.pk != existing.pk
    assert task.user_id == ALICE
    assert task.created_at.year > 2000 and task.updated_at.year > 2000
    assert task.deleted_at is None
    assert not Task.objects.filter(user_id="mallory").exists()


def test_retrieve_returns_one_task(alice: APIClient, make_task: Callable[..., Task], slash: str) -> None:
    task = make_task(title="Call mum", priority=Priority.LOW)

    response = alice.get(f"{BASE}/{task.id}{slash}")

    assert response.status_code == 200
    assert response.json()["title"] == "Call mum"
    assert response.json()["priority"] == "low"


def test_put_replaces_the_whole_task(alice: APIClient, make_task: Callable[..., Task], slash: str) -> None:
    task = make_task(
        description="old", completed=True, priority=Priority.HIGH, due_date=datetime(2026, 1, 1, tzinfo=UTC)
    )

    response = alice.put(f"{BASE}/{task.id}{slash}", {"title": "New title"})

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["completed"], body["priority"], body["due_date"]) == (
        "New title",
        "",
        False,
        "medium",
        None,
    )
    assert body["updated_at"] > body["created_at"]


def test_put_requires_a_title(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task(title="Keep me")

    response = alice.put(f"{BASE}/{task.id}/", {"description": "no title"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "title"
    task.refresh_from_db()
    assert (task.title, task.description) == ("Keep me", "")


def test_patch_changes_only_the_fields_sent(alice: APIClient, make_task: Callable[..., Task], slash: str) -> None:
    task = make_task(title="Keep", description="keep too", priority=Priority.HIGH)

    response = alice.patch(f"{BASE}/{task.id}{slash}", {"completed": True})

    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.title, task.description, task.priority, task.completed) == ("Keep", "keep too", Priority.HIGH, True)


def test_delete_hides_the_task_but_keeps_the_row(alice: APIClient, make_task: Callable[..., Task], slash: str) -> None:
    task = make_task()

    response = alice.delete(f"{BASE}/{task.id}{slash}")

    assert response.status_code == 204
    assert response.content == b""
    task.refresh_from_db()
    assert task.deleted_at is not None
    assert alice.get(f"{BASE}/{task.id}/").status_code == 404
    assert alice.get(f"{BASE}/").json()["count"] == 0


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_deleted_task_can_be_neither_read_nor_written(
    alice: APIClient, make_task: Callable[..., Task], method: str
) -> None:
    task = make_task(title="Gone")
    services.task_soft_delete(tasks=Task.objects.filter(pk=task.pk))

    response = getattr(alice, method)(f"{BASE}/{task.id}/", {"title": "Back"})

    assert response.status_code == 404
    assert alice.patch(f"{BASE}/{task.id}/complete/").status_code == 404
    task.refresh_from_db()
    assert (task.title, task.completed) == ("Gone", False)


def test_complete_with_an_empty_body_toggles(alice: APIClient, make_task: Callable[..., Task], slash: str) -> None:
    task = make_task()

    first = alice.patch(f"{BASE}/{task.id}/complete{slash}")
    second = alice.patch(f"{BASE}/{task.id}/complete{slash}")

    assert first.status_code == second.status_code == 200
    assert first.json()["completed"] is True
    assert second.json()["completed"] is False
    assert second.json()["title"] == task.title


@pytest.mark.parametrize("completed", [True, False])
def test_complete_with_a_value_sets_it_idempotently(
    alice: APIClient, make_task: Callable[..., Task], completed: bool
) -> None:
    task = make_task(completed=not completed)

    for _ in range(2):
        response = alice.patch(f"{BASE}/{task.id}/complete/", {"completed": completed})
        assert response.status_code == 200
        assert response.json()["completed"] is completed

    task.refresh_from_db()
    assert task.completed is completed


@pytest.mark.parametrize("body", [{"completed": "yes"}, {"completed": None}, {"completed": 1}, ["completed"]])
def test_complete_rejects_a_body_that_is_not_a_boolean(
    alice: APIClient, make_task: Callable[..., Task], body: object
) -> None:
    task = make_task()

    response = alice.patch(f"{BASE}/{task.id}/complete/", body)

    assert response.status_code == 400
    task.refresh_from_db()
    assert task.completed is False


@pytest.mark.parametrize("body", [{"title": "Renamed"}, {"completed": True, "priority": "high"}])
def test_complete_refuses_a_field_it_does_not_take_naming_it(
    alice: APIClient, make_task: Callable[..., Task], body: dict
) -> None:
    task = make_task()

    response = alice.patch(f"{BASE}/{task.id}/complete/", body)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "unknown_field"
    assert f'"{next(name for name in body if name != "completed")}"' in error["detail"]
    task.refresh_from_db()
    assert (task.title, task.completed, task.version) == ("Water the plants", False, 1)


@pytest.mark.parametrize(
    "user_id", ["8c2d2f8e-7a51-4a43-9d1e-2b0c5d1f6e3a", "Vq3ZC8kR1tN0pXyL5mWbA9hJdE2sFgU7", "carol@example.com"]
)
def test_any_front_end_user_id_works_as_the_path_user(db: None, user_id: str) -> None:
    client = client_for(user_id)

    created = client.post(f"/api/{user_id}/tasks/", {"title": "Hello"})

    assert created.status_code == 201
    assert created.json()["user_id"] == user_id
    assert client.get(f"/api/{user_id}/tasks/").json()["count"] == 1


@pytest.mark.parametrize(
    "task_id",
    # The largest id the column holds, one past it, and more digits than Python's int() takes by default.
    ["abc", "-1", "0", "9223372036854775807", "9223372036854775808", "99999999999999999999", "9" * 5000]
    + ["1.5", "1e3", "%00"],
)
def test_odd_task_ids_are_not_found(alice: APIClient, make_task: Callable[..., Task], task_id: str) -> None:
    make_task()

    for method in ("get", "put", "patch", "delete"):
        response = getattr(alice, method)(f"{BASE}/{task_id}/", {"title": "x"})
        assert response.status_code == 404, (method, response.status_code)
        assert response.json()["errors"][0]["code"] == "not_found"


def test_unknown_paths_under_api_get_a_json_404(alice: APIClient) -> None:
    response = alice.get("/api/nowhere/at/all/")

    assert response.status_code == 404
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", ["/api/nowhere/", "/api/nowhere", f"{BASE}/abc/", "/api/"])
def test_unknown_paths_under_api_are_a_json_404_with_debug_on_too(
    alice: APIClient, settings: Any, method: str, path: str
) -> None:
    # make run's DEBUG would otherwise answer Django's HTML technical page.
    settings.DEBUG = True

    response = getattr(alice, method)(path)

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/docs", "/api/redoc", "/api/schema"])
def test_the_docs_without_their_trailing_slash_redirect_to_it(client: Any, db: None, path: str) -> None:
    response = client.get(f"{path}?format=json")

    assert response.status_code == 301
    assert response["Location"] == f"{path}/?format=json"


def test_a_method_a_route_does_not_have_is_a_json_405(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task()

    assert alice.post(f"{BASE}/{task.id}/").status_code == 405
    assert alice.delete(f"{BASE}/").status_code == 405
    response = alice.get(f"{BASE}/{task.id}/complete/")
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "spelling", ["+17", "017", "00017", "1_7", "１７", "%2017", " 17", "17 ", "17%20", "%2B17", "0", "-17"]
)
@pytest.mark.parametrize("route", ["/{id}/", "/{id}", "/{id}/complete/"])
def test_only_the_canonical_spelling_of_a_task_id_reaches_the_task(
    alice: APIClient, make_task: Callable[..., Task], route: str, spelling: str
) -> None:
    make_task(id=17)

    for method in ("get", "head", "options", "put", "patch", "delete"):
        response = getattr(alice, method)(f"{BASE}{route.format(id=spelling)}", {"title": "x"})
        assert response.status_code == 404, (method, response.status_code)
        if method != "head":
            assert response.json()["errors"][0]["code"] == "not_found"
    assert alice.get(f"{BASE}/17/").status_code == 200
    assert Task.objects.get(id=17).title == "Water the plants"
