"""The trash: deleted tasks listed with ?deleted=true and brought back by POST …/restore/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks import services
from tasks.conditional import etag_for
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"
TRASH = f"{BASE}?deleted=true"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def deleted_task(make_task: Callable[..., Task], **fields: Any) -> Task:
    task = make_task(**fields)
    services.task_soft_delete(tasks=Task.objects.filter(pk=task.pk))
    task.refresh_from_db()
    return task


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()["results"]]


def test_the_trash_lists_deleted_tasks_and_no_live_ones(alice: APIClient, make_task: Callable[..., Task]) -> None:
    live = make_task(title="live")
    deleted = deleted_task(make_task, title="deleted")

    assert ids(alice.get(TRASH)) == [deleted.id]
    assert ids(alice.get(f"{BASE}?deleted=false")) == [live.id]
    assert ids(alice.get(BASE)) == [live.id]


def test_a_deleted_task_shows_when_it_was_deleted_and_a_live_one_null(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    live = make_task()
    deleted = deleted_task(make_task)

    [in_trash] = alice.get(TRASH).json()["results"]
    assert in_trash["deleted_at"] == deleted.deleted_at.isoformat().replace("+00:00", "Z")
    assert alice.get(f"{BASE}{live.id}/").json()["deleted_at"] is None


def test_bobs_trash_never_shows_alices_deleted_tasks(
    alice: APIClient, bob: APIClient, make_task: Callable[..., Task]
) -> None:
    alices = deleted_task(make_task, user_id=ALICE)
    bobs = deleted_task(make_task, user_id=BOB)

    assert ids(bob.get(f"/api/{BOB}/tasks/?deleted=true")) == [bobs.id]
    assert ids(alice.get(TRASH)) == [alices.id]
    assert bob.get(TRASH).status_code == 403


def test_the_trash_takes_the_lists_filters_search_ordering_and_paging(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    milk = deleted_task(make_task, title="Buy milk", completed=True)
    taxes = deleted_task(make_task, title="File taxes")
    deleted_task(make_task, title="Buy bread")
    make_task(title="Buy milk too, but live")

    assert ids(alice.get(f"{TRASH}&completed=true")) == [milk.id]
    assert ids(alice.get(f"{TRASH}&search=milk")) == [milk.id]
    assert ids(alice.get(f"{TRASH}&ordering=title&limit=2&offset=1")) == [milk.id, taxes.id]
    assert alice.get(f"{TRASH}&limit=1").json()["count"] == 3


def test_a_deleted_task_is_not_found_by_its_url(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = deleted_task(make_task)

    assert alice.get(f"{BASE}{task.id}/").status_code == 404
    assert alice.patch(f"{BASE}{task.id}/", {"title": "Back?"}).status_code == 404


def test_restore_brings_a_task_back_with_its_etag(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task(title="Keep me", tags=["work"])
    assert alice.delete(f"{BASE}{task.id}/").status_code == 204

    response = alice.post(f"{BASE}{task.id}/restore/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["title"], body["tags"], body["deleted_at"]) == (task.id, "Keep me", ["work"], None)
    task.refresh_from_db()
    assert task.deleted_at is None
    assert response["ETag"] == etag_for(task)
    assert body == alice.get(f"{BASE}{task.id}/").json()
    assert ids(alice.get(BASE)) == [task.id] and ids(alice.get(TRASH)) == []


def test_restore_stamps_the_change(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = deleted_task(make_task)
    deleted_at, version = task.deleted_at, task.version

    body = alice.post(f"{BASE}{task.id}/restore/").json()

    task.refresh_from_db()
    assert task.updated_at > deleted_at and task.version == version + 1
    assert body["updated_at"] == task.updated_at.isoformat().replace("+00:00", "Z")


def test_restoring_a_live_task_is_a_404_as_it_is_not_in_the_trash(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    version = task.version

    response = alice.post(f"{BASE}{task.id}/restore/")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    task.refresh_from_db()
    assert task.version == version


def test_bob_cannot_restore_alices_task(bob: APIClient, alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = deleted_task(make_task, user_id=ALICE)

    assert bob.post(f"/api/{BOB}/tasks/{task.id}/restore/").status_code == 404
    assert bob.post(f"{BASE}{task.id}/restore/").status_code == 403
    task.refresh_from_db()
    assert task.deleted_at is not None
    assert ids(alice.get(TRASH)) == [task.id]


def test_restore_with_a_stale_if_match_is_a_412_and_restores_nothing(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    stale = etag_for(task)
    alice.delete(f"{BASE}{task.id}/")

    response = alice.post(f"{BASE}{task.id}/restore/", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    task.refresh_from_db()
    assert task.deleted_at is not None


def test_restore_with_the_current_if_match_restores(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = deleted_task(make_task)

    response = alice.post(f"{BASE}{task.id}/restore/", HTTP_IF_MATCH=etag_for(task))

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.deleted_at is None


def test_restore_with_a_malformed_if_match_is_a_400(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = deleted_task(make_task)

    response = alice.post(f"{BASE}{task.id}/restore/", HTTP_IF_MATCH="17-3")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_if_match"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_restore_takes_only_post(alice: APIClient, make_task: Callable[..., Task], method: str) -> None:
    task = deleted_task(make_task)

    assert getattr(alice, method)(f"{BASE}{task.id}/restore/").status_code == 405


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_one_users_trash_reads_its_own_index(db: None) -> None:
    Task.objects.bulk_create(Task(user_id=f"user-{n % 5}", title=f"task {n}") for n in range(10_000))
    Task.objects.filter(id__in=Task.objects.order_by("id").values("id")[:2000]).update(deleted_at=LONG_AGO)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")

    plan = Task.objects.deleted().owned_by("user-2").order_by("-created_at", "-id")[:50].explain()

    assert "task_user_deleted_idx" in plan and "Sort" not in plan, plan
